"""Studies arriving live: what another process records in the study store the viewer has open
appears in its worklist without any action of the reader (stored results shown as they are, the
rest scored), and the store says which images arrived after a point."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from viewer_fakes import entry, make_card, probs_for

from inference.store import Store
from viewer.core.settings import Settings
from viewer.core.worklist import RowState
from viewer.qt.main_window import MainWindow
from viewer.qt.session import TriageSession

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from inference.api import ImageMeta, ScanEntry, Status
    from inference.store import ImageResult, Store

    def scan_row(n):
        return ScanEntry(ImageMeta(path=Path(f"/pacs/arrived{n}.dcm"), study_uid=f"9.9.{n}"))

    with Store(sys.argv[1]) as store:
        scored, unscored = scan_row(1), scan_row(2)
        uids = store.record([scored, unscored], source="dimse")
        store.save_results(
            [ImageResult(uids[0], Status.SCORED, {"Effusion": 0.987})], sys.argv[2], precision="fp32"
        )
    """
)


def test_the_store_lists_the_images_recorded_after_a_point(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        assert store.last_image_seq() == 0
        store.record([entry(1), entry(2)])
        mark = store.last_image_seq()
        assert store.images_since(mark) == (mark, [])
        store.record([entry(3)])
        last, images = store.images_since(mark)
        assert last > mark
        assert [image.entry.meta.study_uid for image in images] == ["1.2.3"]
        store.archive(["1.2.3"])
        assert store.images_since(mark)[1] == []


def test_a_study_another_process_writes_to_the_store_appears_in_the_open_window(
    qtbot, backend, fake_service, tmp_path: Path
) -> None:
    db = tmp_path / "studies.sqlite"
    session = TriageSession(backend, store=Store(db))
    win = MainWindow(session, Settings(path=tmp_path / "settings.json"))
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(session.modelLoaded, timeout=5000):
            win.load_model(tmp_path / "fake-package")
        qtbot.waitUntil(lambda: not session.busy, timeout=5000)
        assert len(session.worklist_model.worklist) == 0
        sha = make_card().weights_sha256
        subprocess.run([sys.executable, "-c", WRITER, str(db), sha], check=True, timeout=120)

        worklist = session.worklist_model.worklist

        def both_finished() -> bool:
            rows = [worklist.get("9.9.1"), worklist.get("9.9.2")]
            return all(row is not None and row.state is RowState.SCORED for row in rows)

        qtbot.waitUntil(both_finished, timeout=20_000)  # a poll every 2.5 s; no user action
        assert worklist.get("9.9.1").probabilities["Effusion"] == 0.987  # the other process's result
        assert worklist.get("9.9.2").probabilities == probs_for("9.9.2")  # scored here
        assert win.worklist.proxy.rowCount() == 2
    finally:
        win.close()
    assert not session.watcher._timer.isActive()


def test_arrivals_wait_while_the_store_is_being_reread(qtbot, backend, tmp_path: Path) -> None:
    """Offered during a re-read of the store, arrivals are refused and offered again after it."""
    session = TriageSession(backend, store=Store(tmp_path / "s.sqlite"))
    try:
        session._store_access._reload_worker = object()  # type: ignore[assignment]  # a re-read under way
        assert session._take_arrivals([entry(1)]) is False
        assert len(session.worklist_model.worklist) == 0
        session._store_access._reload_worker = None
        assert session._take_arrivals([entry(1)]) is True
        assert session.worklist_model.worklist.get("1.2.1") is not None
    finally:
        session.close()
