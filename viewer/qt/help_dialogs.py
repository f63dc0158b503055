"""Help > About and Help > Keyboard Shortcuts (F1: every key and mouse action the window has)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from inference.api import ModelCard
from viewer.core.wording import APP_NAME
from viewer.qt.actions import Actions, shortcut_table


def show_about(parent: QWidget, card: ModelCard | None) -> None:
    body = f"<b>{APP_NAME}</b><br>Offline chest-radiograph triage.<br><br>"
    if card is not None:
        body += f"Model: {card.name} {card.version}<br>Intended use: {card.intended_use}<br>"
    QMessageBox.about(parent, f"About {APP_NAME}", body)


def show_shortcuts(parent: QWidget, actions: Actions) -> None:
    rows = "".join(
        f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in shortcut_table(actions)
    )
    QMessageBox.information(
        parent, "Keyboard shortcuts and mouse actions", f"<table cellspacing=4>{rows}</table>"
    )
