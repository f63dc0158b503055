"""A study store the viewer cannot write: a read-only file and folder, or a disk that fills up while the
window is open. The window opens (or stays open), says so once in a banner, keeps showing studies,
scores new ones in memory, and a review says it was not saved instead of crashing.

Where file permissions hold, the read-only store is a file and folder without write permission; as
root (who ignores them) it lives on a small tmpfs mount that the test remounts read-only. The full
disk is a small tmpfs mount too, which needs root: elsewhere that test is skipped, except under
``CI=true``, where a test that cannot set its store up fails instead."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from viewer_fakes import entry, make_card, probs_for

from inference.api import Status
from inference.store import ImageResult, Store
from viewer.core.worklist import RowState
from viewer.qt.main_window import MainWindow

NOTICE = "reviews and new results are not kept"


def cannot_set_up(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir()
    try:
        mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    except (OSError, subprocess.CalledProcessError) as exc:
        cannot_set_up(f"cannot mount a tmpfs: {getattr(exc, 'stderr', '') or exc}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill_store(db: Path, studies: int) -> None:
    """``studies`` scored studies of the fake model (as an earlier session left them)."""
    with Store(db) as store:
        entries = [entry(i) for i in range(studies)]
        uids = store.record(entries)
        results = [
            ImageResult(uid, Status.SCORED, probs_for(e.meta.study_uid))
            for uid, e in zip(uids, entries, strict=True)
        ]
        store.save_results(results, make_card().weights_sha256)


def permissions_hold(folder: Path) -> bool:
    """Whether a file without write permission is read-only to this process (not to root)."""
    probe = folder / "probe"
    probe.touch()
    probe.chmod(stat.S_IRUSR)
    try:
        return not os.access(probe, os.W_OK)
    finally:
        probe.unlink()


@pytest.fixture
def read_only_store(tmp_path: Path) -> Iterator[Path]:
    """A store of 4 scored studies whose file and folder cannot be written."""
    if not permissions_hold(tmp_path):
        with tmpfs(tmp_path / "ro", "16m") as folder:
            fill_store(folder / "studies.sqlite", 4)
            try:
                mount("-o", "remount,ro", str(folder))
            except subprocess.CalledProcessError as exc:
                cannot_set_up(f"cannot remount read-only: {exc.stderr}")
            yield folder / "studies.sqlite"
        return
    folder = tmp_path / "ro"
    folder.mkdir()
    fill_store(folder / "studies.sqlite", 4)
    (folder / "studies.sqlite").chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        yield folder / "studies.sqlite"
    finally:
        folder.chmod(stat.S_IRWXU)


@pytest.fixture
def make_window(qtbot, backend, tmp_path):
    """Windows made as ``cxr-triage gui --db FILE`` makes them (fake model); closed after the test."""
    from viewer.gui import create_window

    windows: list[MainWindow] = []

    def make(db: Path) -> MainWindow:
        win = create_window(tmp_path / "settings.json", backend=backend, load_model=False, db=db)
        windows.append(win)
        qtbot.addWidget(win)
        win.show()
        with qtbot.waitSignal(win.session.modelLoaded, timeout=5000):
            win.load_model(tmp_path / "fake-package")
        qtbot.waitUntil(lambda: not win.session.busy, timeout=10_000)
        return win

    yield make
    for win in windows:
        win.close()
        assert not win.session.model_thread._thread.is_alive()


def scored(win: MainWindow, count: int) -> bool:
    rows = win.session.worklist_model.worklist.rows
    return not win.session.busy and len(rows) == count and all(r.state is RowState.SCORED for r in rows)


def press(qtbot, win: MainWindow, key: Qt.Key) -> None:
    table = win.worklist.table
    win.activateWindow()
    table.setFocus()
    qtbot.waitUntil(table.hasFocus, timeout=5000)
    qtbot.keyClick(table, key)


def banner(win: MainWindow) -> str:
    """The store's banner as shown ("" while hidden)."""
    label = win.findChild(QLabel, "storeBanner")
    return label.text() if label is not None and label.isVisible() else ""


def stored(db: Path) -> tuple[int, dict, int]:
    """(images, reviews, audit events) as the store file holds them."""
    with Store(db, read_only=True) as store:
        return len(store.images()), store.reviews(), len(store.audit())


def test_a_read_only_store_is_shown_read_only_and_the_window_keeps_working(
    qtbot, make_window, read_only_store, fake_service
):
    before = stored(read_only_store)
    win = make_window(read_only_store)
    session = win.session

    notice = banner(win)
    assert f"The study store {read_only_store} cannot be written: read-only" in notice and NOTICE in notice
    assert session.store is not None and not session.store.writable and not session.store_writable

    # The store's studies are there, ranked, without scoring, and the top-ranked one is shown.
    assert scored(win, 4) and fake_service.predicted == 0
    top = win.worklist.proxy.uid_at(0)
    qtbot.waitUntil(
        lambda: win.image_view.image() is not None and win.display.image_uid == top, timeout=10_000
    )

    # Reviews say they were not saved; nothing crashes and nothing is recorded.
    press(qtbot, win, Qt.Key.Key_A)
    assert "Not saved" in win.statusBar().currentMessage()
    press(qtbot, win, Qt.Key.Key_N)  # the note dialog is not even opened
    assert session.worklist_model.worklist.get(top).review is None

    # A folder still opens: its new studies are scored in memory and ranked with the others.
    win.open_paths([Path("6")])
    qtbot.waitUntil(lambda: scored(win, 6), timeout=10_000)
    press(qtbot, win, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: win.display.image_uid == win.worklist.proxy.uid_at(1), timeout=10_000)
    assert banner(win) == notice
    win.close()
    assert stored(read_only_store) == before


def test_a_store_whose_disk_fills_up_turns_read_only_without_losing_the_worklist(
    qtbot, make_window, tmp_path
):
    with tmpfs(tmp_path / "small", "2m") as folder:
        db = folder / "studies.sqlite"
        win = make_window(db)
        assert banner(win) == ""
        win.open_paths([Path("3")])
        qtbot.waitUntil(lambda: scored(win, 3), timeout=10_000)
        press(qtbot, win, Qt.Key.Key_A)  # the store still has room
        uid = win.worklist.current_uid()
        assert uid is not None and win.session.worklist_model.worklist.get(uid).review is not None

        with contextlib.suppress(OSError), (folder / "filler").open("wb") as filler:
            while True:  # the disk fills up
                filler.write(b"\0" * 65536)
                filler.flush()
        press(qtbot, win, Qt.Key.Key_X)  # the write that fails
        qtbot.waitUntil(lambda: banner(win) != "", timeout=5000)
        qtbot.waitUntil(lambda: not win.session.store_writing, timeout=5000)  # the review's answer too
        notice = banner(win)
        assert "cannot be written" in notice and NOTICE in notice
        assert win.session.worklist_model.worklist.get(uid).review.outcome == "accepted"  # the kept one stays
        assert not win.session.store_writable

        press(qtbot, win, Qt.Key.Key_Backspace)
        assert "Not saved" in win.statusBar().currentMessage()
        win.open_paths([Path("6")])  # indexed and scored in memory, nothing more written
        qtbot.waitUntil(lambda: scored(win, 6), timeout=10_000)
        assert banner(win) == notice
        win.close()
