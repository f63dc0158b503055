"""The strip under the PACS dialog's tabs: the status line, a progress bar and Cancel, and the one
worker thread every network job of :mod:`viewer.pacs_client` runs on, one job at a time.

A job's :class:`~viewer.pacs_client.Step` items move the bar and the status line; a cancel takes
effect between studies or steps (a transfer under way finishes or times out). Failures are shown as
their plain message, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from viewer.pacs_client import Step, failure_message
from viewer.qt.workers import GeneratorWorker, WorkerPool


def pacs_button(text: str, slot: Callable[[], None]) -> QPushButton:
    button = QPushButton(text)
    button.setAutoDefault(False)  # Enter searches in the query fields; it never presses a button
    button.clicked.connect(slot)
    return button


class PacsJobs(QWidget):
    """Runs the dialog's network jobs and shows their progress and every message of the dialog."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = WorkerPool(max_threads=1)
        self.job: GeneratorWorker | None = None
        self._on_item: Callable[[object], None] | None = None
        self._on_end: Callable[[], None] | None = None
        self.status = QLabel(" ", wordWrap=True)
        self.bar = QProgressBar(textVisible=False)
        self.cancel_button = pacs_button("Cancel (Esc)", self.cancel)
        self.cancel_button.setEnabled(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.bar, 1)
        bottom.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addLayout(bottom)

    def start(
        self,
        job: Callable[..., Iterator[object]],
        *args: object,
        on_item: Callable[[object], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        """Run ``job(*args, cancelled=...)``; ``on_item`` gets each item it yields (after a step has
        been shown), ``on_end`` runs when it has ended, before the message saying how it ended."""
        if self.job is not None:
            self.say("Another PACS action is running: wait for it, or press Esc to cancel it.")
            return
        worker = GeneratorWorker(job, *args, pass_cancelled=True)
        worker.signals.yielded.connect(self._on_yielded)
        worker.signals.returned.connect(self._on_returned)
        worker.signals.errored.connect(self._on_errored)
        self.job, self._on_item, self._on_end = worker, on_item, on_end
        self._set_busy(True)
        self.pool.start(worker)

    @property
    def busy(self) -> bool:
        return self.job is not None

    @Slot(object)
    def _on_yielded(self, item: object) -> None:
        if isinstance(item, Step):
            self.bar.setRange(0, item.total)
            self.bar.setValue(item.done)
            self.say(item.text)
        if self._on_item is not None:
            self._on_item(item)

    @Slot(object)
    def _on_returned(self, _result: object) -> None:
        cancelled = self.job is not None and self.job.abort_requested
        self._finish()
        if cancelled:
            self.say("Cancelled.")

    @Slot(object)
    def _on_errored(self, exc: Exception) -> None:
        self._finish()
        self.say(failure_message(exc))

    def _finish(self) -> None:
        on_end = self._on_end
        self.job, self._on_item, self._on_end = None, None, None
        self._set_busy(False)
        if on_end is not None:
            on_end()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.quit()
            self.say("Cancelling… (a transfer under way finishes or times out first)")

    def _set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        if busy:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1)
            self.bar.setValue(0)
        self.busy_changed.emit(busy)

    def say(self, text: str) -> None:
        self.status.setText(text)

    def shutdown(self) -> None:
        """Cancel the running job and wait for the worker thread (the window is closing)."""
        if self.job is not None:
            self.job.quit()
        self.pool.shutdown()
