"""What works the same with either kind of node: a connection test (C-ECHO, or a QIDO-RS query for
one study) and sending a study's SR and Secondary Capture (C-STORE or STOW-RS), recorded in the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inference.pacs import dicomweb, dimse
from inference.pacs.destinations import DEFAULT_TIMEOUT_S, DicomNode, WebNode

if TYPE_CHECKING:
    from inference.pacs.objects import StudyObjects
    from inference.store import Store


def echo(
    node: WebNode | DicomNode, timeout: float = DEFAULT_TIMEOUT_S, calling: str = dimse.OWN_AE_TITLE
) -> None:
    """Check that ``node`` answers; raises :class:`PacsError` with the reason when it does not."""
    if isinstance(node, WebNode):
        dicomweb.echo(node, timeout)
    else:
        dimse.echo(node, timeout, calling)


def send_objects(
    node: WebNode | DicomNode,
    objects: StudyObjects,
    store: Store,
    timeout: float = DEFAULT_TIMEOUT_S,
    calling: str = dimse.OWN_AE_TITLE,
) -> None:
    """Send a study's objects to ``node``, then record them as sent there (store and audit)."""
    if isinstance(node, WebNode):
        dicomweb.store_instances(node, objects.datasets, timeout)
    else:
        dimse.store(node, objects.datasets, timeout, calling)
    uids = [str(ds.SOPInstanceUID) for ds in objects.datasets]
    store.record_sent(objects.study_uid, objects.weights_sha256, str(node), uids)
