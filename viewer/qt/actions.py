"""Every command of the main window as a ``QAction``: one place for text, shortcut and menu."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QWidget

from viewer.qt.image_view import MOUSE_ACTIONS, ImageView
from viewer.qt.pacs_dialog import Tab

StdKey = QKeySequence.StandardKey


@dataclass
class Actions:
    open_files: QAction
    open_folder: QAction
    export_image: QAction
    export_worklist: QAction
    set_export_folder: QAction
    quit: QAction
    next_study: QAction
    previous_study: QAction
    next_unreviewed: QAction
    accept: QAction
    reject: QAction
    review_note: QAction
    clear_review: QAction
    undo_review: QAction
    take_over: QAction
    score_anyway: QAction
    archive_selected: QAction
    archive_older: QAction
    heatmap: QAction
    invert: QAction
    reset_view: QAction
    fit_view: QAction
    actual_size: QAction
    zoom_in: QAction
    zoom_out: QAction
    window_wider: QAction
    window_narrower: QAction
    level_up: QAction
    level_down: QAction
    save_window_preset: QAction
    delete_window_preset: QAction
    heat_full_strength: QAction
    compare_prior: QAction
    close_comparison: QAction
    next_image: QAction
    deidentify: QAction
    cancel: QAction
    resume: QAction
    load_model: QAction
    import_checkpoint: QAction | None
    about: QAction
    shortcuts: QAction
    pacs_nodes: QAction
    pacs_query: QAction
    pacs_send: QAction
    find_in_worklist: QAction
    open_samples: QAction
    findings: list[QAction] = field(default_factory=list)
    recent_menu: QMenu | None = None


def _action(
    parent: QWidget,
    text: str,
    slot: Callable[..., object],
    shortcut: str | QKeySequence | StdKey | None = None,
    checkable: bool = False,
    tip: str = "",
    context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut,
) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(context)
    action.setCheckable(checkable)
    if tip:
        action.setStatusTip(tip)
    (action.toggled if checkable else action.triggered).connect(slot)
    if context == Qt.ShortcutContext.WindowShortcut:
        parent.addAction(action)  # shortcuts work with the menu bar hidden, too
    return action


def build_actions(w, has_import: bool) -> Actions:
    """Create the window's actions, wired to methods of ``w`` (a MainWindow) and of its command objects."""
    local = Qt.ShortcutContext.WidgetWithChildrenShortcut
    a = Actions(
        open_files=_action(w, "Open &Files…", w.opening.files_dialog, "Ctrl+Shift+O"),
        open_folder=_action(
            w, "Open &Folder…", w.opening.folder_dialog, StdKey.Open, tip="Index a folder recursively"
        ),
        export_image=_action(w, "&Export Annotated Image", w.export_image, "Ctrl+E"),
        export_worklist=_action(w, "Export &Worklist (CSV + JSON)", w.export_worklist, "Ctrl+Shift+E"),
        set_export_folder=_action(w, "Set Export F&older…", w.choose_export_folder),
        quit=_action(w, "&Quit", w.close, StdKey.Quit),
        # Arrow keys stay local to the worklist and image so that sliders keep theirs.
        next_study=_action(w, "&Next Study", lambda: w.move_study(1), Qt.Key.Key_Down, context=local),
        previous_study=_action(w, "&Previous Study", lambda: w.move_study(-1), Qt.Key.Key_Up, context=local),
        next_unreviewed=_action(w, "Next &Unreviewed Study", w.next_unreviewed, Qt.Key.Key_Space),
        accept=_action(w, "&Accept", lambda: w.reviews.mark("accepted"), Qt.Key.Key_A),
        reject=_action(w, "Re&ject", lambda: w.reviews.mark("rejected"), Qt.Key.Key_X),
        review_note=_action(w, "Review &Note…", w.reviews.note_dialog, Qt.Key.Key_N),
        clear_review=_action(w, "C&lear Review", w.reviews.clear, Qt.Key.Key_Backspace),
        undo_review=_action(w, "&Undo Review Change", w.reviews.undo, StdKey.Undo),
        take_over=_action(
            w,
            "&Take Over Study",
            w.take_over_study,
            "Ctrl+Shift+T",
            tip="Review a study another reader of the team store holds (recorded in the audit trail)",
        ),
        score_anyway=_action(
            w,
            "Score Any&way",
            w.gate_override.score_anyway,
            "Ctrl+Shift+G",
            tip="Rank a study the safety gate stopped",
        ),
        archive_selected=_action(
            w,
            "Arc&hive Selected Studies",
            w.archive.selected_studies,
            tip="Take the studies off the worklist",
        ),
        archive_older=_action(w, "Archive Studies &Older Than…", w.archive.older_than_dialog),
        heatmap=_action(w, "&Heat Map Overlay", w.display.set_overlay_visible, Qt.Key.Key_H, checkable=True),
        invert=_action(w, "&Invert Grey Scale", w.display.set_inverted, Qt.Key.Key_I, checkable=True),
        reset_view=_action(w, "&Reset View", w.display.reset_view, Qt.Key.Key_R),
        fit_view=_action(w, "&Fit to Pane", lambda: w.display.change_view(ImageView.fit), "Ctrl+0"),
        actual_size=_action(
            w, "&Actual Size (1:1)", lambda: w.display.change_view(ImageView.actual_size), "Ctrl+1"
        ),
        zoom_in=_action(w, "Zoom &In", lambda: w.display.change_view(lambda v: v.zoom_in(1)), "Ctrl+="),
        zoom_out=_action(w, "Zoom &Out", lambda: w.display.change_view(lambda v: v.zoom_in(-1)), "Ctrl+-"),
        window_wider=_action(
            w, "&Wider Window", lambda: w.display.change_view(lambda v: v.widen_window(1)), "]"
        ),
        window_narrower=_action(
            w, "&Narrower Window", lambda: w.display.change_view(lambda v: v.widen_window(-1)), "["
        ),
        level_up=_action(w, "Raise &Level", lambda: w.display.change_view(lambda v: v.raise_level(1)), "."),
        level_down=_action(
            w, "Lower L&evel", lambda: w.display.change_view(lambda v: v.raise_level(-1)), ","
        ),
        save_window_preset=_action(w, "&Save Window Preset…", w.image_view.save_preset_dialog),
        delete_window_preset=_action(w, "&Delete Shown Window Preset", w.image_view.delete_shown_preset),
        heat_full_strength=_action(
            w,
            "Below-Threshold Heat Maps at Full &Strength",
            w.image_view.set_full_strength,
            "Shift+H",
            checkable=True,
            tip="A finding below its threshold has its heat map drawn faintly unless this is on",
        ),
        compare_prior=_action(w, "C&ompare with Prior", w.compare.compare_with_prior, Qt.Key.Key_P),
        close_comparison=_action(w, "Close Co&mparison (Esc)", w.compare.close),
        next_image=_action(w, "Ne&xt Image of the Study", w.study_images.next_image, Qt.Key.Key_V),
        deidentify=_action(w, "Hide &Patient Identifiers", w.set_deidentify, "Ctrl+Shift+P", checkable=True),
        cancel=_action(w, "&Cancel Indexing/Scoring", w.cancel_work, Qt.Key.Key_Escape),
        resume=_action(w, "&Score Queued Studies", w.score_queued),
        load_model=_action(w, "&Load Model Package…", w.models.load_dialog),
        import_checkpoint=(
            _action(w, "&Import CheXNet / torchxrayvision Checkpoint…", w.models.import_checkpoint_dialog)
            if has_import
            else None
        ),
        about=_action(w, "&About CXR Triage", w.show_about),
        shortcuts=_action(w, "&Keyboard Shortcuts", w.show_shortcuts, StdKey.HelpContents),
        pacs_nodes=_action(w, "&Nodes…", lambda: w.show_pacs(Tab.NODES), tip="PACS nodes: add, remove, test"),
        pacs_query=_action(w, "&Query and Retrieve…", lambda: w.show_pacs(Tab.QUERY), "Ctrl+Shift+R"),
        pacs_send=_action(w, "&Send Current Study's Results…", lambda: w.show_pacs(Tab.SEND), "Ctrl+Shift+U"),
        find_in_worklist=_action(w, "&Find in Worklist", w.worklist.focus_search, StdKey.Find),
        open_samples=_action(
            w, "Open &Sample Studies", w.open_samples, tip="The bundled demo studies, in memory only"
        ),
    )
    for i in range(9):
        a.findings.append(
            _action(w, f"Finding {i + 1}", lambda _=False, i=i: w.display.select_finding(i), str(i + 1))
        )
    a.zoom_in.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])  # with or without Shift
    a.fit_view.setShortcuts([QKeySequence("Ctrl+0"), QKeySequence(Qt.Key.Key_F)])
    return a


