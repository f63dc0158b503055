"""The pre-flight check that explains a missing X11 platform instead of letting Qt abort."""

from __future__ import annotations

import subprocess
import sys

from viewer.gui import EXIT_NO_DISPLAY
from viewer.qpa_check import XCB_LIBRARIES, platform_problem


def test_offscreen_and_wayland_need_nothing():
    assert platform_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", lambda s: False) == ""
    assert platform_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", lambda s: False) == ""
    assert platform_problem({}, "win32", lambda s: False) == ""


def test_missing_xcb_libraries_name_the_debian_packages():
    missing = {"libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libEGL.so.1"}
    text = platform_problem({"DISPLAY": ":0"}, "linux", lambda s: s not in missing)
    assert "sudo apt-get install libxcb-cursor0 libxkbcommon-x11-0 libegl1" in text
    assert "libxcb-icccm4" in text  # the full list is shown too
    ok = platform_problem(
        {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", lambda s: True, lambda d: True
    )
    assert ok == ""


def test_unreachable_display_is_explained():
    text = platform_problem({"DISPLAY": ":99"}, "linux", lambda s: True, lambda d: False)
    assert "':99'" in text and "offscreen" in text


def test_real_xcb_connect_to_a_missing_display_fails_cleanly():
    from viewer.qpa_check import display_reachable

    assert display_reachable(":987") is False


def test_no_display_is_explained():
    text = platform_problem({}, "linux", lambda s: True)
    assert "DISPLAY" in text and "offscreen" in text


def test_every_library_maps_to_a_package():
    assert all(pkg and soname.startswith("lib") for soname, pkg in XCB_LIBRARIES.items())


def test_gui_exits_2_with_a_message_when_no_display(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CXR_TRIAGE_HOME": str(tmp_path), "QT_QPA_PLATFORM": "xcb"}
    code = "import sys; from viewer.gui import main; sys.exit(main([]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == EXIT_NO_DISPLAY
    assert "DISPLAY" in out.stderr and "Traceback" not in out.stderr
