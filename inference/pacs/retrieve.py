"""Studies from a DICOMweb server into the local cache: the search, then each study's instances
(resumable: an instance already cached is never fetched again). Used by ``pull`` and ``batch``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from inference.pacs.cache import study_folder
from inference.pacs.destinations import PacsError, WebNode
from inference.pacs.dicomweb import retrieve_study, search_studies

DEFAULT_MODALITIES = ("CR", "DX")


@dataclass(frozen=True)
class Pulled:
    """What a pull left in the cache: one folder per study that has instances there, and why it
    stopped early ("" when every study came)."""

    studies: int
    folders: list[Path]
    failure: str


def pull_studies(
    node: WebNode,
    cache: Path,
    *,
    study_uids: Sequence[str] = (),
    since: str = "",
    modalities: Sequence[str] = DEFAULT_MODALITIES,
    timeout: float,
    report: Callable[[str], None] = print,
) -> Pulled:
    """Search ``node`` and retrieve the matching studies into ``cache``; raises :class:`PacsError`
    only when the search itself fails. A failed retrieval stops the pull but keeps what arrived."""
    studies = search_studies(node, study_uids=study_uids, since=since, modalities=modalities, timeout=timeout)
    report(f"{len(studies)} studies on {node}; cache {cache}")
    folders: list[Path] = []
    failure = ""
    for uid in studies:
        try:
            counts = retrieve_study(node, uid, cache, timeout)
            report(f"{uid}: {counts.fetched} instances retrieved, {counts.cached} already in the cache")
        except PacsError as exc:
            failure = str(exc)
        folder = study_folder(cache, uid)
        if folder.is_dir():  # what arrived before a failure is scored too
            folders.append(folder)
        if failure:
            break
    return Pulled(len(studies), folders, failure)
