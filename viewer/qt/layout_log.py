"""``cxr-triage gui --smoke-layout FILE``: the panes' sizes written down each time the shown study
changes or the session goes idle, one JSON object a line, for a scripted run in a real X server
(``tests/xvfb``) to check that the layout holds still and to find the worklist's rows on screen."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow


class LayoutLog(QObject):
    """Appends one line to ``path`` after each change, once the layout it caused has been done."""

    def __init__(self, window: QMainWindow, path: Path) -> None:
        super().__init__(window)
        self._window = window
        self._path = Path(path)
        window.worklist.currentStudyChanged.connect(self._soon)
        window.session.idle.connect(self._soon)

    def _soon(self, *_args: object) -> None:
        QTimer.singleShot(0, self._write)  # after the caption and message it changed

    def _write(self) -> None:
        QApplication.sendPostedEvents()  # the layout requests those changes posted
        w = self._window
        session, row = w.session, w.current_row()
        viewport = w.worklist.table.viewport()
        corner = viewport.mapToGlobal(QPoint(0, 0))
        line = {
            "uid": row.uid if row is not None else None,
            "state": row.state.value if row is not None else None,
            "gated": row is not None and row.gate_stopped,
            "rows": len(session.worklist_model.worklist),
            "busy": session.busy or session.info is None,
            "panes": w.splitter.sizes(),
            "right": w.splitter.widget(2).sizes(),
            "window": [w.width(), w.height()],
            "worklist": [corner.x(), corner.y(), viewport.width(), viewport.height()],
            "row_height": w.worklist.table.rowHeight(0),
        }
        with self._path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
