"""DICOMweb: QIDO-RS search, WADO-RS retrieval into a cache, STOW-RS storage (``dicomweb-client``).

Every failure of the network or the server becomes a :class:`PacsError` with a plain message; what
was retrieved before a failure stays in the cache, so the next run goes on where this one stopped.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3
from dicomweb_client import DICOMwebClient
from pydicom.dataset import Dataset

from inference.pacs.access import CREDENTIALS_HINT, WebAccess
from inference.pacs.cache import instance_path, save_dataset
from inference.pacs.destinations import CONNECT_TIMEOUT_S, DEFAULT_TIMEOUT_S, PacsError, WebNode

STUDY_UID, SERIES_UID, SOP_UID = "0020000D", "0020000E", "00080018"
_PATIENT_ID, _STUDY_DATE, _ACCESSION = "00100020", "00080020", "00080050"
_MODALITIES, _DESCRIPTION = "00080061", "00081030"
PAGE = 500  # QIDO-RS results asked for at a time
MAX_PAGES = 1000  # a server that ignores offsets must not keep a search going for ever
ORIGINAL_SYNTAX = (("application/dicom", "*"),)  # as stored: no transcoding by the server
RETRY_ATTEMPTS = 3  # per request, for a busy PACS (429, 503) or a failed connection


@dataclass
class Retrieved:
    """What one retrieval did, in instances."""

    fetched: int = 0
    cached: int = 0  # already in the cache: not fetched again


def search_studies(
    node: WebNode,
    *,
    study_uids: Sequence[str] = (),
    since: str = "",
    modalities: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[str]:
    """Study Instance UIDs matching every given filter (QIDO-RS), in the server's order, once each."""
    filters = [{"StudyInstanceUID": uid} for uid in study_uids] or [{}]
    by_modality = [{"ModalitiesInStudy": m} for m in modalities] or [{}]
    date = {"StudyDate": f"{since}-"} if since else {}
    found: dict[str, None] = {}
    with _client(node, timeout, "search (QIDO-RS)") as client:
        for uid_filter in filters:
            for modality in by_modality:
                search = functools.partial(
                    client.search_for_studies, search_filters=uid_filter | modality | date
                )
                for study in _pages(search):
                    found.setdefault(_value(study, STUDY_UID), None)
    return [uid for uid in found if uid]


@dataclass(frozen=True)
class StudySummary:
    """One study a QIDO-RS query found, as a results table shows it."""

    study_uid: str
    patient_id: str
    study_date: str
    accession: str
    modalities: str
    description: str