def build_menus(window: QMainWindow, a: Actions, local_widgets: list[QWidget]) -> None:
    bar = window.menuBar()
    file = bar.addMenu("&File")
    file.addActions([a.open_files, a.open_folder])
    a.recent_menu = file.addMenu("Open &Recent Folder")
    file.addSeparator()
    file.addActions([a.export_image, a.export_worklist, a.set_export_folder])
    file.addSeparator()
    file.addAction(a.quit)
    study = bar.addMenu("&Study")
    study.addActions([a.next_study, a.previous_study, a.find_in_worklist])
    study.addSeparator()
    study.addActions([a.next_unreviewed, a.accept, a.reject, a.review_note, a.clear_review, a.undo_review])
    study.addAction(a.take_over)
    study.addSeparator()
    study.addAction(a.score_anyway)
    study.addSeparator()
    study.addActions([a.archive_selected, a.archive_older])
    study.addSeparator()
    study.addActions([a.cancel, a.resume])
    view = bar.addMenu("&View")
    view.addActions([a.heatmap, a.heat_full_strength, a.invert, a.reset_view])
    zoom_window = view.addMenu("&Zoom and Window")
    zoom_window.addActions([a.fit_view, a.actual_size, a.zoom_in, a.zoom_out])
    zoom_window.addSeparator()
    zoom_window.addActions([a.window_wider, a.window_narrower, a.level_up, a.level_down])
    zoom_window.addSeparator()
    zoom_window.addActions([a.save_window_preset, a.delete_window_preset])
    view.addSeparator()
    view.addActions([a.next_image, a.compare_prior, a.close_comparison])
    findings = view.addMenu("Select &Finding")
    findings.addActions(a.findings)
    view.addSeparator()
    view.addMenu(window.worklist.columns_menu)  # also the worklist header's right-click menu
    view.addAction(a.deidentify)
    model = bar.addMenu("&Model")
    model.addAction(a.load_model)
    if a.import_checkpoint is not None:
        model.addAction(a.import_checkpoint)
    pacs = bar.addMenu("&PACS")
    pacs.addActions([a.pacs_nodes, a.pacs_query, a.pacs_send])
    help_menu = bar.addMenu("&Help")
    help_menu.addActions([a.shortcuts, a.open_samples, a.about])
    for widget in local_widgets:
        widget.addActions([a.next_study, a.previous_study])


