"""The Model menu: load a model package, or import a CheXNet / torchxrayvision checkpoint as one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from inference.models.registry import CHECKPOINT_FORMATS
from viewer.core import paths
from viewer.qt.session import TriageSession


class ModelCommands:
    """Loads on the session's model thread; an imported checkpoint is written there too, then loaded."""

    def __init__(self, parent: QWidget, session: TriageSession, say: Callable[[str], None]) -> None:
        self._parent, self._session, self._say = parent, session, say

    def load(self, package: Path) -> None:
        self._say(f"Loading model from {Path(package).name}…")
        self._session.load_model(Path(package))

    def load_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self._parent, "Load model package (card.json + model.safetensors)"
        )
        if folder:
            self.load(Path(folder))

    def import_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._parent,
            "Import checkpoint",
            str(Path.home()),
            "Checkpoints (*.pth *.tar *.pt *.pkl);;All files (*)",
        )
        if not path:
            return
        by_title = {f.title: f.name for f in CHECKPOINT_FORMATS.values()}
        title, ok = QInputDialog.getItem(
            self._parent, "Checkpoint format", "Which format is this checkpoint?", list(by_title), 0, False
        )
        if not ok:
            return
        kind = by_title[title]
        stem = Path(path).name.split(".")[0]
        dest = paths.data_dir() / "models" / f"{kind}-{stem}-{datetime.now():%Y%m%d%H%M%S}"

        def work(_service: object) -> Path:
            from inference.fit.checkpoint_import import import_checkpoint

            import_checkpoint(kind, Path(path), dest)
            return dest

        self._session.run_on_model_thread(("import", dest), work)

    def on_task_finished(self, key: object, result: object, error: str) -> None:
        """An import written on the model thread: loaded, or the reader told why not."""
        if isinstance(key, tuple) and key[0] == "import":
            if error:
                self._say(f"Import failed: {error}")
                QMessageBox.warning(self._parent, "Import failed", error)
            else:
                self.load(Path(str(result)))
