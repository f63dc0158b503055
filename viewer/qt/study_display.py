"""The reading pane: the current study's caption, image and findings, its heat maps and view toggles."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QMainWindow

from inference.api import Heatmap, XRayImage
from viewer.core.claim_text import read_only_note
from viewer.core.settings import Settings
from viewer.core.worklist import RowState, StudyRow, study_caption
from viewer.core.wrappable import wrappable
from viewer.qt.findings_panel import FindingsPanel
from viewer.qt.image_view import ImageView
from viewer.qt.session import TriageSession
from viewer.qt.similar_panel import SimilarPanel
from viewer.qt.worklist_panel import WorklistPanel


class StudyDisplay(QObject):
    """Shows the worklist's current study; its image and heat maps are read and computed by the session.

    A QObject child of the window: it lives as long as the window, and the session's signals reach its
    slots on the GUI thread, as they reached the window's.
    """

    def __init__(
        self,
        window: QMainWindow,
        session: TriageSession,
        settings: Settings,
        worklist: WorklistPanel,
        current_row: Callable[[], StudyRow | None],
        panes: tuple[QLabel, ImageView, FindingsPanel, SimilarPanel],  # caption, image, findings, similar
        say: Callable[..., None],  # say(text[, timeout_ms]) in the status bar
        settings_changed: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self._window, self._session, self._settings = window, session, settings
        self._worklist, self._current_row = worklist, current_row
        self._caption, self._image_view, self._findings, self._similar = panes
        self._say, self._settings_changed = say, settings_changed
        self._image_uid: str | None = None
        self._other_image = ""  # what the caption adds while another image of the study is shown
        self._image_view.set_user_presets(settings.window_presets)
        self._image_view.userPresetsChanged.connect(self._keep_window_presets)

    @property
    def image_uid(self) -> str | None:
        """The study whose image the view shows (None while it loads)."""
        return self._image_uid

    # -- the current study ----------------------------------------------------------------------
    def show_study(self, _uid: str | None) -> None:
        """The worklist moved: show the new study's findings now, its image once read."""
        self._image_uid = None
        self._other_image = ""
        row = self._current_row()
        if row is None:
            self._image_view.set_image(None, "")
            self._findings.set_probabilities(None)
            self._caption.setText(" ")
            return
        self._show_probabilities(row)
        if row.state is RowState.ERROR:
            self._image_view.set_image(None, f"Cannot show this study.\n{wrappable(row.reason)}")
            return
        self._image_view.set_image(None, "Loading…")
        self._session.request_image(row.uid)

    def _show_probabilities(self, row: StudyRow) -> None:
        other = f"  ·  {self._other_image}" if self._other_image else ""
        holder = self._session.claims.holder_of(row.uid)  # a team store's: someone else reads it
        other += f"  ·  {read_only_note(holder)}" if holder else ""
        self._caption.setText(study_caption(row, self._settings.deidentify) + other)
        scored = row.state is RowState.SCORED
        self._findings.set_probabilities(row.probabilities if scored else None)
        if scored and self._findings.selected_finding() is None and row.top_finding:
            self.select_finding_named(row.top_finding)

    def refresh(self) -> None:
        """Scores or thresholds changed: update the findings of the shown study (image stays)."""
        row = self._current_row()
        if row is None:
            return
        self._show_probabilities(row)
        shown = self._image_view.image()
        if row.uid == self._image_uid and shown is not None and shown.meta.path != row.meta.path:
            self._session.request_image(row.uid)  # scored, its frontal leads (shown first: its lateral)
        if row.uid == self._image_uid and self._image_view.heatmap() is None:
            self._request_heatmap()
        self._image_view.set_threshold(self._threshold_of_shown_map())

    def on_image_ready(self, uid: str, image: XRayImage) -> None:
        if uid != self._worklist.current_uid():
            return
        self._image_uid = uid
        self._image_view.set_image(image)
        self._session.audit("opened", uid)
        row = self._current_row()
        if row is not None and row.state is RowState.NOT_SCORED:
            self._say(f"Not scored: {row.reason}")
        self._request_heatmap()
        following = self._worklist.proxy.uid_at(self._worklist.proxy.row_of(uid) + 1)
        if following is not None:
            self._session.prefetch_image(following)  # ↓ then shows the next film at once

    def on_image_failed(self, uid: str, reason: str) -> None:
        if uid == self._worklist.current_uid():
            self._image_view.set_image(None, f"Cannot show this study.\n{wrappable(reason)}")

    def show_other_image(self, image: XRayImage, note: str) -> None:
        """Another image of the shown study (a lateral, an added view) in place of its scored one, named
        in the caption: no heat map and no export on it (both are the scored image's)."""
        row = self._current_row()
        if row is None:
            return
        self._image_uid, self._other_image = None, note
        self._image_view.set_image(image)
        self._show_probabilities(row)

    def show_scored_image(self) -> None:
        """Back to the shown study's scored image (from the cache, or read again)."""
        row = self._current_row()
        self._other_image = ""
        if row is not None and row.state is not RowState.ERROR:
            self._show_probabilities(row)
            self._session.request_image(row.uid)

    # -- findings and heat maps -----------------------------------------------------------------
    def select_finding(self, index: int) -> None:
        self._worklist.hold()  # the reader works on the study shown: it stays
        self._findings.select_finding(index)

    def select_finding_named(self, name: str) -> None:
        card = self._findings.card()
        if card is not None and name in card.shown_labels:
            self._findings.select_finding(card.shown_labels.index(name))

    def on_finding_selected(self, _name: str) -> None:
        self._image_view.set_heatmap(None)
        self._request_heatmap()

    def _request_heatmap(self) -> None:
        finding = self._findings.selected_finding()
        uid = self._image_uid
        if uid is None or finding is None or not self._image_view.overlay_visible():
            return
        current = self._image_view.heatmap()
        if current is not None and current.label == finding:
            return
        if self._session.request_heatmap(uid, finding):
            self._say(f"Computing Grad-CAM for {finding.replace('_', ' ')}…", 3000)

    def on_heatmap_ready(self, key: object, heatmap: Heatmap) -> None:
        uid = self._image_uid or ""
        if key == self._session.heatmap_key(uid, self._findings.selected_finding() or ""):
            self._image_view.set_heatmap(heatmap, self._threshold_of(heatmap.label))
            self._session.audit("heatmap-viewed", uid, label=heatmap.label)
            shown = self._window.statusBar().currentMessage()
            if not shown or shown.startswith("Computing Grad-CAM"):  # never over another message
                # the map's probability is the scored input's: the row's, as the reader can check
                finding = heatmap.label.replace("_", " ")
                self._say(f"Grad-CAM of {finding} (p = {heatmap.probability:.2f}): {heatmap.method}")

    def on_heatmap_failed(self, _key: object, reason: str) -> None:
        self._say(f"Grad-CAM unavailable: {reason}")

    def on_thresholds_edited(self, thresholds: dict) -> None:
        """The reader moved a threshold: the worklist takes it, the panel shows it, settings keep it."""
        self._session.set_thresholds(thresholds)
        current = self._session.worklist_model.worklist.thresholds
        self._findings.show_thresholds(current)
        self._image_view.set_threshold(self._threshold_of_shown_map())  # faint or full, as it now is
        self._similar.recaption()  # its findings and positives are under the thresholds too (no search)
        if self._session.info is not None:
            self._settings.store_thresholds(self._session.info.card, current)
            self._settings_changed()

    # -- view toggles (H, I, R): the reader works on the study shown, so the worklist holds it ----
    def set_overlay_visible(self, visible: bool) -> None:
        self._worklist.hold()
        self._image_view.set_overlay_visible(visible)
        if visible:
            self._request_heatmap()

    def set_inverted(self, inverted: bool) -> None:
        self._worklist.hold()
        self._image_view.set_inverted(inverted)

    def reset_view(self) -> None:
        self._worklist.hold()
        self._image_view.reset_view()

    def change_view(self, change: Callable[[ImageView], None]) -> None:
        """Zoom and window keys (Ctrl+0, Ctrl+1, Ctrl+=, Ctrl+-, [ ] , .): the worklist holds the study."""
        self._worklist.hold()
        change(self._image_view)

    def _threshold_of(self, finding: str) -> float | None:
        return self._session.worklist_model.worklist.thresholds.get(finding)

    def _threshold_of_shown_map(self) -> float | None:
        heatmap = self._image_view.heatmap()
        return None if heatmap is None else self._threshold_of(heatmap.label)

    def share_window_presets(self, other: ImageView) -> None:
        """``other`` (the compare pane's view) offers the reader's presets too; one saved or deleted in
        either view is the other's and the settings' at once."""
        other.set_user_presets(self._settings.window_presets)
        self._image_view.userPresetsChanged.connect(other.set_user_presets)
        other.userPresetsChanged.connect(self._image_view.set_user_presets)
        other.userPresetsChanged.connect(self._keep_window_presets)

    def _keep_window_presets(self, presets: dict) -> None:
        """The reader saved or deleted a window preset: settings keep them (level, width in units)."""
        self._settings.window_presets = {name: [level, width] for name, (level, width) in presets.items()}
        self._settings_changed()
