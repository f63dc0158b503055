"""The main window's panes hold still: fixed minimums, never collapsed, never resized by what they show.

A splitter sizes a pane no smaller than its minimum size, or, where none is set, its contents' minimum
size hint, which a long caption or message raises as it is shown. Each pane therefore gets a fixed
minimum once, at start: what it needs then (its toolbars, the worklist's header), within bounds.
"""

from __future__ import annotations

from PySide6.QtWidgets import QSplitter

# Logical pixels: the least a pane stays usable at (the image, the worklist's first columns), and the
# most a pane's contents may ask for, so that the three fit a 1280-pixel screen at 150% (853 logical).
LEAST_WIDTHS = (200, 240, 200)  # worklist, image, findings and similar studies
MOST_NEEDED = 320
LEAST_HEIGHTS = (120, 80)  # findings, similar studies


def steady_panes(main: QSplitter, right: QSplitter) -> None:
    """Fix the minimums of ``main``'s three panes (worklist, image, the ``right`` column) and of
    ``right``'s two; neither splitter lets a pane be dragged to nothing."""
    worklist, image, _ = (main.widget(i) for i in range(3))
    for pane, least in zip((worklist, image, right), LEAST_WIDTHS, strict=True):
        needs = 0 if pane is image else pane.minimumSizeHint().width()  # the image's varies with its message
        pane.setMinimumWidth(max(least, min(needs, MOST_NEEDED)))
    for i, least in enumerate(LEAST_HEIGHTS):
        pane = right.widget(i)
        pane.setMinimumHeight(max(least, pane.minimumSizeHint().height()))
    for splitter in (main, right):
        splitter.setChildrenCollapsible(False)
