"""One study's row of the worklist: its state, its figures under the current thresholds, its review,
and the texts the table and the image caption show for it. The rows together, ranked and sorted, are
:class:`viewer.core.ranked_worklist.Worklist`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from inference.api import ImageMeta, RankedStudy, ScanEntry, Status, StudyResult
from inference.store import Review
from inference.worklist.deidentify import neutral_names
from inference.worklist.ranking import NO_FIGURES, Figures


class RowState(enum.StrEnum):
    QUEUED = "queued"
    SCORING = "scoring"
    SCORED = "scored"
    ERROR = "error"
    NOT_SCORED = "not scored"


_STATE_OF = {
    Status.SCORED: RowState.SCORED,
    Status.ERROR: RowState.ERROR,
    Status.NOT_SCORED: RowState.NOT_SCORED,
}


@dataclass(eq=False)
class StudyRow:
    """One study in the worklist: its scan rows, the result it shows with that result's figures under
    the current thresholds, and the reader's review. ``seq`` is arrival order, the final tie-breaker."""

    uid: str
    seq: int
    entries: list[ScanEntry] = field(default_factory=list)
    result: StudyResult | None = None  # None while queued or scoring
    scoring: bool = False
    figures: Figures = NO_FIGURES
    review: Review | None = None
    rank: int | None = None
    priority: tuple[str, ...] = ()  # why the study is a priority (ranking.priority_reasons); () if not

    @property
    def state(self) -> RowState:
        if self.result is not None:
            return _STATE_OF[self.result.status]
        return RowState.SCORING if self.scoring else RowState.QUEUED

    @property
    def meta(self) -> ImageMeta:
        """The header facts shown: the result's lead image, else the first scorable file's."""
        if self.result is not None:
            return self.result.meta
        return next((e.meta for e in self.entries if e.status is Status.SCORED), self.entries[0].meta)

    def file_names(self) -> list[str]:
        """The names of every file of the study (the lead image first), as a search matches them."""
        paths = [self.meta.path, *(self.result.images if self.result is not None else ())]
        paths += [e.meta.path for e in self.entries]
        return list(dict.fromkeys(p.name for p in paths))

    @property
    def reason(self) -> str:
        return self.result.reason if self.result is not None else ""

    @property
    def probabilities(self) -> Mapping[str, float]:
        scored = self.result is not None and self.result.status is Status.SCORED
        return self.result.probabilities if scored and self.result is not None else {}

    @property
    def positives(self) -> tuple[str, ...]:
        return self.figures.positives

    @property
    def risk(self) -> float:
        return self.figures.risk

    @property
    def top_finding(self) -> str:
        return self.figures.top_finding

    @property
    def top_probability(self) -> float | None:
        return self.figures.top_probability

    @property
    def flagged(self) -> bool:
        """A priority (the red dot), rarer than positive (see ``ranking.priority_reasons``)."""
        return bool(self.priority)

    @property
    def gate_score(self) -> float | None:
        return self.result.gate_score if self.result is not None else None

    @property
    def gate_stopped(self) -> bool:
        """The safety gate kept the study from being scored (the reader may score it anyway)."""
        return self.state is RowState.NOT_SCORED and self.gate_score is not None

    @property
    def gate_overridden(self) -> bool:
        return self.result is not None and self.result.gate_overridden

    def gate_text(self) -> str:
        """The Gate column: the score, marked when the gate stopped the study or the reader overrode it."""
        score = self.gate_score
        if score is None:
            return ""
        mark = " stopped" if self.gate_stopped else " overridden" if self.gate_overridden else ""
        return f"{score:.2f}{mark}"

    @property
    def status_text(self) -> str:
        return self.status_for(deidentify=False)

    def reason_for(self, deidentify: bool) -> str:
        """The reason; file names (which may carry patient names) become "image N" when hidden."""
        if not deidentify or not self.reason or self.result is None:
            return self.reason
        return neutral_names(self.reason, self.result.images or [e.meta.path for e in self.entries])

    def status_for(self, deidentify: bool) -> str:
        reason = self.reason_for(deidentify)
        if self.state is RowState.ERROR:
            return f"error: {reason}" if reason else "error"
        if self.state is RowState.NOT_SCORED:
            return f"not scored: {reason}" if reason else "not scored"
        if self.gate_overridden:
            return f"{self.state.value} (gate overridden)"
        return self.state.value

    def review_text(self) -> str:
        """The review column: the outcome, with a mark when a note goes with it."""
        if self.review is None:
            return ""
        return f"{self.review.outcome} ✎" if self.review.note else self.review.outcome

    def ranked(self) -> RankedStudy | None:
        """The row as the triage engine's ranked study (what exports are built from); None if unranked."""
        if self.result is None or self.rank is None:
            return None
        f = self.figures
        top = math.nan if f.top_probability is None else f.top_probability
        return RankedStudy(self.rank, self.result, f.positives, f.risk, f.top_finding, top)


def study_caption(row: StudyRow, deidentify: bool) -> str:
    """One line above the image: rank, view, date, patient (unless hidden), file, why not scored, and
    whether the reader overrode the safety gate."""
    meta = row.meta
    parts = [f"#{row.rank}" if row.rank is not None else row.state.value]
    parts += [p for p in (meta.view_position, meta.study_date) if p]
    if not deidentify:
        parts += [f"Patient {meta.patient_id}"] if meta.patient_id else []
        parts.append(meta.path.name)
    if row.state in (RowState.ERROR, RowState.NOT_SCORED) and row.reason:
        parts.append(f"{row.state.value}: {row.reason_for(deidentify)}")
    if row.gate_overridden:
        parts.append(f"scored although the safety gate stopped it (gate score {row.gate_score:.2f})")
    return "  ·  ".join(parts)
