"""Per-finding probabilities, thresholds and the validation figures they imply.

One row per shown label of a :class:`~inference.api.ModelCard`: name, a probability bar with the
threshold marked, a threshold slider, and the sensitivity/specificity the card's validation curve
predicts at that threshold. An operating-point selector sets every threshold at once.

The panel does not own the thresholds: it shows the worklist's (:meth:`FindingsPanel.show_thresholds`)
and reports the reader's edits (``thresholdsEdited``, once per slider release or operating point).
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from inference.api import OPERATING_POINTS, LabelCard, ModelCard

STEPS = 1000  # slider resolution: 0.001
CUSTOM = "custom"
OPERATING_POINT_TITLES = {
    "high_sensitivity": "High sensitivity",
    "youden": "Youden",
    "high_specificity": "High specificity",
    CUSTOM: "Custom",
}
POSITIVE = QColor("#d9534f")
NEGATIVE = QColor("#5b8db8")
ROW_STYLE = "QFrame#findingRow { border: 2px solid transparent; }"
SELECTED_STYLE = "QFrame#findingRow { background: palette(base); border: 2px solid palette(highlight); }"
DASH = "—"


def is_positive(probability: float | None, threshold: float) -> bool:
    """A finding is positive at ``probability >= threshold`` (the triage engine's rule)."""
    return probability is not None and probability >= threshold


class ProbabilityBar(QWidget):
    """Horizontal bar of a probability with the threshold drawn as a marker."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._probability: float | None = None
        self._threshold = 0.5
        self.setMinimumSize(80, 16)

    def set_values(self, probability: float | None, threshold: float) -> None:
        self._probability, self._threshold = probability, threshold
        p = DASH if probability is None else f"{probability:.3f}"
        self.setAccessibleName(f"Probability {p}, threshold {threshold:.3f}")
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


class FindingRow(QFrame):
    """Widgets of one finding; the panel owns the logic."""

    clicked = Signal(str)

    def __init__(self, label: LabelCard, name_width: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findingRow")
        self.setStyleSheet(ROW_STYLE)
        self.name = label.name
        self.curve = label.curve
        self.name_label = QLabel(label.name.replace("_", " "))
        self.name_label.setFixedWidth(name_width)
        if label.auroc is not None:
            self.name_label.setToolTip(
                f"Validation AUROC {label.auroc:.3f} (n+ {label.n_positive}, n− {label.n_negative})"
            )
        self.bar = ProbabilityBar()
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=STEPS)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(STEPS // 50)
        self.slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.slider.setAccessibleName(f"Threshold for {label.name}")
        self.slider.setMinimumWidth(110)
        self.value_label = QLabel()
        self.value_label.setFixedWidth(self.value_label.fontMetrics().horizontalAdvance("0.000  "))
        self.performance_label = QLabel()
        fm = self.performance_label.fontMetrics()
        self.performance_label.setFixedWidth(fm.horizontalAdvance("Se 0.00 · Sp 0.00  "))
        self.performance_label.setToolTip("Sensitivity / specificity on the card's validation split")
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.addWidget(self.name_label)
        row.addWidget(self.bar, 2)
        row.addWidget(self.slider, 2)
        row.addWidget(self.value_label)
        row.addWidget(self.performance_label)

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


def performance_text(curve, threshold: float) -> str:
    """'Se 0.93 · Sp 0.61' from a ValidationCurve, dashes without one."""
    if curve is None or not curve.thresholds:
        return f"Se {DASH} · Sp {DASH}"
    se, sp = curve.at(threshold)
    return f"Se {se:.2f} · Sp {sp:.2f}"


class FindingsPanel(QWidget):
    """Probabilities and thresholds of every shown finding of one model card."""

    thresholdsEdited = Signal(dict)  # noqa: N815  every shown threshold, after the reader's edit
    findingSelected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._card: ModelCard | None = None
        self._rows: dict[str, FindingRow] = {}
        self._thresholds: dict[str, float] = {}
        self._emitted: dict[str, float] = {}
        self._probabilities: dict[str, float] = {}
        self._selected: str | None = None
        self._combo = QComboBox()
        self._combo.setAccessibleName("Operating point")
        for key in (*OPERATING_POINTS, CUSTOM):
            self._combo.addItem(OPERATING_POINT_TITLES.get(key, key), key)
        self._combo.activated.connect(self._on_operating_point_activated)
        top = QHBoxLayout()
        top.addWidget(QLabel("Operating point:"))
        top.addWidget(self._combo, 1)
        self._rows_box = QVBoxLayout()
        self._rows_box.setSpacing(0)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(self._rows_box)
        body_layout.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.addLayout(top)
        root.addWidget(scroll, 1)

    # -- card -------------------------------------------------------------------------------
    def set_card(self, card: ModelCard) -> None:
        """One row per shown label at the card's default operating point; no signal is emitted."""
        for row in self._rows.values():
            self._rows_box.removeWidget(row)
            row.deleteLater()
        self._card, self._rows, self._selected, self._thresholds = card, {}, None, {}
        bold = QFont(self.font())
        bold.setBold(True)  # positive names are bold: size the column for that, for this card's names
        metrics = QFontMetrics(bold)
        name_width = max(
            (metrics.horizontalAdvance(n.replace("_", " ") + "  ") for n in card.shown_labels), default=0
        )
        for name in card.shown_labels:
            row = FindingRow(card.label(name), name_width)
            row.slider.valueChanged.connect(lambda v, n=name: self._on_slider_moved(n, v))
            row.slider.sliderReleased.connect(self._emit_if_changed)
            row.clicked.connect(self._select)
            self._rows_box.addWidget(row)
            self._rows[name] = row
        self._apply(card.thresholds())
        self._emitted = dict(self._thresholds)
        self._sync_combo()

    def card(self) -> ModelCard | None:
        return self._card

    def rows(self) -> dict[str, FindingRow]:
        return dict(self._rows)

    # -- values -----------------------------------------------------------------------------
    def set_probabilities(self, probs: Mapping[str, float] | None) -> None:
        """Show one image's scores; None (or a missing label) shows dashes."""
        self._probabilities = {k: float(v) for k, v in (probs or {}).items()}
        for name, row in self._rows.items():
            row.refresh(self._probabilities.get(name), self._thresholds[name])

    def shown_thresholds(self) -> dict[str, float]:
        return dict(self._thresholds)

    def show_thresholds(self, thresholds: Mapping[str, float]) -> None:
        """Display the owner's thresholds (unknown names ignored); emits nothing."""
        self._apply(thresholds)
        self._emitted = dict(self._thresholds)
        self._sync_combo()

    def edit_thresholds(self, thresholds: Mapping[str, float]) -> None:
        """Change some thresholds as the reader would; emits thresholdsEdited once if anything changed."""
        self._apply(thresholds)
        self._sync_combo()
        self._emit_if_changed()

    def operating_point(self) -> str:
        """The selector's key: one of OPERATING_POINTS or 'custom'."""
        return str(self._combo.currentData())

    def set_operating_point(self, name: str) -> None:
        """Set every threshold from the card's ``name`` operating point; emits once if changed."""
        if self._card is None or name == CUSTOM:
            self._combo.setCurrentIndex(self._combo.findData(CUSTOM))
            return
        self._apply(self._card.thresholds(name))
        self._combo.setCurrentIndex(self._combo.findData(name))
        self._emit_if_changed()

    def _apply(self, thresholds: Mapping[str, float]) -> None:
        for name, value in thresholds.items():
            if name not in self._rows:
                continue
            value = min(max(float(value), 0.0), 1.0)
            self._thresholds[name] = value
            row = self._rows[name]
            row.slider.blockSignals(True)
            row.slider.setValue(round(value * STEPS))
            row.slider.blockSignals(False)
            row.refresh(self._probabilities.get(name), value)

    def _sync_combo(self) -> None:
        """Show the operating point whose thresholds equal the current ones, else Custom."""
        key = CUSTOM
        if self._card is not None:
            for point in (self._card.default_operating_point, *OPERATING_POINTS):
                if point in OPERATING_POINTS and self._card.thresholds(point) == self._thresholds:
                    key = point
                    break
        self._combo.setCurrentIndex(self._combo.findData(key))

    def _on_operating_point_activated(self, index: int) -> None:
        self.set_operating_point(str(self._combo.itemData(index)))

    def _on_slider_moved(self, name: str, value: int) -> None:
        threshold = value / STEPS
        self._thresholds[name] = threshold
        self._rows[name].refresh(self._probabilities.get(name), threshold)
        self._combo.setCurrentIndex(self._combo.findData(CUSTOM))
        if not self._rows[name].slider.isSliderDown():  # while dragging, emit once on release
            self._emit_if_changed()

    def _emit_if_changed(self) -> None:
        if self._thresholds != self._emitted:
            self._emitted = dict(self._thresholds)
            self.thresholdsEdited.emit(dict(self._thresholds))

    # -- selection --------------------------------------------------------------------------
    def selected_finding(self) -> str | None:
        return self._selected

    def select_finding(self, index: int) -> None:
        """Select the ``index``-th shown finding (0-based, for keys 1–9); out of range is ignored."""
        names = list(self._rows)
        if 0 <= index < len(names):
            self._select(names[index])

    def _select(self, name: str) -> None:
        if name == self._selected or name not in self._rows:
            return
        self._selected = name
        for n, row in self._rows.items():
            row.set_selected(n == name)
        self.findingSelected.emit(name)
