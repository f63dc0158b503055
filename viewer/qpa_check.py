"""Before Qt starts: can its platform plugin run here? If not, say what to install.

Qt aborts the process (``qFatal``) when the xcb plugin cannot load, so the check has to happen
before ``QApplication`` exists. It imports no Qt: it asks the dynamic loader for each library the
xcb plugin needs and maps the missing ones to their Debian/Ubuntu packages.
"""

from __future__ import annotations

import ctypes
import os
import sys

# soname -> Debian/Ubuntu package (Qt 6's xcb plugin and its EGL/GL/xkb dependencies).
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
NEEDS_NOTHING = {"offscreen", "minimal", "vnc", "eglfs", "linuxfb", "wayland", "wayland-egl"}


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def display_reachable(display: str) -> bool:
    """Whether an X server answers on ``display`` (libxcb's own connect, as Qt's plugin does)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # cannot tell; the library check reports the missing package
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    try:
        return conn is not None and xcb.xcb_connection_has_error(conn) == 0
    finally:
        if conn is not None:
            xcb.xcb_disconnect(conn)


def missing_packages(loadable=_loadable) -> list[str]:
    """Debian packages whose libraries the xcb plugin needs but the loader cannot find."""
    return [pkg for soname, pkg in XCB_LIBRARIES.items() if not loadable(soname)]


def platform_problem(
    environ: dict[str, str] | None = None, platform: str | None = None, loadable=_loadable, reachable=None
) -> str:
    """A message explaining why Qt's GUI cannot start here, or '' when it should start."""
    env = os.environ if environ is None else environ
    if (platform or sys.platform) != "linux":
        return ""
    requested = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if requested in NEEDS_NOTHING or (not requested and env.get("WAYLAND_DISPLAY")):
        return ""
    if requested not in ("", "xcb"):
        return ""  # someone chose another plugin on purpose; let Qt speak for it
    if not env.get("DISPLAY"):
        return (
            "cxr-triage: no display to open a window on (DISPLAY is not set).\n"
            "Run it inside a desktop session, or use the headless commands (cxr-triage triage --help).\n"
            "To render without a screen, set QT_QPA_PLATFORM=offscreen."
        )
    missing = missing_packages(loadable)
    if not missing:
        if not (reachable or display_reachable)(env["DISPLAY"]):
            return (
                f"cxr-triage: cannot connect to the X display {env['DISPLAY']!r}.\n"
                "Check that the desktop session is running (and, over SSH, that X forwarding is on),\n"
                "or set QT_QPA_PLATFORM=offscreen to render without a screen."
            )
        return ""
    return (
        "cxr-triage: Qt's X11 (xcb) platform plugin cannot load: these system libraries are missing.\n"
        "On Debian/Ubuntu install them with:\n\n"
        f"    sudo apt-get install {' '.join(missing)}\n\n"
        "(the full set the plugin may need: "
        "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 "
        "libxcb-xinerama0 libxcb-shape0 libxcb-randr0 libxkbcommon-x11-0 libegl1)\n"
        "Under Wayland, QT_QPA_PLATFORM=wayland avoids xcb altogether."
    )
