"""The PACS menu's network jobs, without Qt: test a node, query and retrieve studies over DICOMweb, and
send a study's SR and Secondary Capture, all through :mod:`inference.pacs`.

Each job is a generator of :class:`Step` progress that a worker thread runs (see
:mod:`viewer.qt.workers`); it takes a ``cancelled`` callable, as those workers pass it, and stops
between studies or steps, never inside a transfer. The network libraries load with the first job.

A DICOMweb node is reached with the credentials of the environment (``CXR_TRIAGE_PACS_USER`` and
``CXR_TRIAGE_PACS_PASSWORD``, or ``CXR_TRIAGE_PACS_TOKEN``), as the commands are, else those the OS
credential store keeps under the node's name (the Nodes tab saves them there), and its certificate
is always verified (against the node's TLS CA file when it has one, else the default CAs or
``REQUESTS_CA_BUNDLE``'s file); its client certificate, when it has one, is presented. A ``dicom://``
node with TLS files is reached over DICOM TLS (Test is a C-ECHO over TLS, Send a C-STORE over TLS).

Not in :mod:`viewer.core`: sending draws the annotated image with the model's engine, so this module
reaches torch (lazily, through ``inference.pacs``), which that package's layering contract forbids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from inference.pacs import DicomNode, PacsError, WebNode
from inference.pacs.access import Credentials, find_credentials
from inference.store.location import PULL_CACHE, beside_store
from viewer.core.pacs_nodes import DEFAULT_OWN_AE_TITLE, PacsNode

if TYPE_CHECKING:
    from inference.api import ModelCard
    from inference.pacs.dicomweb import StudySummary
    from inference.runtime.engine import Engine
    from inference.store import Store


@dataclass(frozen=True)
class Step:
    """Progress of a network job; ``folder`` is a study retrieved into the cache, ready to open."""

    done: int
    total: int
    text: str
    folder: Path | None = None


@dataclass(frozen=True)
class StudyQuery:
    """What a study query asks for: dates YYYYMMDD (either end open), patient ID and accession number;
    an empty field matches everything."""

    date_from: str = ""
    date_to: str = ""
    patient_id: str = ""
    accession: str = ""

    def problem(self) -> str:
        """Why the query cannot be sent as it is, or "" when it can."""
        bad = [date for date in (self.date_from, self.date_to) if date and len(date) != 8]
        return f"Dates are YYYYMMDD (8 digits), not {bad[0]!r}." if bad else ""


def echo_node(
    node: PacsNode,
    cancelled: Callable[[], bool],
    *,
    calling: str = DEFAULT_OWN_AE_TITLE,
    credentials: Credentials | None = None,
) -> Iterator[Step]:
    """C-ECHO a DIMSE node as ``calling``, or a one-study QIDO-RS query to a DICOMweb one, with
    ``credentials`` when given (typed in the Nodes tab, not yet saved), else :func:`with_credentials`'."""
    from inference.pacs.transfer import echo

    yield Step(0, 0, f"Testing {node.name}…")
    destination = node.destination
    if credentials is not None and isinstance(destination, WebNode):
        destination = replace(destination, access=destination.access.with_credentials(credentials))
    echo(reached(destination), calling=calling)
    yield Step(1, 1, f"{node.name} answers.")


def query_studies(
    node: WebNode, query: StudyQuery, cancelled: Callable[[], bool]
) -> Iterator[Step | list[StudySummary]]:
    """The studies ``node`` holds that match ``query`` (QIDO-RS), yielded as one list."""
    from inference.pacs.dicomweb import find_studies

    yield Step(0, 0, f"Searching {node}…")
    yield find_studies(
        with_credentials(node),
        dates=(query.date_from, query.date_to),
        patient_id=query.patient_id,
        accession=query.accession,
    )


def retrieve_studies(
    node: WebNode, uids: Sequence[str], cache: Path, cancelled: Callable[[], bool]
) -> Iterator[Step]:
    """Each study into the cache (WADO-RS); every study folder is handed on as soon as it is there, so
    that what arrived before a failure or a cancel still reaches the worklist."""
    from inference.pacs.cache import study_folder
    from inference.pacs.dicomweb import retrieve_study

    node = with_credentials(node)
    total = len(uids)
    for number, uid in enumerate(uids, start=1):
        yield Step(number - 1, total, f"Retrieving study {number} of {total}…")
        failure = ""
        try:
            retrieve_study(node, uid, cache)
        except PacsError as exc:
            failure = str(exc)
        folder = study_folder(cache, uid)
        yield Step(
            number, total, failure or f"Retrieved {number} of {total}", folder if folder.is_dir() else None
        )
        if failure:
            raise PacsError(failure)


def send_results(
    store: Store,
    engine: Engine,
    card: ModelCard,
    thresholds: Mapping[str, float],
    uid: str,
    node: PacsNode,
    cancelled: Callable[[], bool],
    *,
    calling: str = DEFAULT_OWN_AE_TITLE,
) -> Iterator[Step]:
    """Make the study's SR and Secondary Capture (as ``export-dicom`` does), then send them to ``node``
    (a DIMSE node is called as ``calling``)."""
    from inference.pacs.objects import Skipped, study_objects
    from inference.pacs.transfer import send_objects

    yield Step(0, 2, "Making the SR and Secondary Capture…")
    objects = next(study_objects(store, engine, card, thresholds, [uid]))
    if isinstance(objects, Skipped):
        raise ValueError(f"not sent: {objects.reason}")
    if cancelled():
        return
    yield Step(1, 2, f"Sending to {node.name}…")
    send_objects(reached(node.destination), objects, store, calling=calling)
    yield Step(2, 2, f"SR and Secondary Capture sent to {node.name}.")


def reached(node: WebNode | DicomNode) -> WebNode | DicomNode:
    """A DICOMweb node with its credentials (:func:`with_credentials`); a DIMSE node as it is."""
    return with_credentials(node) if isinstance(node, WebNode) else node


def with_credentials(node: WebNode) -> WebNode:
    """``node`` with the environment's credentials, else the OS credential store's for the name it was
    saved as (:attr:`WebAccess.saved_as`), when it has no credentials of its own. ``ValueError`` when the
    environment holds half a set of credentials or the credential store cannot be read."""
    if node.access.credentials == Credentials():  # its CA and client certificate (a saved node's) stay
        return replace(node, access=node.access.with_credentials(find_credentials(node=node.access.saved_as)))
    return node


def pull_cache(store_path: Path | str | None) -> Path:
    """Where ``pull`` keeps retrieved instances: next to the store (with none open, the default one)."""
    return beside_store(PULL_CACHE, store_path)


def failure_message(exc: Exception) -> str:
    """The reader's message for a failed job: the PACS link's own text, else the error named."""
    if isinstance(exc, PacsError | ValueError):
        return str(exc)
    if isinstance(exc, CancelledError):  # a heat map the reader asked for took the model's turn
        return "Interrupted while drawing the annotated image: send again."
    return f"{type(exc).__name__}: {exc}"
