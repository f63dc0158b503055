"""Window/level in the image's own units: the DICOM header's windows, presets (header, Custom, the
reader's own, kept in settings), keyboard W/L, and the mouse actions in F1 (issue #22, problem 7)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QInputDialog

from inference.io.dicom import read_dicom
from inference.io.raster import read_raster
from viewer.core.settings import Settings
from viewer.qt.image_view import ImageView

REPO = Path(__file__).parents[2]
# The SIIM CR with Rescale Slope 20 / Intercept 70 and header windows 2725/5310 and LUNG 1500/2000.
WINDOWED = REPO / "tests" / "fixtures" / "dicom" / "CR_chest_SIIM_window_2725_5310.dcm"
PNG = REPO / "resources" / "samples" / "00000001_000.png"
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


def right_drag(view: ImageView, dx: int, dy: int) -> None:
    vp = view._graphics.viewport()
    start = vp.rect().center()
    right, none = Qt.MouseButton.RightButton, Qt.MouseButton.NoButton
    for kind, pos, button, buttons in (
        (QEvent.Type.MouseButtonPress, start, right, right),
        (QEvent.Type.MouseMove, start + QPoint(dx // 2, dy // 2), none, right),
        (QEvent.Type.MouseMove, start + QPoint(dx, dy), none, right),
        (QEvent.Type.MouseButtonRelease, start + QPoint(dx, dy), right, none),
    ):
        event = QMouseEvent(kind, QPointF(pos), QPointF(vp.mapToGlobal(pos)), button, buttons, NO_MODIFIER)
        QApplication.sendEvent(vp, event)


def test_dicom_header_window_reads_in_modality_values(view: ImageView) -> None:
    view.set_image(read_dicom(WINDOWED))
    assert view.window_text().startswith("W 5310 L 2725 · ")
    assert view.window_units() == pytest.approx((2725.0, 5310.0))
    assert view.presets()[:2] == ["Header 1", "LUNG"]  # named by the explanation, else by number
    assert view.preset_shown() == "Header 1"
    view.apply_preset("LUNG")
    assert view.window_text().startswith("W 2000 L 1500 · ")
    assert view.preset_shown() == "LUNG"


def test_png_window_reads_in_stored_values(view: ImageView) -> None:
    view.set_image(read_raster(PNG))
    assert view.window_text().startswith("W 255 L 128 · ")  # 127.5
    assert view.preset_shown() == "Full range"


def test_right_drag_makes_the_preset_box_say_custom_until_a_preset_is_chosen(view: ImageView) -> None:
    view.set_image(read_dicom(WINDOWED))
    right_drag(view, 60, 30)
    assert view.preset_shown() == "Custom"
    level, width = view.window_units()
    assert width > 5310 and view.window_text().startswith(f"W {width:.0f} L {level:.0f}")
    view.apply_preset("Header 1")
    assert view.preset_shown() == "Header 1" and "Custom" not in view.presets()


def test_user_preset_saved_in_units_applies_to_the_next_image_and_is_deleted(view: ImageView, qtbot) -> None:
    view.set_image(read_dicom(WINDOWED))
    view.set_window_units(2000.0, 3000.0)
    with qtbot.waitSignal(view.userPresetsChanged) as saved:
        assert view.save_preset("Chest wide")
    assert saved.args[0] == {"Chest wide": pytest.approx((2000.0, 3000.0))}
    assert not view.save_preset("Lung") and not view.save_preset("  ")  # built-in names, no name
    view.set_image(read_dicom(WINDOWED))
    assert "Chest wide" in view.presets() and view.preset_shown() == "Header 1"
    view.apply_preset("Chest wide")
    assert view.window_units() == pytest.approx((2000.0, 3000.0))
    assert view.preset_shown() == "Chest wide"
    view.delete_shown_preset()
    assert "Chest wide" not in view.presets() and view.user_presets() == {}
    assert view.preset_shown() == "Custom"


def test_save_preset_dialog_names_the_window(view: ImageView, monkeypatch) -> None:
    view.set_image(read_dicom(WINDOWED))
    asked = []

    def get_text(parent, title, label):
        asked.append(label)
        return "Mine", True

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    view.save_preset_dialog()
    assert "W 5310 L 2725" in asked[0]
    assert view.user_presets() == {"Mine": pytest.approx((2725.0, 5310.0))}


def test_keyboard_window_level_in_the_main_window(qtbot, window) -> None:
    from test_main_window import open_and_score, wait_image

    open_and_score(qtbot, window, "2")
    wait_image(qtbot, window)
    window.activateWindow()
    window.worklist.table.setFocus()
    qtbot.waitUntil(window.worklist.table.hasFocus, timeout=2000)
    view = window.image_view
    center, width = view.window()
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_BracketRight)
    assert view.window() == pytest.approx((center, width * 1.1))
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_BracketLeft)
    assert view.window() == pytest.approx((center, width))
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_Period)
    assert view.window()[0] == pytest.approx(center + 0.05 * width)
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_Comma)
    assert view.window() == pytest.approx((center, width))
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_BracketLeft)
    assert view.preset_shown() == "Custom"


def test_saved_presets_are_kept_in_settings(qtbot, window) -> None:
    window.image_view.set_image(read_dicom(WINDOWED))
    window.image_view.set_window_units(1000.0, 2000.0)
    assert window.image_view.save_preset("Soft")
    window._save_settings()
    assert Settings.load(window.settings.path).window_presets == {"Soft": [1000.0, 2000.0]}


def test_shortcut_table_lists_zoom_window_keys_and_mouse_actions(window) -> None:
    from viewer.qt.actions import shortcut_table

    keys = dict(shortcut_table(window.actions_))
    for key in ("Ctrl+0 or F", "Ctrl+1", "Ctrl+= or Ctrl++", "Ctrl+-", "[", "]", ",", ".", "Shift+H"):
        assert key in keys, key
    for mouse in ("Wheel", "Left-drag", "Right-drag", "Double-click"):
        assert mouse in keys, mouse


def test_value_under_the_cursor_is_in_the_images_units(view: ImageView, qtbot) -> None:
    image = read_dicom(WINDOWED)
    view.set_image(image)
    qtbot.wait(10)
    point = view._graphics.mapFromScene(view._item.mapToScene(QPointF(500.5, 600.5)))
    with qtbot.waitSignal(view.cursorValueChanged):
        qtbot.mouseMove(view._graphics.viewport(), point)
    x, y, value = re.fullmatch(r"x (\d+)  y (\d+)  value (\S+)", view.cursor_text()).groups()
    assert value == f"{70.0 + float(image.pixels[int(y), int(x)]) * 5310.0:.0f}"  # modality value
