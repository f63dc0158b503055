"""The viewer on a store whose files ``cxr-triage purge`` removed: the study is still listed from its
stored results, and opening it says the files were purged (and when) instead of failing."""

from __future__ import annotations

from pathlib import Path

from inference.store import Store
from viewer.core.worklist import RowState


def test_a_purged_study_is_listed_and_its_image_pane_says_its_files_were_purged(qtbot, open_window, db):
    first = open_window()
    first.open_paths([Path("2")])
    rows = first.session.worklist_model.worklist.rows
    qtbot.waitUntil(lambda: not first.session.busy and len(rows) == 2 and all(r.result for r in rows))
    first.close()
    with Store(db) as store:
        images = store.images()
        purged_study = images[0].entry.meta.study_uid
        assert not images[0].entry.meta.path.exists()  # the fake studies' files are not there
        when = store.mark_purged([i.image_uid for i in images if i.entry.meta.study_uid == purged_study])

    second = open_window()
    model = second.session.worklist_model
    assert {r.uid for r in model.worklist.rows} == {i.entry.meta.study_uid for i in images}
    assert all(r.state is RowState.SCORED for r in model.worklist.rows)  # from the stored results
    assert second.worklist.select_uid(purged_study)
    assert second.worklist.current_uid() == purged_study
    expected = f"Files removed by purge on {when[:10]}."
    qtbot.waitUntil(lambda: expected in second.image_view.message(), timeout=5000)
    assert second.image_view.image() is None
    assert "results, review and audit are kept" in second.image_view.message()

    other = next(r.uid for r in model.worklist.rows if r.uid != purged_study)
    assert second.worklist.select_uid(other)
    qtbot.waitUntil(lambda: second.image_view.image() is not None, timeout=5000)  # the other one shows
