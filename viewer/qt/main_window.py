"""The CXR Triage main window: worklist (left), image (centre), findings (right).

Widgets only: all background work is the :class:`TriageSession`'s. This class wires the two,
keeps the settings, and holds the command objects (review, archive, gate override, model, export)
that the menu actions, each with its shortcut, call.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from inference.api import Heatmap, XRayImage
from inference.runtime.device import torch_installed
from viewer.core.settings import Settings
from viewer.core.worklist import RowState, StudyRow, study_caption
from viewer.qt.actions import build_actions, build_menus, build_worklist_menu, shortcut_table
from viewer.qt.archive_commands import ArchiveCommands
from viewer.qt.export_commands import ExportCommands
from viewer.qt.findings_panel import FindingsPanel
from viewer.qt.gate_override import GateOverride
from viewer.qt.image_view import ImageView
from viewer.qt.model_commands import ModelCommands
from viewer.qt.model_thread import ModelInfo
from viewer.qt.pacs_dialog import PacsDialog, Tab
from viewer.qt.review_commands import ReviewCommands
from viewer.qt.session import TriageSession
from viewer.qt.similar_panel import SimilarPanel
from viewer.qt.status_widgets import ProgressWidget, model_text
from viewer.qt.worklist_panel import WorklistPanel

log = logging.getLogger(__name__)
TITLE = "CXR Triage"
DEMO_BANNER = (
    "DEMO MODEL — trained on a small public sample to show how the viewer works. NOT FOR DIAGNOSTIC USE."
)
IMAGE_FILTER = "Radiographs (*.dcm *.DCM *.png *.jpg *.jpeg);;All files (*)"


def is_demo(info: ModelInfo, demo_package: Path | None) -> bool:
    same = demo_package is not None and info.package.resolve() == Path(demo_package).resolve()
    return same or "demo" in info.card.name.lower()


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
        self._image_uid: str | None = None
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self._build_widgets()
        say, hold = self.show_message, self.worklist.hold
        self.models = ModelCommands(self, session, say)
        self.reviews = ReviewCommands(self, session, self.current_row, hold, say)
        self.gate_override = GateOverride(self, session, settings, self.current_row, hold, say)
        self.archive = ArchiveCommands(self, session, self.worklist.selected_uids, say)
        self.actions_ = build_actions(self, has_import=torch_installed())  # import needs the training stack
        build_menus(self, self.actions_, [self.worklist, self.image_view])
        build_worklist_menu(self.worklist.table, self.actions_)
        assert self.actions_.recent_menu is not None
        self.actions_.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.exports = ExportCommands(self, settings, self.show_message, self._schedule_save)
        self.pacs = PacsDialog(session, settings, self._schedule_save, self.worklist.current_uid, self)
        self._save_timer = QTimer(self, singleShot=True, interval=500)
        self._save_timer.timeout.connect(self._save_settings)
        self._connect()
        self._update_study_actions()
        self._restore()
        self._show_store_notice(session.store_notice)

    # -- construction ---------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.banner = QLabel(DEMO_BANNER, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.banner.setObjectName("demoBanner")
        self.banner.setStyleSheet("background:#b71c1c; color:white; font-weight:bold; padding:4px;")
        self.banner.hide()
        self.store_banner = QLabel("", wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.store_banner.setObjectName("storeBanner")
        self.store_banner.setStyleSheet("background:#f9a825; color:black; padding:4px;")
        self.store_banner.hide()
        self.worklist = WorklistPanel(self.session.worklist_model)
        self.image_view = ImageView()
        self.caption = QLabel(" ", objectName="studyCaption")
        self.caption.setStyleSheet("padding: 2px 4px;")
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        centre_layout.addWidget(self.caption)
        centre_layout.addWidget(self.image_view, 1)
        self.findings = FindingsPanel()
        self.similar = SimilarPanel(
            self.session.backend.read_image, lambda: self.session.worklist_model.worklist.thresholds
        )
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.findings)
        right.addWidget(self.similar)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.worklist)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(right)
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
        s.imageReady.connect(self._on_image_ready)
        s.imageFailed.connect(self._on_image_failed)
        s.heatmapReady.connect(self._on_heatmap_ready)
        s.heatmapFailed.connect(self._on_heatmap_failed)
        s.taskFinished.connect(lambda *_: self.progress.finish())
        s.taskFinished.connect(self.models.on_task_finished)  # after: an import loads (progress again)
        s.scoringDone.connect(self._on_scoring_done)
        s.worklist_model.reranked.connect(self._refresh_current)
        s.worklist_model.reranked.connect(self._similar_catch_up)
        s.worklist_model.reranked.connect(self._update_study_actions)
        self.worklist.currentStudyChanged.connect(lambda _uid: self._update_study_actions())
        self.progress.cancelRequested.connect(self.cancel_work)
        self.worklist.currentStudyChanged.connect(self._on_study_changed)
        self.worklist.currentStudyChanged.connect(self.similar.show_study)
        self.similar.studyActivated.connect(self.worklist.select_uid)
        self.findings.thresholdsEdited.connect(self._on_thresholds_edited)
        self.findings.findingSelected.connect(self._on_finding_selected)
        self.image_view.overlayVisibleChanged.connect(self.actions_.heatmap.setChecked)
        self.image_view.invertedChanged.connect(self.actions_.invert.setChecked)

    def _restore(self) -> None:
        st = self.settings
        if st.window_geometry:
            self.restoreGeometry(QByteArray(base64.b64decode(st.window_geometry)))
        else:
            self.resize(1600, 900)
        if st.window_state:
            self.restoreState(QByteArray(base64.b64decode(st.window_state)))
        if st.splitter_state:
            self.splitter.restoreState(QByteArray(base64.b64decode(st.splitter_state)))
        self.actions_.deidentify.setChecked(st.deidentify)
        self.session.worklist_model.set_deidentify(st.deidentify)
        self.actions_.heatmap.setChecked(self.image_view.overlay_visible())

    # -- opening --------------------------------------------------------------------------------
    def open_paths(self, paths: list[Path], replace: bool = True) -> None:
        paths = [Path(p).expanduser().absolute() for p in paths]
        if not paths:
            return
        for p in paths:
            if p.is_dir():
                self.settings.add_recent(p)
        self._schedule_save()
        self.session.open_paths(paths, replace=replace)
        if replace and self.session.replaces_on_open:
            self.image_view.set_image(None, "Indexing…")

    def open_folder_dialog(self) -> None:
        start = self.settings.recent_folders[0] if self.settings.recent_folders else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open folder of radiographs", start)
        if folder:
            self.open_paths([Path(folder)])

    def open_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open radiographs", str(Path.home()), IMAGE_FILTER)
        if files:
            self.open_paths([Path(f) for f in files])

    def _fill_recent_menu(self) -> None:
        menu = self.actions_.recent_menu
        assert menu is not None
        menu.clear()
        for folder in self.settings.recent_folders:
            menu.addAction(folder, lambda f=folder: self.open_paths([Path(f)]))
        if not self.settings.recent_folders:
            menu.addAction("(none)").setEnabled(False)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths, replace=False)

    # -- model ----------------------------------------------------------------------------------
    def load_model(self, package: Path) -> None:
        self.models.load(package)

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.model_label.setText(model_text(info))
        self.banner.setVisible(is_demo(info, self.demo_package))
        self.banner.setToolTip(info.card.intended_use)
        self.settings.last_model = str(info.package)
        self.similar.set_source(self.session.store, info.card.weights_sha256)
        self.findings.set_card(info.card)
        self.session.worklist_model.set_thresholds(self.settings.thresholds_for(info.card))
        self.findings.show_thresholds(self.session.worklist_model.worklist.thresholds)
        self.worklist.set_findings(info.card.shown_labels)
        self._schedule_save()
        self.show_message(f"Loaded {info.card.name} {info.card.version} on {info.device}")
        self._refresh_current()

    def _on_model_failed(self, reason: str) -> None:
        self.show_message(f"Model not loaded: {reason}")
        self.progress.finish()

    # -- study display --------------------------------------------------------------------------
    def current_row(self) -> StudyRow | None:
        uid = self.worklist.current_uid()
        return None if uid is None else self.session.worklist_model.worklist.get(uid)

    def move_study(self, delta: int) -> None:
        self.worklist.move(delta)

    def _on_study_changed(self, uid: str | None) -> None:
        self._image_uid = None
        row = self.current_row()
        if row is None:
            self.image_view.set_image(None, "")
            self.findings.set_probabilities(None)
            self.caption.setText(" ")
            return
        self._show_probabilities(row)
        if row.state is RowState.ERROR:
            self.image_view.set_image(None, f"Cannot show this study.\n{row.reason}")
            return
        self.image_view.set_image(None, "Loading…")
        self.session.request_image(row.uid)

    def _show_probabilities(self, row: StudyRow) -> None:
        self.caption.setText(study_caption(row, self.settings.deidentify))
        scored = row.state is RowState.SCORED
        self.findings.set_probabilities(row.probabilities if scored else None)
        if scored and self.findings.selected_finding() is None and row.top_finding:
            self.select_finding_named(row.top_finding)

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

    def _refresh_current(self) -> None:
        """Scores or thresholds changed: update the findings of the shown study (image stays)."""
        row = self.current_row()
        if row is None:
            return
        self._show_probabilities(row)
        if row.uid == self._image_uid and self.image_view.heatmap() is None:
            self._request_heatmap()

    def _on_image_ready(self, uid: str, image: XRayImage) -> None:
        if uid != self.worklist.current_uid():
            return
        self._image_uid = uid
        self.image_view.set_image(image)
        self.session.audit("opened", uid)
        row = self.current_row()
        if row is not None and row.state is RowState.NOT_SCORED:
            self.show_message(f"Not scored: {row.reason}")
        self._request_heatmap()
        following = self.worklist.proxy.uid_at(self.worklist.proxy.row_of(uid) + 1)
        if following is not None:
            self.session.prefetch_image(following)  # ↓ then shows the next film at once

    def _on_image_failed(self, uid: str, reason: str) -> None:
        if uid == self.worklist.current_uid():
            self.image_view.set_image(None, f"Cannot show this study.\n{reason}")

    # -- findings and heat maps -----------------------------------------------------------------
    def select_finding(self, index: int) -> None:
        self.worklist.hold()  # the reader works on the study shown: it stays
        self.findings.select_finding(index)

    def select_finding_named(self, name: str) -> None:
        card = self.findings.card()
        if card is not None and name in card.shown_labels:
            self.findings.select_finding(card.shown_labels.index(name))

    def _on_finding_selected(self, _name: str) -> None:
        self.image_view.set_heatmap(None)
        self._request_heatmap()

    def _request_heatmap(self) -> None:
        finding = self.findings.selected_finding()
        uid = self._image_uid
        if uid is None or finding is None or not self.image_view.overlay_visible():
            return
        current = self.image_view.heatmap()
        if current is not None and current.label == finding:
            return
        if self.session.request_heatmap(uid, finding):
            self.show_message(f"Computing Grad-CAM for {finding.replace('_', ' ')}…", 3000)

    def _on_heatmap_ready(self, key: object, heatmap: Heatmap) -> None:
        if key == self.session.heatmap_key(self._image_uid or "", self.findings.selected_finding() or ""):
            self.image_view.set_heatmap(heatmap)
            self.session.audit("heatmap-viewed", self._image_uid or "", label=heatmap.label)
            shown = self.statusBar().currentMessage()
            if not shown or shown.startswith("Computing Grad-CAM"):  # never over another message
                # the map's probability is the scored input's: the row's, as the reader can check
                finding = heatmap.label.replace("_", " ")
                self.show_message(f"Grad-CAM of {finding} (p = {heatmap.probability:.2f}): {heatmap.method}")

    def _on_heatmap_failed(self, _key: object, reason: str) -> None:
        self.show_message(f"Grad-CAM unavailable: {reason}")

    def _on_thresholds_edited(self, thresholds: dict) -> None:
        """The reader moved a threshold: the worklist takes it, the panel shows it, settings keep it."""
        self.session.set_thresholds(thresholds)
        current = self.session.worklist_model.worklist.thresholds
        self.findings.show_thresholds(current)
        self.similar.refresh()  # its findings and positives are under the thresholds too
        if self.session.info is not None:
            self.settings.store_thresholds(self.session.info.card, current)
            self._schedule_save()

    # -- view commands --------------------------------------------------------------------------
    def set_overlay_visible(self, visible: bool) -> None:
        self.worklist.hold()
        self.image_view.set_overlay_visible(visible)
        if visible:
            self._request_heatmap()

    def set_inverted(self, inverted: bool) -> None:
        self.worklist.hold()
        self.image_view.set_inverted(inverted)

    def reset_view(self) -> None:
        self.worklist.hold()
        self.image_view.reset_view()

    def set_deidentify(self, hide: bool) -> None:
        self.session.worklist_model.set_deidentify(hide)
        self.worklist.proxy.refilter()
        self.settings.deidentify = hide
        row = self.current_row()
        if row is not None:
            self.caption.setText(study_caption(row, hide))
        self._schedule_save()

    # -- study store and work -------------------------------------------------------------------
    def _update_study_actions(self) -> None:
        row = self.current_row()
        self.actions_.score_anyway.setEnabled(row is not None and row.gate_stopped)

    def _show_store_notice(self, notice: str) -> None:
        """The store cannot be written: a banner for as long as the window is open, said once."""
        if not notice or self.store_banner.text() == notice:
            return
        self.store_banner.setText(notice)
        self.store_banner.show()
        self.show_message(notice)

    def cancel_work(self) -> None:
        if self.session.busy:
            self.session.cancel()
            self.show_message("Cancelling…")

    def score_queued(self) -> None:
        self.session.score_queued()

    # -- export ---------------------------------------------------------------------------------
    def choose_export_folder(self) -> Path | None:
        return self.exports.choose_folder()

    def export_image(self) -> Path | None:
        """Ctrl+E: the study's image with its heat map (when shown) and findings burned in."""
        self.worklist.hold()
        row = self.current_row()
        image = self.image_view.image()
        item = row.ranked() if row is not None else None
        card = self.session.info.card if self.session.info else None
        if row is None or image is None or self._image_uid != row.uid or item is None or card is None:
            self.show_message("Nothing to export: select a ranked study with an image")
            return None
        heatmap = self.image_view.heatmap() if self.image_view.overlay_visible() else None
        path = self.exports.image(image, heatmap, item, card, self.session.worklist_model.worklist.thresholds)
        if path is not None:
            self.session.audit("exported", row.uid, kind="image", file=path.name)
        return path

    def export_worklist(self) -> tuple[Path, Path] | None:
        wl = self.session.worklist_model.worklist
        card = self.session.info.card if self.session.info else None
        out = self.exports.worklist(wl.ranked_rows(), card, wl.thresholds)
        if out is not None:
            hidden = self.settings.deidentify
            self.session.audit("exported", kind="worklist", file=out[0].name, deidentified=hidden)
        return out

    # -- misc -----------------------------------------------------------------------------------
    def show_pacs(self, tab: Tab) -> None:
        self.pacs.show_tab(tab)

    def show_message(self, text: str, timeout_ms: int = 10_000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def show_about(self) -> None:
        info = self.session.info
        card = info.card if info else None
        body = f"<b>{TITLE}</b><br>Offline chest-radiograph triage.<br><br>"
        if card is not None:
            body += f"Model: {card.name} {card.version}<br>Intended use: {card.intended_use}<br>"
        QMessageBox.about(self, f"About {TITLE}", body)

    def show_shortcuts(self) -> None:
        rows = "".join(
            f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in shortcut_table(self.actions_)
        )
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellspacing=4>{rows}</table>")

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
        self._save_timer.stop()
        self._save_settings()
        self.similar.shutdown()
        self.pacs.shutdown()
        self.session.close()
        super().closeEvent(event)
