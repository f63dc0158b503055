"""A layout that lays its widgets out left to right at their size hints and wraps to a new line when
the next one does not fit, as text does: a toolbar that wraps instead of squeezing its controls.

Lines are as tall as their tallest widget, each widget centred in its line. A hidden widget that
keeps its size when hidden (``QSizePolicy.setRetainSizeWhenHidden``) keeps its place, so showing it
moves nothing. Only a widget wider than the whole width is narrowed, to that width.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    """Left to right, wrapping; its height follows its width (``heightForWidth``)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(QMargins(0, 0, 0, 0))

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt override)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt override)
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 (Qt override)
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 (Qt override)
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt override)
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt override)
        return self._arrange(QRect(0, 0, width, 0), place=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 (Qt override)
        super().setGeometry(rect)
        self._arrange(rect, place=True)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """Everything on one line."""
        shown = self._shown()
        width = sum(i.sizeHint().width() for i in shown) + self.spacing() * max(len(shown) - 1, 0)
        height = max((i.sizeHint().height() for i in shown), default=0)
        return QSize(width, height).grownBy(self.contentsMargins())

    def minimumSize(self) -> QSize:  # noqa: N802 (Qt override)
        """One widget a line: the widest one's least width."""
        size = QSize()
        for item in self._shown():
            size = size.expandedTo(item.minimumSize())
        return size.grownBy(self.contentsMargins())

    def _shown(self) -> list[QLayoutItem]:
        return [i for i in self._items if not i.isEmpty()]  # a hidden widget retaining its size counts

    def _arrange(self, rect: QRect, place: bool) -> int:
        """Break the widgets into lines within ``rect``'s width; place them when ``place``; return the
        height the lines take."""
        area = rect.marginsRemoved(self.contentsMargins())
        lines: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        x = 0
        for item in self._shown():
            hint = item.sizeHint()
            size = QSize(min(hint.width(), max(area.width(), item.minimumSize().width())), hint.height())
            if lines[-1] and x + self.spacing() + size.width() > area.width():
                lines.append([])
                x = 0
            x += (self.spacing() if lines[-1] else 0) + size.width()
            lines[-1].append((item, size))
        y = area.top()
        for n, line in enumerate(lines):
            height = max((size.height() for _, size in line), default=0)
            x = area.left()
            for item, size in line:
                if place:
                    top = y + (height - size.height()) // 2
                    item.setGeometry(QRect(QPoint(x, top), size))
                x += size.width() + self.spacing()
            y += height + (self.spacing() if n < len(lines) - 1 else 0)
        margins = self.contentsMargins()
        return y - area.top() + margins.top() + margins.bottom()
