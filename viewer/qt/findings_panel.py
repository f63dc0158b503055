"""Per-finding probabilities, thresholds and the validation figures they imply.

One row per shown label of a :class:`~inference.api.ModelCard`: name, a probability bar with the
threshold marked, a threshold slider, and the sensitivity/specificity the card's validation curve
predicts at that threshold. An operating-point selector sets every threshold at once.

The panel does not own the thresholds: it shows the worklist's (:meth:`FindingsPanel.show_thresholds`)
and reports the reader's edits (``thresholdsEdited``, once per slider release or operating point).
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from inference.api import OPERATING_POINTS, ModelCard
from viewer.qt.finding_row import STEPS, FindingRow, bold_width

CUSTOM = "custom"
OPERATING_POINT_TITLES = {
    "high_sensitivity": "High sensitivity",
    "youden": "Youden",
    "high_specificity": "High specificity",
    CUSTOM: "Custom",
}


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
        self._scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        self._scroll.setWidget(body)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.addLayout(top)
        root.addWidget(self._scroll, 1)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """Wide enough for every row on one line at its comfortable size, beside a vertical scroll bar."""
        hint = super().sizeHint()
        rows = max((row.one_line_width() for row in self._rows.values()), default=0)
        scroll_bar = self._scroll.verticalScrollBar().sizeHint().width()
        return QSize(max(hint.width(), rows + scroll_bar), hint.height())

    # -- card -------------------------------------------------------------------------------
    def set_card(self, card: ModelCard) -> None:
        """One row per shown label at the card's default operating point; no signal is emitted."""
        for row in self._rows.values():
            self._rows_box.removeWidget(row)
            row.deleteLater()
        self._card, self._rows, self._selected, self._thresholds = card, {}, None, {}
        # positive names are bold: size the column for that, for this card's names
        names = (n.replace("_", " ") + "  " for n in card.shown_labels)
        name_width = max((bold_width(self.font(), n) for n in names), default=0)
        for name in card.shown_labels:
            row = FindingRow(card.label(name), name_width)
            row.slider.valueChanged.connect(lambda v, n=name: self._on_slider_moved(n, v))
            row.slider.sliderReleased.connect(self._emit_if_changed)
            row.clicked.connect(self._select)
            self._rows_box.addWidget(row)
            self._rows[name] = row
        self.updateGeometry()  # the size hint follows the card's names
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
