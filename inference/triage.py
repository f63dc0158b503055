"""From scan entries to a ranked worklist: scoring studies and ordering them by risk.

Ranking rule (documented in the README, relied on by the viewer):

1. Scored studies with at least one positive finding (probability >= its threshold), by
   **risk score** = the largest log-odds margin, logit(p) - logit(threshold), over the shown
   findings, highest first. The margin measures each finding against the reader's own operating
   point (0.30 against a threshold of 0.05 outranks 0.80 against 0.50), and, unlike a p/threshold
   ratio, does not blow up for findings whose thresholds sit near zero (0.36 against 0.10 does not
   outrank 0.97 against 0.55). A finding is positive exactly when its margin is >= 0.
2. Studies that could not be scored (errors, lateral-only, not chest): their risk is unknown, so
   they go before the studies the model calls negative and are not buried at the end of the list.
3. Scored studies with no positive finding, by highest probability.

Ties go to the study that was acquired first (study date and time, oldest first; studies without a
date after dated ones), then to the study UID, so the order is stable between runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from inference.api import (
    Prediction,
    RankedStudy,
    ScanEntry,
    Status,
    StudyResult,
    TriageService,
    XRayImage,
)
from inference.io import ReadError, group_by_study, read_image

EPSILON = 1e-6  # probabilities and thresholds are clipped to [EPSILON, 1 - EPSILON]: logit stays finite


def logit(p: float) -> float:
    p = min(max(p, EPSILON), 1.0 - EPSILON)
    return math.log(p / (1.0 - p))


def positive_findings(probabilities: Mapping[str, float], thresholds: Mapping[str, float]) -> tuple[str, ...]:
    """Findings at or above their threshold, largest log-odds margin first."""
    margins = _margins(probabilities, thresholds)
    positive = [name for name, p in probabilities.items() if name in thresholds and p >= thresholds[name]]
    return tuple(sorted(positive, key=lambda name: (-margins[name], name)))


def risk_score(probabilities: Mapping[str, float], thresholds: Mapping[str, float]) -> float:
    """The largest log-odds margin logit(p) - logit(threshold) over thresholded findings (>= 0: positive)."""
    return max(_margins(probabilities, thresholds).values(), default=-math.inf)


def _margins(probabilities: Mapping[str, float], thresholds: Mapping[str, float]) -> dict[str, float]:
    return {
        name: logit(p) - logit(thresholds[name]) for name, p in probabilities.items() if name in thresholds
    }


def rank(results: Sequence[StudyResult], thresholds: Mapping[str, float]) -> list[RankedStudy]:
    """The worklist in reading order under ``thresholds`` (see the module docstring)."""
    placed = []
    for result in results:
        probs = {k: v for k, v in result.probabilities.items() if k in thresholds}
        positives = positive_findings(probs, thresholds) if result.status is Status.SCORED else ()
        score = risk_score(probs, thresholds) if result.status is Status.SCORED and probs else 0.0
        top = positives[0] if positives else max(probs, key=lambda k: (probs[k], k), default="")
        top_p = probs.get(top, math.nan) if top else math.nan
        meta = result.meta
        key = reading_order_key(
            result.status is Status.SCORED, bool(positives), score, top_p, meta.study_date + meta.study_time,
            result.study_uid,
        )  # fmt: skip
        placed.append((key, result, positives, score, top, top_p))
    placed.sort(key=lambda row: row[0])
    return [
        RankedStudy(rank=i, result=r, positive_findings=pos, risk_score=s, top_finding=top, top_probability=p)
        for i, (_key, r, pos, s, top, p) in enumerate(placed, start=1)
    ]


def reading_order_key(
    scored: bool, positive: bool, risk: float, top_probability: float | None, acquired: str, uid: str
) -> tuple[int, float, int, str, str]:
    """Sort key of one study in reading order (the module docstring's rule).

    ``acquired`` is the study date + time (DICOM DA + TM); undated studies go after dated ones.
    """
    if scored and positive:
        head = (0, -risk)
    elif scored:
        top = top_probability if top_probability is not None and not math.isnan(top_probability) else 0.0
        head = (2, -top)
    else:
        head = (1, 0.0)
    stamp = acquired.strip()
    return (*head, 0 if stamp else 1, stamp, uid)


def summarise_study(
    study_uid: str,
    entries: Sequence[ScanEntry],
    predictions: Mapping[Path, Prediction],
    errors: Mapping[Path, str],
) -> StudyResult:
    """One worklist row from a study's images: per-finding maximum over its scored images."""
    scored = [e for e in entries if e.meta.path in predictions]
    skipped = [(e, errors.get(e.meta.path) or e.reason) for e in entries if e.meta.path not in predictions]
    if not scored:
        failed = [(e, why) for e, why in skipped if e.status is Status.ERROR or e.meta.path in errors]
        status = Status.ERROR if failed else Status.NOT_SCORED
        chosen = failed or skipped
        reason = "; ".join(_describe(e, why, len(entries)) for e, why in chosen)
        return StudyResult(study_uid=study_uid, meta=chosen[0][0].meta, status=status, reason=reason)
    names = predictions[scored[0].meta.path].probabilities.keys()
    probabilities = {n: max(predictions[e.meta.path].probabilities[n] for e in scored) for n in names}
    lead = max(scored, key=lambda e: max(predictions[e.meta.path].probabilities.values(), default=0.0))
    reason = "; ".join(_describe(e, why, len(entries)) for e, why in skipped)
    return StudyResult(
        study_uid=study_uid, meta=lead.meta, status=Status.SCORED, reason=reason, probabilities=probabilities
    )


def _describe(entry: ScanEntry, why: str, images_in_study: int) -> str:
    return f"{entry.meta.path.name}: {why}" if images_in_study > 1 else why


def score_studies(
    entries: Iterable[ScanEntry],
    service: TriageService,
    batch_size: int = 8,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[StudyResult]:
    """Read, score and summarise studies, yielding each as soon as all its images are done.

    Images are decoded one batch ahead on a reader thread while the model scores the current
    batch. A file that cannot be decoded becomes an error for its study; the run goes on.
    """
    studies = group_by_study(entries)
    pending: list[tuple[str, list[ScanEntry]]] = []
    batch: list[XRayImage] = []
    predictions: dict[Path, Prediction] = {}
    errors: dict[Path, str] = {}

    def flush() -> Iterator[StudyResult]:
        predictions.update((p.path, p) for p in service.predict(batch))
        batch.clear()
        for uid, members in pending:
            yield summarise_study(uid, members, predictions, errors)
        pending.clear()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxr-reader") as reader:
        for uid, members, images in _read_ahead(studies, reader, batch_size):
            if cancelled is not None and cancelled():
                return
            for path, outcome in images:
                if isinstance(outcome, XRayImage):
                    batch.append(outcome)
                else:
                    errors[path] = outcome
            pending.append((uid, members))
            if len(batch) >= batch_size:
                yield from flush()
        yield from flush()


def _read_ahead(
    studies: Mapping[str, list[ScanEntry]], reader: ThreadPoolExecutor, depth: int
) -> Iterator[tuple[str, list[ScanEntry], list[tuple[Path, XRayImage | str]]]]:
    """Each study with its decoded eligible images; decoding runs ``depth`` images ahead."""
    queue: list[tuple[str, list[ScanEntry], list[tuple[Path, Future[XRayImage | str]]]]] = []
    queued = 0
    for uid, members in studies.items():
        futures = [
            (e.meta.path, reader.submit(_read, e.meta.path)) for e in members if e.status is Status.SCORED
        ]
        queue.append((uid, members, futures))
        queued += len(futures)
        while queue and queued > depth:
            head_uid, head_members, head_futures = queue.pop(0)
            queued -= len(head_futures)
            yield head_uid, head_members, [(p, f.result()) for p, f in head_futures]
    for uid, members, futures in queue:
        yield uid, members, [(p, f.result()) for p, f in futures]


def _read(path: Path) -> XRayImage | str:
    try:
        return read_image(path)
    except ReadError as exc:
        return str(exc)
