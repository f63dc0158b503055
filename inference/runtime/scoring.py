"""From scan entries to study results: reading, batching and scoring images, study by study.

The reading order of the results is :mod:`inference.worklist.ranking`'s business; this module only scores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from inference.api import Prediction, PreparedImage, SafetyGate, ScanEntry, Status, StudyResult, TriageService
from inference.io import group_by_study
from inference.runtime.network_input import prepare_image
from inference.store import ImageResult, Store
from inference.worklist.studies import RunCounts, StudyImages

log = logging.getLogger(__name__)

Reader = Callable[[Path, TriageService], PreparedImage | str]  # a file to network input, or why not


def score_studies(
    entries: Iterable[ScanEntry],
    service: TriageService,
    batch_size: int = 8,
    cancelled: Callable[[], bool] | None = None,
    store: Store | None = None,
    counts: RunCounts | None = None,
    read: Reader = prepare_image,
) -> Iterator[StudyResult]:
    """Read, score and summarise studies, yielding each as soon as all its images are done.

    With a ``store``, every image is recorded, images it already holds a result for (same weights,
    same content, same precision) are not read again, and each batch's results are committed before
    its studies are yielded, so a killed run loses at most the batch in flight. Images are decoded and
    reduced to network input on a reader thread, one batch ahead, while the model scores the current
    batch; a file that cannot be read becomes an error for its study and the run goes on. ``read``
    turns a file into network input (the product's one path; tests give files of their own).
    """
    counts = counts if counts is not None else RunCounts()
    studies = plan_studies(list(entries), service.card.weights_sha256, service.precision, store, counts)
    waiting: list[StudyImages] = []  # studies whose images are in the batch being filled
    batch: list[tuple[StudyImages, int, str, PreparedImage | str]] = []

    def flush() -> Iterator[StudyResult]:
        _score_batch(batch, service, store, counts)
        batch.clear()
        for study in waiting:
            yield study.result()
        waiting.clear()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxr-reader") as reader:
        for study, outcomes in _read_ahead(studies, reader, service, batch_size, read):
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


def plan_studies(
    entries: list[ScanEntry], weights_sha256: str, precision: str, store: Store | None, counts: RunCounts
) -> list[StudyImages]:
    """Group into studies; with a store, record every image and take the results it already has of
    the same content at the same ``precision`` (:meth:`Store.reusable_results`)."""
    uids = (
        store.record(entries) if store is not None else [e.meta.sop_uid or str(e.meta.path) for e in entries]
    )
    uid_of = {id(e): uid for e, uid in zip(entries, uids, strict=True)}
    stored = store.reusable_results(weights_sha256, precision, uids) if store is not None else {}
    groups = group_by_study(entries)
    arrivals = store.arrivals(groups) if store is not None else {}
    counts.errors += sum(e.status is Status.ERROR for e in entries)
    studies = []
    for study_uid, members in groups.items():
        study = StudyImages(study_uid, members, arrivals.get(study_uid, ""))
        for index, entry in enumerate(members):
            if entry.status is not Status.SCORED:
                continue
            uid = uid_of[id(entry)]
            if uid in stored:
                study.outcomes[index] = stored[uid]
                counts.reused += 1
            else:
                study.todo.append((index, uid))
        studies.append(study)
    return studies


def _score_batch(
    batch: Sequence[tuple[StudyImages, int, str, PreparedImage | str]],
    service: TriageService,
    store: Store | None,
    counts: RunCounts,
) -> None:
    """Score the readable images of a batch, then commit every outcome of the batch at once."""
    scores = iter(predict_each(service, [item for *_, item in batch if isinstance(item, PreparedImage)]))
    gate = service.gate
    results = [
        image_result(uid, item, scores, gate, study.members[index].meta.fingerprint)
        for study, index, uid, item in batch
    ]
    if store is not None:
        results = store.save_results(
            results,
            service.card.weights_sha256,
            preprocessing=service.card.preprocessing.value,
            precision=service.precision,
            device=service.device,
        )
    for result in results:  # counted once committed: a batch the store refused was not scored
        counts.scored += result.status is not Status.ERROR  # the gate's refusals were scored too
        counts.errors += result.status is Status.ERROR
    for (study, index, *_), result in zip(batch, results, strict=True):
        study.outcomes[index] = result


def image_result(
    uid: str,
    item: PreparedImage | str,
    scores: Iterator[Prediction | str],
    gate: SafetyGate | None = None,
    fingerprint: str = "",
) -> ImageResult:
    """One image's row from its read outcome (network input, or why it could not be read) and, for a
    readable image, the next of ``scores`` (its prediction, or why the model could not score it).

    A prediction that ``gate`` stops is NOT_SCORED with the gate's reason; its probabilities are
    kept (never ranked) and so is its gate score. ``fingerprint`` is that of the content scored."""
    if isinstance(item, str):
        return ImageResult(uid, Status.ERROR, reason=item, fingerprint=fingerprint)
    score = next(scores)
    if not isinstance(score, Prediction):
        return ImageResult(uid, Status.ERROR, reason=score, warnings=item.warnings, fingerprint=fingerprint)
    verdict = gate.check(item, score.embedding) if gate is not None else None
    return ImageResult(
        uid,
        Status.SCORED if verdict is None or verdict.passed else Status.NOT_SCORED,
        score.probabilities,
        reason=verdict.reason if verdict else "",
        warnings=item.warnings,
        embedding=score.embedding,
        gate_score=verdict.score if verdict else None,
        fingerprint=fingerprint,
    )


def predict_each(service: TriageService, images: Sequence[PreparedImage]) -> list[Prediction | str]:
    """Predictions of a batch; if the batch fails, each image alone, so one bad image costs only itself."""
    if not images:
        return []
    try:
        return list(service.predict(images))
    except Exception as exc:
        if len(images) == 1:
            log.warning("the model failed on an image: %s", type(exc).__name__)
            return [f"the model could not score this image ({type(exc).__name__}: {exc})"]
    return [outcome for image in images for outcome in predict_each(service, [image])]


def _read_ahead(
    studies: Sequence[StudyImages],
    reader: ThreadPoolExecutor,
    service: TriageService,
    depth: int,
    read: Reader,
) -> Iterator[tuple[StudyImages, list[tuple[int, str, PreparedImage | str]]]]:
    """Each study with its images to score, read and prepared ``depth`` images ahead on ``reader``."""
    queue: list[tuple[StudyImages, list[tuple[int, str, Future[PreparedImage | str]]]]] = []
    queued = 0
    for study in studies:
        futures = [
            (index, uid, reader.submit(read, study.members[index].meta.path, service))
            for index, uid in study.todo
        ]
        queue.append((study, futures))
        queued += len(futures)
        while queue and queued > depth:
            head, head_futures = queue.pop(0)
            queued -= len(head_futures)
            yield head, [(index, uid, f.result()) for index, uid, f in head_futures]
    for study, futures in queue:
        yield study, [(index, uid, f.result()) for index, uid, f in futures]
