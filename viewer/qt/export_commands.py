"""Ctrl+E and Ctrl+Shift+E: what is exported, where it goes, telling the reader where it went, and the
audit of it. The annotated image is drawn and written on the session's I/O pool (a detector-sized image
takes a few tenths of a second), never on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from inference.api import Heatmap, ModelCard, RankedStudy, XRayImage
from viewer.core.image_export import export_path, write_annotated
from viewer.core.settings import Settings
from viewer.core.worklist import StudyRow
from viewer.core.worklist_export import export_worklist
from viewer.qt.image_view import ImageView
from viewer.qt.session import TriageSession
from viewer.qt.study_display import StudyDisplay
from viewer.qt.workers import FunctionWorker

log = logging.getLogger(__name__)


def _write(
    uid: str,
    image: XRayImage,
    heatmap: Heatmap | None,
    study: RankedStudy,
    card: ModelCard,
    thresholds: Mapping[str, float],
    path: Path,
) -> tuple[str, Path, str]:
    """On the pool: (study, path, "" or why it could not be written)."""
    try:
        write_annotated(image, heatmap, study, card, thresholds, path)
    except (OSError, ValueError) as exc:
        log.warning("export failed: %s", exc)
        return uid, path, str(exc)
    return uid, path, ""


class ExportCommands(QObject):
    """Writes exports into the settings' export folder, asking for one once when none is set."""

    imageExported = Signal(object)  # the annotated PNG's path, once written

    def __init__(
        self,
        parent: QWidget,
        session: TriageSession,
        settings: Settings,
        current_row: Callable[[], StudyRow | None],
        shown: tuple[ImageView, StudyDisplay],
        hold: Callable[[], None],
        say: Callable[[str], None],
        settings_changed: Callable[[], None],
    ) -> None:
        super().__init__(parent)
        self._parent, self._session, self._settings = parent, session, settings
        self._current_row, (self._view, self._display) = current_row, shown
        self._hold, self._say, self._changed = hold, say, settings_changed
        self._writing: dict[Path, FunctionWorker] = {}  # exports being drawn, by the name each holds

    def folder(self, ask: bool = True) -> Path | None:
        if self._settings.export_folder:
            return Path(self._settings.export_folder)
        return self.choose_folder() if ask else None

    def choose_folder(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Export folder", str(Path.home()))
        if not folder:
            return None
        self._settings.export_folder = folder
        self._changed()
        return Path(folder)

    def image(self) -> None:
        """Ctrl+E: the shown study's image at full resolution, with its heat map (when shown) and
        findings burned in, written in the background; the status bar then says where it went
        (:attr:`imageExported`), and the export is audited."""
        self._hold()
        row = self._current_row()
        image = self._view.image()
        item = row.ranked() if row is not None else None
        info = self._session.info
        if row is not None and image is not None and self._display.image_uid is None:
            self._say("Another image of the study is shown: its findings are the scored image's (V shows it)")
            return
        if row is None or image is None or self._display.image_uid != row.uid or item is None or info is None:
            self._say("Nothing to export: select a ranked study with an image")
            return
        folder = self.folder()
        if folder is None:
            return
        heatmap = self._view.heatmap() if self._view.overlay_visible() else None
        path = export_path(item, heatmap, folder, self._settings.deidentify, taken=self._writing)
        thresholds = dict(self._session.worklist_model.worklist.thresholds)
        worker = FunctionWorker(_write, row.uid, image, heatmap, item, info.card, thresholds, path)
        worker.signals.returned.connect(self._on_written)
        self._writing[path] = worker
        self._session.io.start(worker)
        self._say(f"Exporting image to {path}…")

    @Slot(object)
    def _on_written(self, item: tuple[str, Path, str]) -> None:
        uid, path, failure = item
        self._writing.pop(path, None)
        if self._session.closed:
            return
        if failure:
            self._say(f"Export failed: {failure}")
            return
        self._say(f"Exported image to {path}")
        self._session.audit("exported", uid, kind="image", file=path.name)
        self.imageExported.emit(path)

    def worklist(self) -> tuple[Path, Path] | None:
        """Ctrl+Shift+E: the ranked worklist as CSV and JSON (identifiers hidden when the reader hides
        them); audited."""
        folder = self.folder()
        if folder is None:
            return None
        wl = self._session.worklist_model.worklist
        card = self._session.info.card if self._session.info else None
        hidden = self._settings.deidentify
        try:
            out = export_worklist(wl.ranked_rows(), card, wl.thresholds, folder, hidden)
        except OSError as exc:
            log.warning("worklist export failed: %s", exc)
            self._say(f"Export failed: {exc}")
            return None
        self._say(f"Exported worklist to {out[0]} and {out[1].name}")
        self._session.audit("exported", kind="worklist", file=out[0].name, deidentified=hidden)
        return out
