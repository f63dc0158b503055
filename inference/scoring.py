"""From scan entries to study results: reading, batching and scoring images, study by study.

The reading order of the results is :mod:`inference.triage`'s business; this module only scores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from inference.api import Prediction, PreparedImage, ScanEntry, Status, StudyResult, TriageService
from inference.io import ReadError, group_by_study, read_image
from inference.store import ImageResult, Store

log = logging.getLogger(__name__)


def summarise_study(
    study_uid: str,
    entries: Sequence[ScanEntry],
    predictions: Mapping[Path, Prediction],
    errors: Mapping[Path, str],
    warnings: Mapping[Path, Sequence[str]] | None = None,
    arrived: str = "",
) -> StudyResult:
    """One worklist row from a study's images: per-finding maximum over its scored images.

    ``warnings`` (the readers' notes per image) are carried over, named by file when the study
    has several images; ``arrived`` is when the study reached the store.
    """
    files = tuple(e.meta.path for e in entries)
    notes = tuple(
        _describe(e, w, len(entries)) for e in entries for w in (warnings or {}).get(e.meta.path, ())
    )
    scored = [e for e in entries if e.meta.path in predictions]
    skipped = [(e, errors.get(e.meta.path) or e.reason) for e in entries if e.meta.path not in predictions]
    if not scored:
        failed = [(e, why) for e, why in skipped if e.status is Status.ERROR or e.meta.path in errors]
        status = Status.ERROR if failed else Status.NOT_SCORED
        chosen = failed or skipped
        reason = "; ".join(_describe(e, why, len(entries)) for e, why in chosen)
        meta = chosen[0][0].meta
        return StudyResult(study_uid, meta, status, reason, warnings=notes, arrived=arrived, images=files)
    names = predictions[scored[0].meta.path].probabilities.keys()
    probabilities = {n: max(predictions[e.meta.path].probabilities[n] for e in scored) for n in names}
    lead = max(scored, key=lambda e: max(predictions[e.meta.path].probabilities.values(), default=0.0))
    reason = "; ".join(_describe(e, why, len(entries)) for e, why in skipped)
    return StudyResult(study_uid, lead.meta, Status.SCORED, reason, probabilities, notes, arrived, files)


def _describe(entry: ScanEntry, why: str, images_in_study: int) -> str:
    return f"{entry.meta.path.name}: {why}" if images_in_study > 1 else why


@dataclass
class RunCounts:
    """What a scoring run did, counted in images: each eligible image is exactly one of scored (by the
    model now), reused (its result for these weights was in the store) or errors (could not be read
    or scored now); images refused at scan time (corrupt headers) count as errors too."""

    scored: int = 0
    reused: int = 0
    errors: int = 0


@dataclass
class _Study:
    uid: str
    members: list[ScanEntry]
    todo: list[tuple[ScanEntry, str]]  # eligible images still to score, with their image UIDs
    predictions: dict[Path, Prediction] = field(default_factory=dict)
    errors: dict[Path, str] = field(default_factory=dict)
    warnings: dict[Path, tuple[str, ...]] = field(default_factory=dict)
    arrived: str = ""

    def result(self) -> StudyResult:
        return summarise_study(
            self.uid, self.members, self.predictions, self.errors, self.warnings, self.arrived
        )


def score_studies(
    entries: Iterable[ScanEntry],
    service: TriageService,
    batch_size: int = 8,
    cancelled: Callable[[], bool] | None = None,
    store: Store | None = None,
    counts: RunCounts | None = None,
) -> Iterator[StudyResult]:
    """Read, score and summarise studies, yielding each as soon as all its images are done.

    With a ``store``, every image is recorded, images it already holds a result for (same weights)
    are not read again, and each batch's results are committed before its studies are yielded, so
    a killed run loses at most the batch in flight. Images are decoded and reduced to network input
    on a reader thread, one batch ahead, while the model scores the current batch; a file that
    cannot be read becomes an error for its study and the run goes on.
    """
    counts = counts if counts is not None else RunCounts()
    studies = _plan(list(entries), service.card.weights_sha256, store, counts)
    waiting: list[_Study] = []  # studies whose images are in the batch being filled
    batch: list[tuple[_Study, ScanEntry, str, PreparedImage | str]] = []

    def flush() -> Iterator[StudyResult]:
        _score_batch(batch, service, store, counts)
        batch.clear()
        for study in waiting:
            yield study.result()
        waiting.clear()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxr-reader") as reader:
        for study, outcomes in _read_ahead(studies, reader, service, batch_size):
            if cancelled is not None and cancelled():
                return
            if not outcomes and not waiting:
                yield study.result()
                continue
            batch.extend((study, *outcome) for outcome in outcomes)
            waiting.append(study)
            if len(batch) >= batch_size:
                yield from flush()
        yield from flush()


def _plan(entries: list[ScanEntry], weights: str, store: Store | None, counts: RunCounts) -> list[_Study]:
    """Group into studies; with a store, record every image and take the results it already has."""
    uids = (
        store.record(entries) if store is not None else [e.meta.sop_uid or str(e.meta.path) for e in entries]
    )
    uid_of = {id(e): uid for e, uid in zip(entries, uids, strict=True)}
    stored = store.results(weights, uids) if store is not None else {}
    arrivals = store.arrivals() if store is not None else {}
    counts.errors += sum(e.status is Status.ERROR for e in entries)
    studies = []
    for study_uid, members in group_by_study(entries).items():
        study = _Study(study_uid, members, [], arrived=arrivals.get(study_uid, ""))
        for entry in (e for e in members if e.status is Status.SCORED):
            uid = uid_of[id(entry)]
            if uid in stored:
                _keep(study, entry.meta.path, stored[uid], weights)
                counts.reused += 1
            else:
                study.todo.append((entry, uid))
        studies.append(study)
    return studies


def _keep(study: _Study, path: Path, result: ImageResult, weights: str) -> None:
    """Put one image's result into its study."""
    if result.status is Status.SCORED:
        study.predictions[path] = Prediction(path, dict(result.probabilities), weights)
    else:
        study.errors[path] = result.reason
    if result.warnings:
        study.warnings[path] = result.warnings


def _score_batch(
    batch: Sequence[tuple[_Study, ScanEntry, str, PreparedImage | str]],
    service: TriageService,
    store: Store | None,
    counts: RunCounts,
) -> None:
    """Score the readable images of a batch, then commit every outcome of the batch at once."""
    readable = [(study, e, uid, item) for study, e, uid, item in batch if isinstance(item, PreparedImage)]
    scores = iter(_predict(service, [item for *_, item in readable]))
    outcomes: list[tuple[_Study, Path, ImageResult]] = []
    for study, entry, uid, item in batch:
        if isinstance(item, str):
            result = ImageResult(uid, Status.ERROR, reason=item)
        else:
            score = next(scores)
            if isinstance(score, Prediction):
                result = ImageResult(uid, Status.SCORED, score.probabilities, warnings=item.warnings)
            else:
                result = ImageResult(uid, Status.ERROR, reason=score, warnings=item.warnings)
        counts.scored += result.status is Status.SCORED
        counts.errors += result.status is Status.ERROR
        outcomes.append((study, entry.meta.path, result))
    if store is not None:
        store.save_results(
            [r for _, _, r in outcomes],
            service.card.weights_sha256,
            preprocessing=service.card.preprocessing.value,
            precision=service.precision,
            device=service.device,
        )
    for study, path, result in outcomes:
        _keep(study, path, result, service.card.weights_sha256)


def _predict(service: TriageService, images: Sequence[PreparedImage]) -> list[Prediction | str]:
    """Predictions of a batch; if the batch fails, each image alone, so one bad image costs only itself."""
    if not images:
        return []
    try:
        return list(service.predict(images))
    except Exception as exc:
        if len(images) == 1:
            log.warning("the model failed on an image: %s", type(exc).__name__)
            return [f"the model could not score this image ({type(exc).__name__}: {exc})"]
    return [outcome for image in images for outcome in _predict(service, [image])]


def _read_ahead(
    studies: Sequence[_Study], reader: ThreadPoolExecutor, service: TriageService, depth: int
) -> Iterator[tuple[_Study, list[tuple[ScanEntry, str, PreparedImage | str]]]]:
    """Each study with its images to score, read and prepared ``depth`` images ahead on ``reader``."""
    queue: list[tuple[_Study, list[tuple[ScanEntry, str, Future[PreparedImage | str]]]]] = []
    queued = 0
    for study in studies:
        futures = [(e, uid, reader.submit(_prepare, e.meta.path, service)) for e, uid in study.todo]
        queue.append((study, futures))
        queued += len(futures)
        while queue and queued > depth:
            head, head_futures = queue.pop(0)
            queued -= len(head_futures)
            yield head, [(e, uid, f.result()) for e, uid, f in head_futures]
    for study, futures in queue:
        yield study, [(e, uid, f.result()) for e, uid, f in futures]


def _prepare(path: Path, service: TriageService) -> PreparedImage | str:
    """Decode and reduce one image to network input; full-resolution pixels are dropped here."""
    try:
        return service.prepare(read_image(path))
    except ReadError as exc:
        return str(exc)
    except Exception as exc:  # a reader must never end the run: any surprise is this image's error
        log.warning("unexpected failure reading an image: %s", type(exc).__name__)
        return f"cannot read this image ({type(exc).__name__}: {exc})"


def stored_studies(
    store: Store, weights_sha256: str, study_uids: Iterable[str] | None = None
) -> list[StudyResult]:
    """Every study in the store (``study_uids`` only, when given) as the worklist shows it under
    ``weights_sha256``, without scoring: images without a result for these weights leave their study
    out (it is still to be scored) unless none of its images can be scored at all."""
    images = store.images(study_uids)
    results = store.results(weights_sha256)
    by_study: dict[str, _Study] = {}
    for image in images:
        study = by_study.setdefault(
            image.entry.meta.study_uid, _Study(image.entry.meta.study_uid, [], [], arrived=image.arrived)
        )
        study.members.append(image.entry)
        if image.entry.status is not Status.SCORED:
            continue
        if image.image_uid in results:
            _keep(study, image.entry.meta.path, results[image.image_uid], weights_sha256)
        else:
            study.todo.append((image.entry, image.image_uid))
    return [study.result() for study in by_study.values() if not study.todo]


def unscored_entries(store: Store, weights_sha256: str) -> list[ScanEntry]:
    """The scan rows of every study that still has an image without a result for these weights."""
    results = store.results(weights_sha256)
    images = store.images()
    waiting = {
        i.entry.meta.study_uid
        for i in images
        if i.entry.status is Status.SCORED and i.image_uid not in results
    }
    return [i.entry for i in images if i.entry.meta.study_uid in waiting]
