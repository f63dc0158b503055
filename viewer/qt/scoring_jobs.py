"""Scoring bookkeeping on the GUI thread: which job on the model thread is current, how far it got,
and its results applied to the worklist.

Results are coalesced and applied a few times a second (one re-rank per flush, not per study); a
result scored by weights that have since been replaced is dropped.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Slot

from inference.api import StudyResult
from viewer.core import wording
from viewer.core.worklist import RowState
from viewer.qt.session_host import SessionHost


class ScoringJobs(QObject):
    """The scoring jobs of one :class:`TriageSession`, reported through its signals."""

    def __init__(self, session: SessionHost, parent: QObject) -> None:
        super().__init__(parent)
        self._session = session
        self.running = False  # until the current job's scoringFinished arrives
        self._job_id = 0
        self._job_sha: dict[int, str] = {}
        self._job_total = 0
        self._job_done = 0
        self._pending: list[StudyResult] = []
        self._flush_interval = 100
        self._flush = QTimer(self, singleShot=True)
        self._flush.timeout.connect(self._flush_results)
        sig = session.model_thread.signals
        sig.batchStarted.connect(self._on_batch_started)
        sig.scored.connect(self._on_scored)
        sig.scoringFinished.connect(self._on_scoring_finished)

    def score_queued(self) -> None:
        s = self._session
        if s.closed or s.info is None or s.reading_files:
            return
        self._flush_results()
        s.worklist_model.requeue(only_unfinished=True)
        rows = [r for r in s.worklist_model.worklist.rows if r.state is RowState.QUEUED]
        if not rows:
            return
        entries = [e for r in sorted(rows, key=lambda r: r.seq) for e in r.entries]
        self._job_total, self._job_done = len(rows), 0
        self._job_id = s.model_thread.score(entries, len(rows))
        self.running = True
        self._job_sha[self._job_id] = s.info.card.weights_sha256
        s.progressChanged.emit(f"Scoring 0/{len(rows)}", 0, len(rows))

    def discard_pending(self) -> None:
        """Forget results not applied yet: the worklist they were for is being replaced."""
        self._pending.clear()

    def stop(self) -> None:
        self._flush.stop()

    @Slot(int, list)
    def _on_batch_started(self, job_id: int, uids: list[str]) -> None:
        if job_id == self._job_id:
            self._session.worklist_model.set_scoring(uids)

    @Slot(int, object)
    def _on_scored(self, job_id: int, result: StudyResult) -> None:
        info = self._session.info
        if info is None or self._job_sha.get(job_id) != info.card.weights_sha256:
            return  # scored by a model that has since been replaced
        self._pending.append(result)
        if job_id == self._job_id:
            self._job_done += 1
        if not self._flush.isActive():
            self._flush.start(self._flush_interval)

    def _flush_results(self) -> None:
        """Apply the results gathered since the last flush: one re-rank, one progress update."""
        if not self._pending:
            return
        if self.running:
            done, total = self._job_done, self._job_total
            self._session.progressChanged.emit(f"Scoring {done}/{total}", done, total)
        batch, self._pending = self._pending, []
        t0 = time.perf_counter()
        self._session.worklist_model.apply_results(batch)
        # Keep the GUI responsive on huge worklists: flush less often when a re-rank is slow.
        self._flush_interval = int(min(1000, max(100, 5000 * (time.perf_counter() - t0))))

    @Slot(int, bool, str)
    def _on_scoring_finished(self, job_id: int, cancelled: bool, error: str) -> None:
        self._flush_results()
        if job_id != self._job_id:
            return
        s = self._session
        self.running = False
        s.worklist_model.requeue(only_unfinished=True)
        if error:
            s.message.emit(f"Scoring stopped: {error}")
            s.scoringFailed.emit(error)
        elif cancelled:
            s.message.emit(f"Scoring cancelled after {self._job_done} of {wording.studies(self._job_total)}")
        else:
            s.message.emit(f"Scored {wording.studies(self._job_done)}")
            s.scoringDone.emit()
        s.maybe_idle()
