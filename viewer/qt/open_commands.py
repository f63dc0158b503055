"""Ctrl+O, Ctrl+Shift+O, the recent folders and dropped files: studies opened into the worklist."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from inference.bundled import SAMPLES
from viewer.core.settings import Settings
from viewer.qt.image_view import ImageView
from viewer.qt.session import TriageSession

IMAGE_FILTER = "Radiographs (*.dcm *.DCM *.png *.jpg *.jpeg);;All files (*)"


class OpenCommands:
    """Hands files and folders to the session (indexed off the GUI thread); folders become recent ones."""

    def __init__(
        self,
        parent: QWidget,
        session: TriageSession,
        settings: Settings,
        image_view: ImageView,
        settings_changed: Callable[[], None],
    ) -> None:
        self._parent, self._session, self._settings = parent, session, settings
        self._image_view, self._changed = image_view, settings_changed

    def open_paths(self, paths: list[Path], replace: bool = True) -> None:
        paths = [Path(p).expanduser().absolute() for p in paths]
        if not paths:
            return
        for p in paths:
            if p.is_dir():
                self._settings.add_recent(p)
        self._changed()
        self._session.open_paths(paths, replace=replace)
        if replace and self._session.replaces_on_open:
            self._image_view.set_image(None, "Indexing…")

    def start_folder(self) -> str:
        """Where the dialogs open: the last folder opened that is still there (the bundled samples
        aside), else the home folder."""
        for folder in self._settings.recent_folders:
            if Path(folder).is_dir() and Path(folder).resolve() != SAMPLES.resolve():
                return folder
        return str(Path.home())

    def folder_dialog(self) -> None:
        start = self.start_folder()
        folder = QFileDialog.getExistingDirectory(self._parent, "Open folder of radiographs", start)
        if folder:
            self.open_paths([Path(folder)])

    def files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self._parent, "Open radiographs", self.start_folder(), IMAGE_FILTER
        )
        if files:
            self.open_paths([Path(f) for f in files])

    def fill_recent_menu(self, menu: QMenu) -> None:
        """Filled each time it opens, so that it lists the folders opened since."""
        menu.clear()
        for folder in self._settings.recent_folders:
            menu.addAction(folder, lambda f=folder: self.open_paths([Path(f)]))
        if not self._settings.recent_folders:
            menu.addAction("(none)").setEnabled(False)

    def drag_enter(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def drop(self, event: QDropEvent) -> None:
        """Dropped files and folders join the worklist rather than replace it."""
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths, replace=False)
