"""Ctrl+E and Ctrl+Shift+E: what is exported, where it goes, telling the reader where it went, and the
audit of it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from viewer.core.image_export import export_annotated
from viewer.core.settings import Settings
from viewer.core.worklist import StudyRow
from viewer.core.worklist_export import export_worklist
from viewer.qt.image_view import ImageView
from viewer.qt.session import TriageSession
from viewer.qt.study_display import StudyDisplay

log = logging.getLogger(__name__)


class ExportCommands:
    """Writes exports into the settings' export folder, asking for one once when none is set."""

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
        self._parent, self._session, self._settings = parent, session, settings
        self._current_row, (self._view, self._display) = current_row, shown
        self._hold, self._say, self._changed = hold, say, settings_changed

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

    def image(self) -> Path | None:
        """Ctrl+E: the shown study's image at full resolution, with its heat map (when shown) and
        findings burned in; says in the status bar where it went, and audits it."""
        self._hold()
        row = self._current_row()
        image = self._view.image()
        item = row.ranked() if row is not None else None
        info = self._session.info
        if row is None or image is None or self._display.image_uid != row.uid or item is None or info is None:
            self._say("Nothing to export: select a ranked study with an image")
            return None
        folder = self.folder()
        if folder is None:
            return None
        heatmap = self._view.heatmap() if self._view.overlay_visible() else None
        thresholds = self._session.worklist_model.worklist.thresholds
        try:
            path = export_annotated(
                image, heatmap, item, info.card, thresholds, folder, self._settings.deidentify
            )
        except (OSError, ValueError) as exc:
            log.warning("export failed: %s", exc)
            self._say(f"Export failed: {exc}")
            return None
        self._say(f"Exported image to {path}")
        self._session.audit("exported", row.uid, kind="image", file=path.name)
        return path

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
