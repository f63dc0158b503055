"""Ctrl+E and Ctrl+Shift+E: where exports go, and what the annotated image says."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from inference.api import Heatmap, ModelCard
from viewer.core.settings import Settings
from viewer.core.worklist import StudyRow
from viewer.core.worklist_export import export_worklist
from viewer.qt.export import ExportInfo, export_view
from viewer.qt.image_view import ImageView

log = logging.getLogger(__name__)


def image_export_info(
    row: StudyRow,
    finding: str | None,
    thresholds: Mapping[str, float],
    card: ModelCard | None,
    heatmap: Heatmap | None,
    hide_phi: bool,
) -> ExportInfo:
    """The provenance band of one exported image; no patient ID while identifiers are hidden."""
    return ExportInfo(
        finding=finding,
        probability=row.probabilities.get(finding) if finding else None,
        threshold=thresholds.get(finding) if finding else None,
        model_name=f"{card.name} {card.version}" if card else "no model",
        weights_sha256=card.weights_sha256 if card else "",
        patient_id=None if hide_phi or not row.meta.patient_id else row.meta.patient_id,
        timestamp=datetime.now().isoformat(sep=" ", timespec="seconds"),
        cam_method=heatmap.method if heatmap is not None else None,
    )


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

    def image(self, view: ImageView, info: ExportInfo) -> Path | None:
        """The image as shown, with its band; says in the status bar where it went."""
        folder = self.folder()
        if folder is None:
            return None
        try:
            path = export_view(view, info, folder)
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
            out = export_worklist(rows, card, thresholds, folder, self._settings.hide_phi)
        except OSError as exc:
            log.warning("worklist export failed: %s", exc)
            self._say(f"Export failed: {exc}")
            return None
        self._say(f"Exported worklist to {out[0]} and {out[1].name}")
        return out
