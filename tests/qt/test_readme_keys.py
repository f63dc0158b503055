"""Issue #22: the README's keyboard section lists every key and mouse action the window has (what F1
lists), so a new shortcut cannot be added without telling the reader."""

from __future__ import annotations

import re
from pathlib import Path

from viewer.qt.actions import shortcut_table

README = Path(__file__).resolve().parents[2] / "README.md"


def keys_column() -> str:
    """The first cells of the table in README's "## Keyboard" section, one per line."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Keyboard\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return "\n".join(row.split(" | ", 1)[0].removeprefix("| ") for row in rows)


def listed(key: str, column: str) -> bool:
    """``key`` appears on its own (not as a part of a longer key: F is not Ctrl+F or F1)."""
    return re.search(rf"(?<![\w+]){re.escape(key)}(?!\w)", column, re.IGNORECASE) is not None


def test_the_readme_lists_every_key_and_mouse_action_of_the_window(window) -> None:
    column = keys_column()
    missing = [
        keys
        for keys, _what in shortcut_table(window.actions_)
        if not all(listed(alternative, column) for alternative in keys.split(" or "))
    ]
    assert len(shortcut_table(window.actions_)) > 30  # the walk found the window's actions
    assert missing == []


def test_the_check_sees_a_key_that_is_missing() -> None:
    column = "Ctrl+F\nF1\nCtrl+0 or F, double-click"
    assert listed("F", column) and listed("Ctrl+F", column) and not listed("Ctrl+K", column)
    assert not listed("F", "Ctrl+F\nF1")
