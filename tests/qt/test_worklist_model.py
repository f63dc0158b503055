"""The worklist table model and its filter proxy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt
from viewer_fakes import LABELS, entry, result

from inference.api import Status
from inference.store import Review
from viewer.core.worklist import RowState
from viewer.core.worklist_columns import Column
from viewer.qt.worklist_model import HIDDEN, UID_ROLE, WorklistModel
from viewer.qt.worklist_proxy import WorklistProxy

THRESHOLDS = dict.fromkeys(LABELS, 0.5)


def scored_model(n: int = 20) -> tuple[WorklistModel, list]:
    model = WorklistModel()
    model.set_thresholds(THRESHOLDS)
    entries = [entry(i) for i in range(n)]
    model.add_entries(entries)
    model.apply_results([result(e) for e in entries])
    return model, entries


def proxy_for(model: WorklistModel) -> WorklistProxy:
    proxy = WorklistProxy()
    proxy.setSourceModel(model)
    return proxy


def column(model, col: Column) -> list[str]:
    return [model.index(r, col).data() for r in range(model.rowCount())]


def test_model_passes_qt_model_tester(qtmodeltester):
    model, _ = scored_model(30)
    model.add_entries(
        [entry(100, Status.ERROR, "corrupt file"), entry(101, Status.NOT_SCORED, "lateral view")]
    )
    qtmodeltester.check(model)


def test_proxy_passes_qt_model_tester(qtmodeltester):
    model, _ = scored_model(30)
    proxy = proxy_for(model)
    proxy.set_finding_filter(LABELS[0])
    qtmodeltester.check(proxy)
    proxy.set_finding_filter(None)
    proxy.set_text_filter("pid0001")
    qtmodeltester.check(proxy)


def test_rows_are_in_risk_order_by_default():
    model, _ = scored_model(40)
    ranks = [int(r) for r in column(model, Column.RANK)]
    assert ranks == sorted(ranks) == list(range(1, 41))
    risks = [model.row_at(r).risk for r in range(model.rowCount())]
    assert risks == sorted(risks, reverse=True)


def test_every_column_sorts_both_ways():
    model, _ = scored_model(25)
    proxy = proxy_for(model)
    for col in Column:
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            proxy.sort(int(col), order)
            keys = [model.worklist.rows[r] for r in range(model.rowCount())]
            assert keys == model.worklist.sorted_order(col, order == Qt.SortOrder.DescendingOrder)
    proxy.sort(int(Column.PROBABILITY), Qt.SortOrder.DescendingOrder)
    probs = [float(p) for p in column(model, Column.PROBABILITY)]
    assert probs == sorted(probs, reverse=True)


def test_sort_keeps_selection_on_the_same_study(qtbot):
    from PySide6.QtWidgets import QTableView

    model, _ = scored_model(10)
    proxy = proxy_for(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.selectRow(3)
    uid = proxy.uid_at(3)
    proxy.sort(int(Column.PATIENT), Qt.SortOrder.DescendingOrder)
    current = view.selectionModel().currentIndex()
    assert current.data(UID_ROLE) == uid


def test_filter_by_finding_keeps_only_positive_studies():
    model, _ = scored_model(40)
    proxy = proxy_for(model)
    proxy.set_finding_filter("Effusion")
    assert 0 < proxy.rowCount() < model.rowCount()
    for r in range(proxy.rowCount()):
        row = model.worklist.get(proxy.uid_at(r))
        assert row.probabilities["Effusion"] >= 0.5
    proxy.set_finding_filter(None)
    assert proxy.rowCount() == model.rowCount()


def test_text_search_matches_ids_and_findings_but_not_hidden_ids():
    model, _ = scored_model(30)
    proxy = proxy_for(model)
    proxy.set_text_filter("PID00007")
    assert proxy.rowCount() == 1
    model.set_deidentify(True)
    proxy.refilter()
    assert proxy.rowCount() == 0  # hidden identifiers are not searchable either
    proxy.set_text_filter("cardiomegaly")
    assert proxy.rowCount() > 0


def test_threshold_change_reranks_and_reflags():
    model, _ = scored_model(30)
    flagged_before = sum(1 for r in model.worklist.rows if r.flagged)
    layouts = []
    model.layoutChanged.connect(lambda *a: layouts.append(1))
    model.set_thresholds(dict.fromkeys(LABELS, 0.95))
    assert sum(1 for r in model.worklist.rows if r.flagged) < flagged_before
    assert len(layouts) <= 1  # one re-sort, not one per row
    # Lowering one label's threshold puts its strongest study on top.
    model.set_thresholds({**dict.fromkeys(LABELS, 0.99), "Effusion": 0.01})
    top = model.row_at(0)
    assert top.rank == 1 and top.positives and top.positives[0] == "Effusion"
    assert top.probabilities["Effusion"] == max(r.probabilities["Effusion"] for r in model.worklist.rows)


def test_phi_toggle_hides_patient_id_accession_and_file_name():
    model, _ = scored_model(5)
    assert column(model, Column.PATIENT)[0].startswith("PID")
    files = column(model, Column.FILE)
    assert files == [model.row_at(i).meta.path.name for i in range(5)] and all(files)
    model.set_deidentify(True)
    assert set(column(model, Column.PATIENT)) == {HIDDEN}
    assert set(column(model, Column.ACCESSION)) == {HIDDEN}
    assert set(column(model, Column.FILE)) == {HIDDEN}
    model.set_deidentify(False)
    assert column(model, Column.PATIENT)[0].startswith("PID")


def test_status_column_shows_every_state():
    model = WorklistModel()
    model.set_thresholds(THRESHOLDS)
    es = [
        entry(0),
        entry(1),
        entry(2, Status.ERROR, "corrupt file"),
        entry(3, Status.NOT_SCORED, "lateral view"),
    ]
    model.add_entries(es)
    model.set_scoring([es[1].meta.study_uid])
    texts = {model.row_at(r).uid: model.index(r, Column.STATUS).data() for r in range(4)}
    assert texts[es[0].meta.study_uid] == "queued"
    assert texts[es[1].meta.study_uid] == "scoring"
    assert texts[es[2].meta.study_uid] == "error: corrupt file"
    assert texts[es[3].meta.study_uid] == "not scored: lateral view"
    model.apply_results([result(es[0])])
    model.set_review(
        es[0].meta.study_uid, Review(es[0].meta.study_uid, "accepted", "fine", "ann", "2026-01-01")
    )
    r = model.row_of(es[0].meta.study_uid)
    assert model.index(r, Column.STATUS).data() == "scored"
    assert model.index(r, Column.REVIEW).data() == "accepted ✎"  # a note goes with it
    tip = model.index(r, Column.REVIEW).data(Qt.ItemDataRole.ToolTipRole)
    assert "Accepted by ann" in tip and "fine" in tip


def test_ten_thousand_rows_arrive_in_batches_without_per_row_resorts(qtbot):
    from PySide6.QtWidgets import QTableView

    model = WorklistModel()
    model.set_thresholds(THRESHOLDS)
    proxy = proxy_for(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(int(Column.RANK), Qt.SortOrder.AscendingOrder)
    counts = {"src_inserts": 0, "src_layouts": 0, "proxy_inserts": 0, "proxy_layouts": 0}
    model.rowsInserted.connect(lambda *a: counts.__setitem__("src_inserts", counts["src_inserts"] + 1))
    model.layoutChanged.connect(lambda *a: counts.__setitem__("src_layouts", counts["src_layouts"] + 1))
    proxy.rowsInserted.connect(lambda *a: counts.__setitem__("proxy_inserts", counts["proxy_inserts"] + 1))
    proxy.layoutChanged.connect(lambda *a: counts.__setitem__("proxy_layouts", counts["proxy_layouts"] + 1))
    entries = [entry(i) for i in range(10_000)]
    batches = [entries[i : i + 500] for i in range(0, len(entries), 500)]
    for batch in batches:
        model.add_entries(batch)
    assert model.rowCount() == proxy.rowCount() == 10_000
    assert counts["src_inserts"] == len(batches)
    assert counts["proxy_inserts"] <= len(batches)
    for batch in batches:
        model.apply_results([result(e) for e in batch])
    assert counts["src_layouts"] <= len(batches) + 1
    assert counts["proxy_layouts"] <= len(batches) + 1
    ranks = [model.row_at(r).rank for r in range(model.rowCount())]
    assert ranks == list(range(1, 10_001))
    assert all(model.row_at(r).state is RowState.SCORED for r in range(0, 10_000, 997))


def test_proxy_never_sorts_itself():
    model, _ = scored_model(10)
    proxy = proxy_for(model)
    proxy.sort(int(Column.PATIENT), Qt.SortOrder.AscendingOrder)
    assert proxy.sortColumn() == -1  # order is the source's; the proxy only filters
    assert isinstance(proxy, QSortFilterProxyModel)


def test_hidden_identifiers_also_leave_file_names_out_of_reasons():
    model = WorklistModel()
    lateral = entry(7, Status.NOT_SCORED, "DOE_JOHN_2.dcm: lateral view")
    meta = dataclasses.replace(lateral.meta, path=Path("/data/DOE_JOHN_2.dcm"))
    model.add_entries([dataclasses.replace(lateral, meta=meta)])
    status = model.index(0, Column.STATUS)
    assert "DOE_JOHN" in status.data()
    model.set_deidentify(True)
    assert status.data() == "not scored: image 1: lateral view"
    assert "DOE" not in status.data(Qt.ItemDataRole.ToolTipRole)