def build_worklist_menu(table: QWidget, a: Actions) -> None:
    """Right-click on the worklist: the study commands (the same actions, same shortcuts)."""
    table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    table.addActions([a.next_study, a.previous_study, a.next_unreviewed, a.accept, a.reject, a.review_note,
                      a.clear_review, a.undo_review, a.score_anyway, a.export_image,
                      a.archive_selected])  # fmt: skip


COMPARE_ACTIONS = [
    ("Esc, while comparing", "Close the comparison beside the study (Esc again cancels indexing or scoring)"),
    ("Click or Enter on a similar study", "Compare it beside the study being read"),
    ("Click a thumbnail under the image", "Show that image of the study (V: the next one)"),
]


def shortcut_table(a: Actions) -> list[tuple[str, str]]:
    """(keys, command) for every action that has a shortcut; findings 1-9 as one line; then what the
    mouse does on the image."""
    rows = []
    for action in vars(a).values():
        if isinstance(action, QAction) and not action.shortcut().isEmpty():
            text = action.text().replace("&", "")
            keys = [key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts()]
            rows.append((" or ".join(keys), text))
    rows.append(("1 … 9", "Select finding 1 to 9 (in the findings panel's order)"))
    rows.append(("Ctrl+Enter", "Save the review note (in its dialog: Enter starts a new line, Esc cancels)"))
    rows.extend(MOUSE_ACTIONS)  # on the image
    rows.extend(COMPARE_ACTIONS)
    return rows
