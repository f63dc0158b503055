"""Studies from their images: the one rule that turns per-image results into a worklist row, and the
worklist a store holds (no reading, no model: cheap to import, fast on 10,000 studies)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from inference.api import ScanEntry, Status, StudyResult
from inference.store import ImageResult, Store


def summarise_study(
    study_uid: str,
    entries: Sequence[ScanEntry],
    outcomes: Sequence[ImageResult | None],
    arrived: str = "",
) -> StudyResult:
    """One worklist row from a study's images: per-finding maximum over its scored images.

    ``outcomes[i]`` is image ``i``'s result under the current weights (None: not scored). Reasons and
    the readers' warnings are carried over, named by file when the study has several images;
    ``arrived`` is when the study reached the store. Images the safety gate stopped (NOT_SCORED) give
    no probabilities; the study keeps the highest gate score of its images.
    """
    files = tuple(e.meta.path for e in entries)
    many = len(entries) > 1
    pairs = list(zip(entries, outcomes, strict=True))
    notes = tuple(_describe(e, w, many) for e, o in pairs if o for w in o.warnings)
    scored = [(e, o) for e, o in pairs if o and o.status is Status.SCORED]
    skipped = [(e, o.reason if o else e.reason, o) for e, o in pairs if not (o and o.status is Status.SCORED)]
    gate = max((o.gate_score for o in outcomes if o and o.gate_score is not None), default=None)
    if not scored:
        failed = [(e, why) for e, why, o in skipped if Status.ERROR in (e.status, o and o.status)]
        status = Status.ERROR if failed else Status.NOT_SCORED
        chosen = failed or [(e, why) for e, why, _ in skipped]
        reason = "; ".join(_describe(e, why, many) for e, why in chosen)
        meta = chosen[0][0].meta
        return StudyResult(
            study_uid, meta, status, reason, warnings=notes, arrived=arrived, images=files, gate_score=gate
        )
    if len(scored) == 1:
        lead, only = scored[0]
        probabilities = dict(only.probabilities)
    else:
        names = scored[0][1].probabilities.keys()
        probabilities = {n: max(o.probabilities[n] for _, o in scored) for n in names}
        lead = max(scored, key=lambda item: max(item[1].probabilities.values(), default=0.0))[0]
    reason = "; ".join(_describe(e, why, many) for e, why, _ in skipped)
    overridden = any(o.gate_overridden for _, o in scored)
    return StudyResult(
        study_uid, lead.meta, Status.SCORED, reason, probabilities, notes, arrived, files,
        gate_score=gate, gate_overridden=overridden,
    )  # fmt: skip


def _describe(entry: ScanEntry, why: str, name_the_file: bool) -> str:
    return f"{entry.meta.path.name}: {why}" if name_the_file else why


@dataclass
class RunCounts:
    """What a scoring run did, counted in images: each eligible image is exactly one of scored (by the
    model now), reused (its result for these weights was in the store) or errors (could not be read
    or scored now); images refused at scan time (corrupt headers) count as errors too."""

    scored: int = 0
    reused: int = 0
    errors: int = 0


@dataclass
class StudyImages:
    """A study's images on their way to one worklist row: results so far and images still to score."""

    uid: str
    members: list[ScanEntry]
    arrived: str = ""
    outcomes: list[ImageResult | None] = field(default_factory=list)  # one per member
    todo: list[tuple[int, str]] = field(default_factory=list)  # members still to score: (index, image UID)

    def __post_init__(self) -> None:
        self.outcomes = self.outcomes or [None] * len(self.members)

    def add(self, entry: ScanEntry) -> int:
        """Append a member; returns its index."""
        self.members.append(entry)
        self.outcomes.append(None)
        return len(self.members) - 1

    def result(self) -> StudyResult:
        return summarise_study(self.uid, self.members, self.outcomes, self.arrived)


@dataclass(frozen=True)
class StoredWorklist:
    """What a store holds for one set of weights: finished studies, and the scan rows still to score."""

    results: list[StudyResult]
    unscored: list[ScanEntry]


def store_worklist(
    store: Store, weights_sha256: str, study_uids: Iterable[str] | None = None
) -> StoredWorklist:
    """Every study in the store (only ``study_uids`` when given) as the worklist shows it under
    ``weights_sha256``, without scoring.

    A study with an image that has no result for these weights is not finished: its scan rows come
    back in ``unscored`` (to be scored; the store reuses what it has), the others in ``results``.
    """
    images = store.images(study_uids)
    wanted = None if study_uids is None else [image.image_uid for image in images]
    results = store.results(weights_sha256, wanted)
    by_study: dict[str, StudyImages] = {}
    for image in images:
        entry = image.entry
        study = by_study.get(entry.meta.study_uid)
        if study is None:
            study = by_study[entry.meta.study_uid] = StudyImages(entry.meta.study_uid, [], image.arrived)
        index = study.add(entry)
        if entry.status is not Status.SCORED:
            continue
        stored = results.get(image.image_uid)
        if stored is None:
            study.todo.append((index, image.image_uid))
        else:
            study.outcomes[index] = stored
    finished = [study.result() for study in by_study.values() if not study.todo]
    unscored = [entry for study in by_study.values() if study.todo for entry in study.members]
    return StoredWorklist(finished, unscored)
