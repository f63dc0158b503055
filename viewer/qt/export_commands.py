"""Ctrl+E and Ctrl+Shift+E: where exports go, and telling the reader where they went."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from inference.api import Heatmap, ModelCard, RankedStudy, XRayImage
from viewer.core.image_export import export_annotated
from viewer.core.settings import Settings
from viewer.core.worklist import StudyRow
from viewer.core.worklist_export import export_worklist

log = logging.getLogger(__name__)


class ExportCommands:
    """Writes exports into the settings' export folder, asking for one once when none is set."""

    def __init__(
        self,
        parent: QWidget,
        settings: Settings,
        say: Callable[[str], None],
        settings_changed: Callable[[], None],
    ) -> None:
        self._parent, self._settings, self._say, self._changed = parent, settings, say, settings_changed

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

    def image(
        self,
        image: XRayImage,
        heatmap: Heatmap | None,
        study: RankedStudy,
        card: ModelCard,
        thresholds: Mapping[str, float],
    ) -> Path | None:
        """The annotated image; says in the status bar where it went."""
        folder = self.folder()
        if folder is None:
            return None
        try:
            path = export_annotated(image, heatmap, study, card, thresholds, folder)
        except (OSError, ValueError) as exc:
            log.warning("export failed: %s", exc)
            self._say(f"Export failed: {exc}")
            return None
        self._say(f"Exported image to {path}")
        return path

    def worklist(
        self, rows: Sequence[StudyRow], card: ModelCard | None, thresholds: Mapping[str, float]
    ) -> tuple[Path, Path] | None:
        folder = self.folder()
        if folder is None:
            return None
        try:
            out = export_worklist(rows, card, thresholds, folder, self._settings.deidentify)
        except OSError as exc:
            log.warning("worklist export failed: %s", exc)
            self._say(f"Export failed: {exc}")
            return None
        self._say(f"Exported worklist to {out[0]} and {out[1].name}")
        return out
