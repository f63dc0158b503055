"""The window preset box above the image: the header's windows, the fixed ones, the reader's own.

The box always names the preset the view's window matches, or says Custom (after a right-drag or a
W/L key). The reader's presets are kept in the image's own units, so "Chest wide" means the same
modality values on every DICOM; the settings file keeps them (``Settings.window_presets``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QMenu, QToolButton, QWidget

from inference.api import DisplayScale
from viewer.qt.window_level import AUTO, CUSTOM, FIXED_PRESETS, FULL_RANGE, header_presets, to_normalised

FULL = (0.5, 1.0)  # the normalised full range: the window the pixels were made with
RESERVED = frozenset({FULL_RANGE, AUTO, CUSTOM, *FIXED_PRESETS})


class WindowPresets(QWidget):
    """A combo box of presets and a Presets menu (save the window, delete the shown preset)."""

    chosen = Signal(float, float)  # normalised centre, width of the preset the reader picked
    saveRequested = Signal()
    userPresetsChanged = Signal(dict)  # name -> (level, width) in image units

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._user: dict[str, tuple[float, float]] = {}
        self._windows: dict[str, tuple[float, float]] = {}  # listed presets, normalised
        self._scale = DisplayScale(0.0, 1.0)
        self._auto = FULL
        self._window = FULL  # the view's, as last shown
        self._box = QComboBox(toolTip="Window/level preset (right-drag on the image adjusts it)")
        self._box.setAccessibleName("Window preset")
        self._box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # every name whole
        self._box.activated.connect(lambda i: self.apply(self._box.itemText(i)))
        menu = QMenu(self)
        self._save = menu.addAction("Save Window as Preset…", self.saveRequested.emit)
        self._delete = menu.addAction("Delete Preset", self.delete_shown)
        menu.aboutToShow.connect(self._update_menu)
        self._button = QToolButton(text="Presets", toolTip="Save or delete your window presets")
        self._button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._button.setMenu(menu)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self._box)
        row.addWidget(self._button)

    def rebuild(self, scale: DisplayScale, auto: tuple[float, float], window: tuple[float, float]) -> None:
        """A new image: the header's windows (the one its pixels were made with reads as the full
        range), the full range when no header window is it, Auto, the fixed ones, the reader's own."""
        self._scale, self._auto = scale, auto
        windows = {name: to_normalised(scale, *w) for name, w in header_presets(scale).items()}
        if not any(_same(w, FULL) for w in windows.values()):
            windows[FULL_RANGE] = FULL
        windows[AUTO] = auto
        windows.update(FIXED_PRESETS)
        for name, w in sorted(self._user.items()):
            windows.setdefault(name, to_normalised(scale, *w))
        self._windows = windows
        self._box.clear()
        self._box.addItems(list(windows))
        self.show_window(window)

    def show_window(self, window: tuple[float, float]) -> None:
        """Name the preset ``window`` matches, else Custom."""
        self._window = window
        name = next((n for n, w in self._windows.items() if _same(w, window)), CUSTOM)
        custom = self._box.findText(CUSTOM)
        if name == CUSTOM and custom < 0:
            self._box.addItem(CUSTOM)
        elif name != CUSTOM and custom >= 0:
            self._box.removeItem(custom)
        self._box.setCurrentIndex(self._box.findText(name))

    def names(self) -> list[str]:
        return [self._box.itemText(i) for i in range(self._box.count())]

    def shown(self) -> str:
        return self._box.currentText()

    def apply(self, name: str) -> None:
        """Ask the view for preset ``name`` (KeyError when there is none; Custom is what is shown)."""
        if name != CUSTOM:
            self.chosen.emit(*self._windows[name])

    # -- the reader's own ---------------------------------------------------------------------
    def set_user_presets(self, presets: Mapping[str, Sequence[float]]) -> None:
        self._user = {str(k): (float(v[0]), float(v[1])) for k, v in presets.items()}
        self._relist()

    def user_presets(self) -> dict[str, tuple[float, float]]:
        return dict(self._user)

    def save(self, name: str, level: float, width: float) -> bool:
        """Keep (level, width) in image units as ``name``; False for no name or a built-in's name."""
        name = name.strip()
        if not name or name in RESERVED:
            return False
        self._user[name] = (level, width)
        self._relist()
        self.userPresetsChanged.emit(self.user_presets())
        return True

    def delete_shown(self) -> None:
        if self._user.pop(self.shown(), None) is not None:
            self._relist()
            self.userPresetsChanged.emit(self.user_presets())

    def _relist(self) -> None:
        self.rebuild(self._scale, self._auto, self._window)

    def _update_menu(self) -> None:
        shown = self.shown()
        self._save.setEnabled(self.isEnabled())
        self._delete.setEnabled(shown in self._user)
        self._delete.setText(f"Delete Preset “{shown}”" if shown in self._user else "Delete Preset")


def _same(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return math.isclose(a[0], b[0], abs_tol=1e-6) and math.isclose(a[1], b[1], rel_tol=1e-6)
