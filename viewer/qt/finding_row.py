"""One finding of the findings pane: name, probability bar, threshold slider, threshold, Se/Sp.

The row fits whatever width its pane gets. On one line while there is room for every part at a usable
size; narrower, the sensitivity/specificity move under the slider (a second line), the bar and the
slider shrink, and last the name ends in "…" (whole in its tooltip). Its minimum width is that of
the two-line form, so the pane never scrolls sideways.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSlider, QWidget

from inference.api import LabelCard, ValidationCurve

STEPS = 1000  # slider resolution: 0.001
POSITIVE = QColor("#d9534f")
NEGATIVE = QColor("#5b8db8")
ROW_STYLE = "QFrame#findingRow { border: 2px solid transparent; }"
SELECTED_STYLE = "QFrame#findingRow { background: palette(base); border: 2px solid palette(highlight); }"
DASH = "—"
WIDEST_THRESHOLD = "0.000"
WIDEST_PERFORMANCE = "Se 0.00 · Sp 0.00"
LEAST_SLIDER = 40  # px: still draggable (and the arrow keys work at any width)
ONE_LINE_SLIDER = 60  # the slider is not squeezed below this before Se/Sp moves under it
NAME_LEAST_CHARS = 3  # "Eff…": the name elides no further
SPACING = 4
MARGINS = (4, 2, 4, 2)


def is_positive(probability: float | None, threshold: float) -> bool:
    """A finding is positive at ``probability >= threshold`` (the triage engine's rule)."""
    return probability is not None and probability >= threshold


def performance_text(curve: ValidationCurve | None, threshold: float) -> str:
    """'Se 0.93 · Sp 0.61' from a ValidationCurve, dashes without one."""
    if curve is None or not curve.thresholds:
        return f"Se {DASH} · Sp {DASH}"
    se, sp = curve.at(threshold)
    return f"Se {se:.2f} · Sp {sp:.2f}"


def bold_width(font: QFont, text: str) -> int:
    """Width of ``text`` in the bold form of ``font`` (positive findings are named in bold)."""
    bold = QFont(font)
    bold.setBold(True)
    return QFontMetrics(bold).horizontalAdvance(text)


class ProbabilityBar(QWidget):
    """Horizontal bar of a probability with the threshold drawn as a marker."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._probability: float | None = None
        self._threshold = 0.5
        self.setMinimumSize(self.fontMetrics().horizontalAdvance("0.00") + 12, 16)  # its figure whole

    def set_values(self, probability: float | None, threshold: float) -> None:
        self._probability, self._threshold = probability, threshold
        p = DASH if probability is None else f"{probability:.3f}"
        self.setAccessibleName(f"Probability {p}, threshold {threshold:.3f}")
        self.setToolTip(f"Probability {p} (threshold {threshold:.3f})")
        self.update()

    def positive(self) -> bool:
        return is_positive(self._probability, self._threshold)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(140, 18)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        qp = QPainter(self)
        qp.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(0.5, 2.5, -0.5, -2.5)
        qp.setPen(QPen(self.palette().mid().color()))
        qp.setBrush(self.palette().base())
        qp.drawRoundedRect(r, 3, 3)
        if self._probability is not None:
            fill = QRectF(r.left(), r.top(), r.width() * min(max(self._probability, 0.0), 1.0), r.height())
            qp.setPen(Qt.PenStyle.NoPen)
            qp.setBrush(POSITIVE if self.positive() else NEGATIVE)
            qp.drawRoundedRect(fill, 3, 3)
        x = r.left() + r.width() * min(max(self._threshold, 0.0), 1.0)
        qp.setPen(QPen(self.palette().text().color(), 2))
        qp.drawLine(int(round(x)), 0, int(round(x)), self.height())
        qp.setPen(self.palette().text().color())
        text = DASH if self._probability is None else f"{self._probability:.2f}"
        qp.drawText(
            r.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, text
        )
        qp.end()


class FindingName(QLabel):
    """The finding's name, ending in "…" when its column is too narrow; whole in the tooltip, with
    the card's validation figures."""

    def __init__(self, label: LabelCard, width: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.whole = label.name.replace("_", " ")
        self._width = width
        tip = self.whole
        if label.auroc is not None:
            tip += f"\nValidation AUROC {label.auroc:.3f} (n+ {label.n_positive}, n− {label.n_negative})"
        self.setToolTip(tip)
        self.setText(self.whole)

    def least_width(self) -> int:
        return min(self._width, bold_width(self.font(), self.whole[:NAME_LEAST_CHARS] + "…"))

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(self._width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(self.least_width(), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._elide()

    def setFont(self, font: QFont) -> None:  # noqa: N802 (Qt override: bold when positive)
        super().setFont(font)
        self._elide()

    def _elide(self) -> None:
        room = self.contentsRect().width()
        self.setText(self.fontMetrics().elidedText(self.whole, Qt.TextElideMode.ElideRight, room))


class FindingRow(QFrame):
    """Widgets of one finding; the panel owns the logic."""

    clicked = Signal(str)

    def __init__(self, label: LabelCard, name_width: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findingRow")
        self.setStyleSheet(ROW_STYLE)
        self.name = label.name
        self.curve = label.curve
        self.name_label = FindingName(label, name_width)
        self.bar = ProbabilityBar()
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=STEPS)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(STEPS // 50)
        self.slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.slider.setAccessibleName(f"Threshold for {label.name}")
        self.slider.setMinimumWidth(LEAST_SLIDER)
        self.value_label = QLabel()
        self.value_label.setFixedWidth(self.value_label.fontMetrics().horizontalAdvance(WIDEST_THRESHOLD) + 6)
        self.value_label.setToolTip("Threshold: positive at or above it")
        self.performance_label = QLabel(alignment=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        fm = self.performance_label.fontMetrics()
        self.performance_label.setFixedWidth(fm.horizontalAdvance(WIDEST_PERFORMANCE) + 6)
        self.performance_label.setToolTip("Sensitivity / specificity on the card's validation split")
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(*MARGINS)
        self._grid.setHorizontalSpacing(SPACING)
        self._grid.setVerticalSpacing(0)
        self._one_line: bool | None = None
        self._arrange(one_line=True)
        self.setMinimumWidth(self.least_width())

    # -- fitting ----------------------------------------------------------------------------
    def _fixed_parts(self, one_line: bool) -> int:
        """Margins, spacing, threshold and (on one line) Se/Sp: what does not shrink."""
        left, _, right, _ = MARGINS
        figures = self.performance_label.minimumWidth() + SPACING if one_line else 0
        parts = self.value_label.minimumWidth() + figures
        return left + right + 3 * SPACING + parts

    def least_width(self) -> int:
        """The narrowest the row fits in: two lines, bar and slider at their least, the name elided."""
        least = self.name_label.least_width() + self.bar.minimumWidth() + LEAST_SLIDER
        return self._fixed_parts(one_line=False) + least

    def one_line_width(self) -> int:
        """What the row needs on one line at its comfortable size (the panel's size hint)."""
        shrinking = self.name_label.sizeHint().width() + self.bar.sizeHint().width()
        return self._fixed_parts(one_line=True) + shrinking + self.slider.sizeHint().width()

    def _fits_one_line(self, width: int) -> bool:
        least = self.name_label.sizeHint().width() + self.bar.minimumWidth() + ONE_LINE_SLIDER
        return width >= self._fixed_parts(one_line=True) + least

    def _arrange(self, one_line: bool) -> None:
        if one_line == self._one_line:
            return
        self._one_line = one_line
        for w in (self.name_label, self.bar, self.slider, self.value_label, self.performance_label):
            self._grid.removeWidget(w)
        self._grid.addWidget(self.name_label, 0, 0)
        self._grid.addWidget(self.bar, 0, 1)
        self._grid.addWidget(self.slider, 0, 2)
        self._grid.addWidget(self.value_label, 0, 3)
        if one_line:
            self._grid.addWidget(self.performance_label, 0, 4)
        else:  # under the slider and the threshold, right-aligned with them
            self._grid.addWidget(self.performance_label, 1, 1, 1, 3, Qt.AlignmentFlag.AlignRight)
        for column, stretch in enumerate((0, 2, 2, 0, 0)):
            self._grid.setColumnStretch(column, stretch)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        width = event.size().width()
        self._arrange(self._fits_one_line(width))
        # the name keeps its whole width while the bar and the slider can give way
        room = width - self._fixed_parts(bool(self._one_line)) - self.bar.minimumWidth() - LEAST_SLIDER
        natural = self.name_label.sizeHint().width()
        self.name_label.setMinimumWidth(max(self.name_label.least_width(), min(room, natural)))
        super().resizeEvent(event)

    # -- values -----------------------------------------------------------------------------
    def refresh(self, probability: float | None, threshold: float) -> None:
        """Redraw bar, highlight and labels for these values (slider not touched)."""
        self.bar.set_values(probability, threshold)
        font = QFont(self.name_label.font())
        font.setBold(self.bar.positive())
        self.name_label.setFont(font)
        self.name_label.setStyleSheet(f"color: {POSITIVE.name()};" if self.bar.positive() else "")
        self.value_label.setText(f"{threshold:.3f}")
        self.performance_label.setText(performance_text(self.curve, threshold))

    def positive(self) -> bool:
        return self.bar.positive()

    def set_selected(self, selected: bool) -> None:
        self.setStyleSheet(SELECTED_STYLE if selected else ROW_STYLE)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.name)
        super().mousePressEvent(event)