def echo(node: WebNode, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Check that ``node`` answers a QIDO-RS query (for one study); raises :class:`PacsError` if not.
    Tried once: a test says at once that a PACS cannot be reached, or is busy."""
    with _client(node, timeout, "a test query (QIDO-RS)", attempts=1) as client:
        client.search_for_studies(limit=1)


def find_studies(
    node: WebNode,
    *,
    dates: tuple[str, str] = ("", ""),
    patient_id: str = "",
    accession: str = "",
    limit: int = PAGE,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[StudySummary]:
    """At most ``limit`` studies (QIDO-RS) of the date range (YYYYMMDD, either end open), patient
    and accession number given (an empty filter matches everything)."""
    filters = {"PatientID": patient_id, "AccessionNumber": accession, "StudyDate": "-".join(dates)}
    wanted = {key: value for key, value in filters.items() if value.strip("-")}
    with _client(node, timeout, "search (QIDO-RS)") as client:
        search = functools.partial(client.search_for_studies, search_filters=wanted, fields=[_DESCRIPTION])
        return [_summary(study) for study in itertools.islice(_pages(search), limit)]


def _summary(study: dict[str, dict]) -> StudySummary:
    modalities = study.get(_MODALITIES, {}).get("Value") or []
    return StudySummary(
        _value(study, STUDY_UID), _value(study, _PATIENT_ID), _value(study, _STUDY_DATE),
        _value(study, _ACCESSION), ",".join(str(m) for m in modalities), _value(study, _DESCRIPTION),
    )  # fmt: skip


def retrieve_study(
    node: WebNode,
    study_uid: str,
    folder: Path,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Retrieved:
    """Every instance of the study into ``folder`` (WADO-RS), fetching only those not already there."""
    counts = Retrieved()
    with _client(node, timeout, f"retrieve study {study_uid} (WADO-RS)") as client:
        search = functools.partial(client.search_for_instances, study_instance_uid=study_uid)
        for instance in _pages(search):
            series, sop = _value(instance, SERIES_UID), _value(instance, SOP_UID)
            path = instance_path(folder, study_uid, sop)
            if path.exists():
                counts.cached += 1
            else:
                ds = client.retrieve_instance(study_uid, series, sop, media_types=ORIGINAL_SYNTAX)
                save_dataset(path, ds)
                counts.fetched += 1
    return counts


def store_instances(node: WebNode, datasets: Sequence[Dataset], timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Store ``datasets`` (STOW-RS); a refusal of any instance is an error naming the reason."""
    with _client(node, timeout, "store (STOW-RS)") as client:
        answer = client.store_instances(datasets)
    failed = answer.get("FailedSOPSequence", [])
    if failed:
        reasons = ", ".join(f"{item.get('FailureReason', '?'):#06x}" for item in failed)
        raise PacsError(f"{node} refused {len(failed)} of {len(datasets)} objects (reasons {reasons})")


@contextmanager
def _client(
    node: WebNode, timeout: float, what: str, attempts: int = RETRY_ATTEMPTS
) -> Iterator[DICOMwebClient]:
    """A DICOMweb client on a session that carries ``node.access`` (credentials, CA, client
    certificate), whose failures become :class:`PacsError` naming ``what`` and the server. A request
    gets ``attempts`` tries, and :data:`CONNECT_TIMEOUT_S` to connect (``timeout`` to answer)."""
    where, connect = str(node), min(timeout, CONNECT_TIMEOUT_S)
    try:
        # --insecure is said once per run by the command, not by urllib3 once per request (the filters
        # are global: only touched then, which the viewer, running jobs on threads, never asks for)
        quiet = warnings.catch_warnings() if node.access.insecure else contextlib.nullcontext()
        with _session(node.access) as session, quiet:
            if node.access.insecure:
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            client = DICOMwebClient(node.url, timeout=(connect, timeout), session=session)
            # dicomweb-client retries every failed request 5 times, 2 to 16 s apart (30 s before a refused
            # connection is reported); a busy PACS (429, 503) still gets two more tries, 0.5 and 1 s later
            client.set_http_retry_params(max_attempts=attempts, wait_exponential_multiplier=250)
            yield client
    except requests.exceptions.HTTPError as exc:
        response = exc.response
        status = f"{response.status_code} {response.reason}" if response is not None else str(exc)
        hint = _REFUSED.get(response.status_code, "") if response is not None else ""
        raise PacsError(f"the PACS at {where} answered {status} to {what}{hint}") from exc
    except requests.exceptions.ConnectTimeout as exc:
        raise PacsError(
            f"cannot reach the PACS at {where}: it did not accept the connection within "
            f"{connect:g} s to connect; is it running and is the address right?"
        ) from exc
    except requests.exceptions.Timeout as exc:
        raise PacsError(f"the PACS at {where} did not answer within {timeout:g} s ({what})") from exc
    except requests.exceptions.SSLError as exc:
        raise PacsError(_tls_failure(where, exc)) from exc
    except requests.exceptions.ConnectionError as exc:
        raise PacsError(f"cannot reach the PACS at {where}: is it running and is the address right?") from exc
    except (requests.exceptions.RequestException, ValueError, KeyError) as exc:
        raise PacsError(f"unexpected answer from the PACS at {where} to {what}: {exc}") from exc


_REFUSED = {
    401: f": the PACS wants a user name and password or a token, or refused those given ({CREDENTIALS_HINT})",
    403: ": the PACS does not allow this user to do that",
}
_VERIFY_FAILED = re.compile(r"certificate verify failed: ([^(]*)")


class _PinnedSession(requests.Session):
    """A session whose ``verify`` the environment (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) cannot
    override: requests lets those replace a session's own CA file, and even ``verify=False``."""

    def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        settings = super().merge_environment_settings(*args, **kwargs)
        settings["verify"] = self.verify
        return settings


@contextmanager
def _session(access: WebAccess) -> Iterator[requests.Session]:
    """A requests session for ``access``: certificate verification on (with its CA file when given,
    else the default bundle or ``REQUESTS_CA_BUNDLE``) unless ``insecure``, its client certificate, and
    basic auth or ``Authorization: Bearer``. Files that cannot be read are a :class:`PacsError`."""
    missing = access.missing_files()
    if missing:
        raise PacsError(f"cannot read {', '.join(missing)}")
    pinned = access.insecure or access.ca_file is not None
    session = _PinnedSession() if pinned else requests.Session()
    if access.insecure:
        session.verify = False
    elif access.ca_file is not None:
        session.verify = str(access.ca_file)
    if access.client_cert is not None:
        cert = str(access.client_cert)
        session.cert = (cert, str(access.client_key)) if access.client_key is not None else cert
    credentials = access.credentials
    if credentials.token:
        session.headers["Authorization"] = f"Bearer {credentials.token}"
    elif credentials.username:
        session.auth = (credentials.username, credentials.password)
    with session:
        yield session


def _tls_failure(where: str, exc: requests.exceptions.SSLError) -> str:
    """A plain message for a failed TLS handshake: the server's certificate not trusted (unknown CA,
    expired, another host's), or the server refusing ours."""
    text = str(exc)
    verify = _VERIFY_FAILED.search(text)
    if verify:
        reason = verify.group(1).strip().rstrip(".") or "not trusted"
        return (
            f"the certificate of the PACS at {where} could not be verified ({reason}): a certificate "
            "problem; if your site's own CA signed it, pass that CA's certificate with --tls-ca FILE"
        )
    return (
        f"the TLS handshake with the PACS at {where} failed, a certificate problem ({_last_reason(text)}): "
        "if it asks for a client certificate, pass --tls-cert FILE and --tls-key FILE; if it uses "
        "your site's own CA, --tls-ca FILE"
    )


def _last_reason(text: str) -> str:
    """The innermost reason of a wrapped SSL error, e.g. ``tlsv13 alert certificate required``."""
    found = re.findall(r"\[SSL: [A-Z0-9_]+\] ([^(]*)", text)
    found = found or re.findall(r"SSLError\((?:\d+, )?'([^']*)", text)
    return (found[-1] if found else "handshake refused").strip().rstrip(".")


def _value(item: dict[str, dict], tag: str) -> str:
    values = item.get(tag, {}).get("Value") or [""]
    return str(values[0])


def _pages(search: Callable[..., list[dict]]) -> Iterator[dict]:
    """Every result of a QIDO-RS search, page by page, until a page is short or brings nothing new
    (some servers ignore ``offset`` and answer the same page again)."""
    seen: set[str] = set()
    for number in range(MAX_PAGES):
        page = search(limit=PAGE, offset=number * PAGE)
        keys = {repr(sorted(item.items())) for item in page}
        if not keys - seen:
            return
        seen |= keys
        yield from page
        if len(page) < PAGE:
            return
