"""The CXR Triage main window: worklist (left), image (centre), findings (right).

Widgets only: all background work is the :class:`TriageSession`'s. This class wires the two,
keeps the settings, and holds the reading pane's controller (:class:`StudyDisplay`) and the command
objects (open, review, archive, gate override, model, export) that the menu actions, each with its
shortcut, call.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from inference.runtime.device import torch_installed
from inference.worklist.ranking import high_specificity_points
from viewer.core.settings import Settings
from viewer.core.wording import APP_NAME
from viewer.core.worklist import RowState, StudyRow
from viewer.qt.actions import build_actions, build_menus, build_worklist_menu
from viewer.qt.archive_commands import ArchiveCommands
from viewer.qt.banners import DemoBanner, StoreBanner
from viewer.qt.compare_view import ComparePane
from viewer.qt.comparison import Comparison
from viewer.qt.elided_label import ElidedLabel
from viewer.qt.export_commands import ExportCommands
from viewer.qt.findings_panel import FindingsPanel
from viewer.qt.gate_override import GateOverride
from viewer.qt.help_dialogs import show_about, show_shortcuts
from viewer.qt.image_requests import FileImages
from viewer.qt.image_view import ImageView
from viewer.qt.model_commands import ModelCommands
from viewer.qt.model_thread import ModelInfo
from viewer.qt.open_commands import OpenCommands
from viewer.qt.pacs_dialog import PacsDialog, Tab
from viewer.qt.pane_layout import steady_panes
from viewer.qt.review_commands import ReviewCommands
from viewer.qt.session import TriageSession
from viewer.qt.similar_panel import SimilarPanel
from viewer.qt.status_widgets import ProgressWidget, device_words, model_details, model_text
from viewer.qt.study_display import StudyDisplay
from viewer.qt.study_images_strip import StudyImagesStrip
from viewer.qt.unreachable_banner import UnreachableBanner, may_close
from viewer.qt.welcome import WelcomePane
from viewer.qt.worklist_panel import WorklistPanel

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """One worklist, one image, one model."""

    def __init__(
        self,
        session: TriageSession,
        settings: Settings,
        demo_package: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.demo_package = demo_package
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self._build_widgets()
        say, hold, save = self.show_message, self.worklist.hold, self._schedule_save
        panes = self.caption, self.image_view, self.findings, self.similar
        self.display = StudyDisplay(
            self, session, settings, self.worklist, self.current_row, panes, say, save
        )
        self.display.share_window_presets(self.compare_pane.image_view)
        self.opening = OpenCommands(self, session, settings, self.image_view, save)
        self.models = ModelCommands(self, session, say)
        self.reviews = ReviewCommands(self, session, self.current_row, hold, say, self.worklist.select_uid)
        self.gate_override = GateOverride(self, session, settings, self.current_row, hold, say)
        self.archive = ArchiveCommands(self, session, self.worklist.selected_uids, say)
        self.compare = Comparison(
            self.compare_pane, self.file_images, session,
            self.current_row, self.similar.found, lambda: settings.deidentify, say, self,
        )  # fmt: skip
        self.actions_ = build_actions(self, has_import=torch_installed())  # import needs the training stack
        build_menus(self, self.actions_, [self.worklist, self.image_view])
        build_worklist_menu(self.worklist.table, self.actions_)
        recent = self.actions_.recent_menu
        assert recent is not None
        recent.aboutToShow.connect(lambda: self.opening.fill_recent_menu(recent))
        shown = self.image_view, self.display
        self.exports = ExportCommands(self, session, settings, self.current_row, shown, hold, say, save)
        self.pacs = PacsDialog(session, settings, save, self.worklist.current_uid, self)
        self._save_timer = QTimer(self, singleShot=True, interval=500)
        self._save_timer.timeout.connect(self._save_settings)
        self._connect()
        self._update_study_actions()
        self._restore()
        self._show_store_notice(session.store_notice)

    # -- construction ---------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.banner = DemoBanner(self.demo_package)
        self.store_banner = StoreBanner()
        self.unreachable_banner = UnreachableBanner(self.session)  # a team store's server away
        self.worklist = WorklistPanel(self.session.worklist_model, self.settings.worklist_columns)
        self.image_view = ImageView()
        self.caption = ElidedLabel(" ", objectName="studyCaption")
        self.caption.setStyleSheet("padding: 2px 4px;")
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        centre_layout.addWidget(self.caption)
        centre_layout.addWidget(self.image_view, 1)
        self.welcome = WelcomePane()
        centre_layout.addWidget(self.welcome, 1)
        self.sample_window: MainWindow | None = None  # Help > Open Sample Studies
        self.file_images = FileImages(self.session, self)  # other views, priors, similar studies
        self.study_images = StudyImagesStrip(
            self.file_images,
            self.current_row,
            lambda: self.display.show_scored_image(),
            lambda image, note: self.display.show_other_image(image, note),
        )
        centre_layout.addWidget(self.study_images)
        self.compare_pane = ComparePane()
        reading = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        reading.addWidget(centre)  # the study being read stays; a prior or similar study beside it
        reading.addWidget(self.compare_pane)
        self.compare_pane.setMinimumWidth(200)
        self.findings = FindingsPanel()
        self.similar = SimilarPanel(
            self.session.backend.read_image,
            lambda: self.session.worklist_model.worklist.thresholds,
            deidentify=lambda: self.settings.deidentify,
            row_of=lambda uid: self.session.worklist_model.worklist.get(uid),
        )
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.findings)
        right.addWidget(self.similar)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.worklist)
        self.splitter.addWidget(reading)
        self.splitter.addWidget(right)
        steady_panes(self.splitter, right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([680, 680, max(560, self.findings.sizeHint().width())])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.store_banner)
        layout.addWidget(self.unreachable_banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.model_label = QLabel(model_text(None))
        self.progress = ProgressWidget()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.model_label)
        self.image_view.set_image(None, "Open a folder of radiographs (Ctrl+O) or drop files here.")

    def _connect(self) -> None:
        s = self.session
        s.modelLoaded.connect(self._on_model_loaded)
        s.modelFailed.connect(self._on_model_failed)
        s.progressChanged.connect(self.progress.set_progress)
        s.idle.connect(self.progress.finish)
        s.message.connect(self.show_message)
        s.storeReadOnly.connect(self._show_store_notice)
        s.imageReady.connect(self.display.on_image_ready)
        s.imageFailed.connect(self.display.on_image_failed)
        s.heatmapReady.connect(self.display.on_heatmap_ready)
        s.heatmapFailed.connect(self.display.on_heatmap_failed)
        s.taskFinished.connect(lambda *_: self.progress.finish())
        s.taskFinished.connect(self.models.on_task_finished)  # after: an import loads (progress again)
        s.scoringDone.connect(self._on_scoring_done)
        s.worklist_model.reranked.connect(self.display.refresh)
        s.worklist_model.reranked.connect(self._similar_catch_up)
        s.worklist_model.reranked.connect(self._update_study_actions)
        self.worklist.currentStudyChanged.connect(lambda _uid: self._update_study_actions())
        self.progress.cancelRequested.connect(self.cancel_work)
        self.welcome.openFolderRequested.connect(self.opening.folder_dialog)
        self.welcome.openSamplesRequested.connect(self.open_samples)
        s.idle.connect(self._update_welcome)
        rows = s.worklist_model
        for changed in (rows.modelReset, rows.rowsInserted, rows.rowsRemoved):
            changed.connect(self._update_welcome)
        self.worklist.currentStudyChanged.connect(s.claims.show_study)  # before the caption
        s.claims.changed.connect(lambda _uid: self.display.refresh())  # "being read by" in the caption
        self.worklist.currentStudyChanged.connect(self.display.show_study)
        self.worklist.currentStudyChanged.connect(self.similar.show_study)
        self.similar.studyActivated.connect(self.compare.compare_with_similar)  # beside, never instead
        self.worklist.currentStudyChanged.connect(self.study_images.show_study)
        self.worklist.currentStudyChanged.connect(self.compare.on_study_changed)
        s.worklist_model.reranked.connect(self.compare.on_study_changed)  # a prior may have arrived
        s.worklist_model.reranked.connect(self.study_images.refresh)  # or a lateral
        s.worklist_model.reranked.connect(self.similar.recaption)  # at the reader's thresholds
        self.statusBar().addPermanentWidget(self.compare.prior_hint)
        self.findings.thresholdsEdited.connect(self.display.on_thresholds_edited)
        self.findings.findingSelected.connect(self.display.on_finding_selected)
        self.image_view.overlayVisibleChanged.connect(self.actions_.heatmap.setChecked)
        self.image_view.invertedChanged.connect(self.actions_.invert.setChecked)

    def _restore(self) -> None:
        st = self.settings
        if st.window_geometry:
            self.restoreGeometry(QByteArray(base64.b64decode(st.window_geometry)))
        else:  # as large as the screen allows, up to 1600×900
            room = self.screen().availableGeometry()
            self.resize(min(1600, room.width()), min(900, room.height()))
        if st.window_state:
            self.restoreState(QByteArray(base64.b64decode(st.window_state)))
        if st.splitter_state:
            self.splitter.restoreState(QByteArray(base64.b64decode(st.splitter_state)))
        self.actions_.deidentify.setChecked(st.deidentify)
        self.session.worklist_model.set_deidentify(st.deidentify)
        self.actions_.heatmap.setChecked(self.image_view.overlay_visible())

    # -- opening: OpenCommands' (open_paths stays for its callers, the drop events for Qt) ---------
    def open_paths(self, paths: list[Path], replace: bool = True) -> None:
        self.opening.open_paths(paths, replace)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        self.opening.drag_enter(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        self.opening.drop(event)

    # -- model ----------------------------------------------------------------------------------
    def load_model(self, package: Path) -> None:
        self.banner.loading(package)  # now, not when it has loaded: the panes must not move under the reader
        self.models.load(package)

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.model_label.setText(model_text(info))
        self.model_label.setToolTip(model_details(info))
        self.banner.loaded(info)
        self.settings.last_model = str(info.package)
        self.similar.set_source(self.session.store, info.card.weights_sha256)
        self.findings.set_card(info.card)
        self.session.worklist_model.set_priority_points(high_specificity_points(info.card))
        self.session.worklist_model.set_thresholds(self.settings.thresholds_for(info.card))
        self.findings.show_thresholds(self.session.worklist_model.worklist.thresholds)
        self.worklist.set_findings(info.card.shown_labels)
        self._schedule_save()
        self.show_message(f"Loaded {info.card.name} {info.card.version} on {device_words(info.device)}")
        self.display.refresh()

    def _on_model_failed(self, reason: str) -> None:
        self.show_message(f"Model not loaded: {reason}")
        if self.session.info is None:
            self.model_label.setText("No model loaded")
        self.progress.finish()

    # -- the current study (shown by StudyDisplay) -----------------------------------------------
    def current_row(self) -> StudyRow | None:
        uid = self.worklist.current_uid()
        return None if uid is None else self.session.worklist_model.worklist.get(uid)

    def move_study(self, delta: int) -> None:
        self.worklist.move(delta)

    def next_unreviewed(self) -> None:
        """Space: on to the next study nobody has reviewed or holds; it marks nothing."""
        if not self.worklist.next_unreviewed():
            self.show_message("No unreviewed study below this one", 5000)

    def select_finding_named(self, name: str) -> None:
        self.display.select_finding_named(name)  # scripts/screenshot.py calls it on the window

    def _on_scoring_done(self) -> None:
        """The ranking is complete: rank 1 opens unless the reader holds a study; the neighbours of a
        study that stays shown are searched again (studies scored since may be among them)."""
        shown = self.worklist.current_uid()
        self.worklist.open_top()
        if self.worklist.current_uid() == shown:
            self.similar.refresh()

    def _similar_catch_up(self) -> None:
        """Results arrived: the shown study, once scored, is searched again if it was not searchable."""
        row = self.current_row()
        if row is not None and row.state is RowState.SCORED:
            self.similar.refresh_if_scored(row.uid)

    def set_deidentify(self, hide: bool) -> None:
        self.session.worklist_model.set_deidentify(hide)
        self.worklist.proxy.refilter()
        self.settings.deidentify = hide
        self.display.refresh()  # the caption, built in one place (with the image shown, the claim)
        self.similar.recaption()
        self.compare.refresh_caption()
        self._schedule_save()

    # -- study store and work -------------------------------------------------------------------
    def _update_study_actions(self) -> None:
        row = self.current_row()
        self.actions_.score_anyway.setEnabled(row is not None and row.gate_stopped)

    def _show_store_notice(self, notice: str) -> None:
        """The store cannot be written: a banner for as long as the window is open, said once."""
        if self.store_banner.show_notice(notice):
            self.show_message(notice)

    def _update_welcome(self) -> None:
        """A store that holds no study, nothing being read into it: the image pane says how to begin."""
        s = self.session
        empty = s.store is not None and not len(s.worklist_model.worklist) and not s.reading_files
        self.welcome.setVisible(empty)
        self.image_view.setVisible(not empty)

    def open_samples(self) -> None:
        """The bundled samples in a window of their own, in memory (never in this window's store)."""
        from viewer.qt.sample_studies import open_sample_window  # it builds a MainWindow

        if self.sample_window is None or not self.sample_window.isVisible():
            self.sample_window = open_sample_window(self)
        self.sample_window.raise_()
        self.sample_window.activateWindow()

    def cancel_work(self) -> None:
        if self.compare.close():  # Esc takes a comparison away first
            return
        if self.session.busy:
            self.session.cancel()
            self.show_message("Cancelling…")

    def score_queued(self) -> None:
        self.session.score_queued()

    # -- export ---------------------------------------------------------------------------------
    def choose_export_folder(self) -> Path | None:
        return self.exports.choose_folder()

    def export_image(self) -> None:
        self.exports.image()  # ExportCommands' (stays for its callers, like open_paths); done: imageExported

    def export_worklist(self) -> tuple[Path, Path] | None:
        return self.exports.worklist()

    # -- misc -----------------------------------------------------------------------------------
    def show_pacs(self, tab: Tab) -> None:
        self.pacs.show_tab(tab)

    def take_over_study(self) -> None:
        """Ctrl+Shift+T: review the shown study although another reader holds it (the store audits it)."""
        taking = self.session.claims.take_over()
        self.show_message("Taking the study over…" if taking else "Nobody else is reading this study")

    def show_message(self, text: str, timeout_ms: int = 10_000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def show_about(self) -> None:
        show_about(self, self.session.info.card if self.session.info else None)

    def show_shortcuts(self) -> None:
        show_shortcuts(self, self.actions_)

    def _schedule_save(self) -> None:
        self._save_timer.start()

    def _save_settings(self) -> None:
        st = self.settings
        st.window_geometry = base64.b64encode(bytes(self.saveGeometry().data())).decode("ascii")
        st.window_state = base64.b64encode(bytes(self.saveState().data())).decode("ascii")
        st.splitter_state = base64.b64encode(bytes(self.splitter.saveState().data())).decode("ascii")
        try:
            st.save()
        except OSError as exc:
            log.warning("settings not saved: %s", exc)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if not self.session.closed and not may_close(self, self.session):  # kept for a server away
            event.ignore()
            return
        self._save_timer.stop()
        self._save_settings()
        if self.sample_window is not None:
            self.sample_window.close()
        self.similar.shutdown()
        self.pacs.shutdown()
        self.session.close()
        super().closeEvent(event)
