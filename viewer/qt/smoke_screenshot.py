"""``cxr-triage gui --smoke-screenshot PNG``: the viewer run as usual until it is ready, the window saved
as a PNG, then quit (installers and CI check an installation with it)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_SMOKE_FAILED = 1  # no model, scoring stopped, PNG not written, time limit


def smoke_failed(reason: str) -> int:
    from inference.text import terminal_safe

    print(f"cxr-triage: smoke screenshot failed: {terminal_safe(reason)}", file=sys.stderr, flush=True)
    return EXIT_SMOKE_FAILED


class SmokeScreenshot:
    """``cxr-triage gui --smoke-screenshot PNG``: when the viewer is ready, the main window saved as PNG
    and ``done(0)``; ``done(EXIT_SMOKE_FAILED)`` after one line on stderr when the model does not load,
    a scoring job stops with an error, the PNG cannot be written, or the viewer is not ready within
    ``limit_s`` seconds (a single-shot timer).

    Ready is what the tests and ``scripts/screenshot.py`` wait for: a model loaded, the session idle
    (no indexing, no store read, no scoring job) with no study left queued or being scored, and the
    study shown (rank 1, opened by the window itself) on screen, or failed to read. Studies that could
    not be read, or were not scored (a lateral, the safety gate), are listed as they always are: not a
    failure of the viewer. Event driven: the session's signals and Qt timers, no polling.
    """

    def __init__(self, window: Any, path: Path, limit_s: float, done: Callable[[int], None]) -> None:
        from PySide6.QtCore import QTimer

        self.window = window
        self.path = path
        self.limit_s = limit_s
        self.code: int | None = None  # once finished
        self._done = done
        self._saving = False
        self._unreadable: set[str] = set()  # studies whose image could not be read for display
        session = window.session
        session.modelFailed.connect(lambda reason: self._fail(f"the model did not load: {reason}"))
        session.scoringFailed.connect(lambda reason: self._fail(f"scoring stopped: {reason}"))
        session.idle.connect(self._check)
        session.imageReady.connect(self._check)
        session.imageFailed.connect(self._image_failed)
        self._limit = QTimer(window, singleShot=True)
        self._limit.timeout.connect(self._timed_out)
        self._limit.start(round(limit_s * 1000))
        QTimer.singleShot(0, self._check)  # once the event loop runs

    def waiting_for(self) -> str:
        """What the viewer is not done with yet ("" when ready)."""
        from viewer.core.worklist import RowState

        window, session = self.window, self.window.session
        if session.info is None:
            return "the model to load"
        if session.reading_files:
            return "the files to be indexed"
        rows = session.worklist_model.worklist.rows
        left = sum(r.state in (RowState.QUEUED, RowState.SCORING) for r in rows)
        if session.busy or left:
            return f"scoring ({left} of {len(rows)} studies left)"
        row = window.current_row()
        if row is None or row.state is RowState.ERROR or row.uid in self._unreadable:
            return ""
        return "" if window.image_view.image() is not None else "the shown study's image"

    def _check(self, *_args: object) -> None:
        if self.code is not None or self._saving or self.waiting_for():
            return
        from PySide6.QtCore import QTimer

        self._saving = True
        QTimer.singleShot(0, self._save)  # after the updates queued by what made it ready

    def _image_failed(self, uid: str, _reason: str) -> None:
        self._unreadable.add(uid)
        self._check()

    def _save(self) -> None:
        from PySide6.QtCore import QBuffer, QByteArray, QIODevice

        from inference.io.atomic import write_bytes_atomic
        from viewer.core.worklist import RowState

        if self.code is not None:
            return
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        picture = self.window.grab()  # renders the window and its children as they are now
        if picture.isNull() or not picture.save(buffer, "PNG"):
            self._fail("the window could not be rendered")
            return
        try:
            write_bytes_atomic(self.path, bytes(data.data()))
        except OSError as exc:
            self._fail(f"cannot write {self.path}: {exc.strerror or exc}")
            return
        rows = self.window.session.worklist_model.worklist.rows
        scored = sum(r.state is RowState.SCORED for r in rows)
        print(f"Screenshot saved to {self.path} ({len(rows)} studies, {scored} scored).", flush=True)
        self._finish(0)

    def _timed_out(self) -> None:
        self._fail(
            f"not ready after {self.limit_s:g} s: waiting for {self.waiting_for() or 'the screenshot'}"
        )

    def _fail(self, reason: str) -> None:
        if self.code is None:
            self._finish(smoke_failed(reason))

    def _finish(self, code: int) -> None:
        self.code = code
        self._limit.stop()
        self._done(code)
