"""Images and heat maps for the studies the reader looks at: images read on the I/O pool, heat maps
(Grad-CAM) computed on the model thread, both kept in caches capped by bytes. :class:`FileImages`
reads any image file by its path (a study's other views, a prior, a similar study) with a thumbnail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from inference.api import Heatmap, XRayImage
from viewer.core.cache import LruCache
from viewer.core.worklist import RowState
from viewer.qt.session_host import SessionHost
from viewer.qt.thumbnails import shrink
from viewer.qt.workers import FunctionWorker

log = logging.getLogger(__name__)
CACHE_BYTES = 256 * 1024 * 1024  # per cache (images, heat maps)
THUMBNAIL_BYTES = 16 * 1024 * 1024  # some 1,800 thumbnails of 96 pixels


def _read(read_image: Callable[[Path], XRayImage], uid: str, path: Path) -> tuple[str, XRayImage | None, str]:
    try:
        return uid, read_image(path), ""
    except Exception as exc:  # ReadError carries a user-facing reason; anything else is named
        log.warning("could not read image: %s", exc)
        return uid, None, str(exc) or type(exc).__name__


def purged_message(when: str) -> str:
    """What the image pane says of a study whose files ``cxr-triage purge`` removed at ``when``."""
    return f"Files removed by purge on {when[:10]}.\nIts results, review and audit are kept in the store."


class ImageRequests(QObject):
    """The images and heat maps of one :class:`TriageSession`, answered through its signals."""

    def __init__(self, session: SessionHost, parent: QObject) -> None:
        super().__init__(parent)
        self._session = session
        # Full-resolution float32 arrays are big (a 2,500² film is 25 MB): cap by bytes, not count.
        self.images: LruCache[XRayImage] = LruCache(16, lambda im: im.pixels.nbytes, CACHE_BYTES)
        self.heatmaps: LruCache[Heatmap] = LruCache(64, lambda hm: hm.values.nbytes, CACHE_BYTES)
        self._reading: dict[str, FunctionWorker] = {}
        self._explaining: set[object] = set()
        sig = session.model_thread.signals
        sig.explained.connect(self._on_explained)
        sig.explainFailed.connect(self._on_explain_failed)

    # -- images -----------------------------------------------------------------------------------
    def prefetch_image(self, uid: str) -> None:
        row = self._session.worklist_model.worklist.get(uid)
        if row is not None and row.state is not RowState.ERROR and self._cached(uid, row.meta.path) is None:
            self.request_image(uid)

    def request_image(self, uid: str) -> None:
        s = self._session
        row = s.worklist_model.worklist.get(uid)
        if row is None:
            return
        if row.state is RowState.ERROR:
            s.imageFailed.emit(uid, row.reason or "unreadable")
            return
        cached = self._cached(uid, row.meta.path)
        if cached is not None:
            s.imageReady.emit(uid, cached)
            return
        if row.meta.purged and not row.meta.path.exists():
            s.imageFailed.emit(uid, purged_message(row.meta.purged))
            return
        if uid in self._reading:
            return
        worker = FunctionWorker(_read, s.backend.read_image, uid, row.meta.path)
        worker.signals.returned.connect(self._on_image)
        self._reading[uid] = worker
        s.io.start(worker)

    def _cached(self, uid: str, path: Path) -> XRayImage | None:
        """The study's image if the one kept is of ``path``: a study's lead image can change (shown
        while indexed, a PA + lateral study may show its lateral; scored, its frontal leads)."""
        image = self.images.get(uid)
        return image if image is not None and image.meta.path == path else None

    @Slot(object)
    def _on_image(self, item: tuple[str, XRayImage | None, str]) -> None:
        uid, image, reason = item
        self._reading.pop(uid, None)
        if self._session.closed:
            return
        if image is None:
            self._session.imageFailed.emit(uid, reason)
            return
        self.images.put(uid, image)
        self._session.imageReady.emit(uid, image)

    # -- heat maps --------------------------------------------------------------------------------
    def heatmap_key(self, uid: str, label: str) -> tuple[str, str, str] | None:
        info = self._session.info
        return None if info is None else (uid, label, info.card.weights_sha256)

    def request_heatmap(self, uid: str, label: str) -> bool:
        key = self.heatmap_key(uid, label)
        image = self.images.get(uid)
        row = self._session.worklist_model.worklist.get(uid)
        if key is None or image is None or row is None or row.state is not RowState.SCORED:
            return False
        cached = self.heatmaps.get(key)
        if cached is not None:
            self._session.heatmapReady.emit(key, cached)
            return False
        if key not in self._explaining:
            self._explaining = {key}  # the thread keeps only the newest request
            self._session.model_thread.explain(key, image, label)
        return True

    def explaining(self, key: object) -> bool:
        return key in self._explaining

    @Slot(object, object)
    def _on_explained(self, key: object, heatmap: Heatmap) -> None:
        self._explaining.discard(key)
        self.heatmaps.put(key, heatmap)
        self._session.heatmapReady.emit(key, heatmap)

    @Slot(object, str)
    def _on_explain_failed(self, key: object, reason: str) -> None:
        self._explaining.discard(key)
        self._session.heatmapFailed.emit(key, reason)


FileRead = tuple[Path, XRayImage | None, np.ndarray | None, str]  # path, image, thumbnail, why not


def _read_file(read_image: Callable[[Path], XRayImage], path: Path) -> FileRead:
    """As :func:`_read`, keyed by the path, with the image's thumbnail."""
    _, image, reason = _read(read_image, str(path), path)
    return path, image, None if image is None else shrink(image.pixels), reason


class FileImages(QObject):
    """Image files read by path on the session's I/O pool, each answered with its thumbnail too;
    both kept (capped by bytes). Answers come as signals, for whoever asked for that path."""

    imageRead = Signal(object, object)  # noqa: N815  Path, XRayImage
    thumbnailRead = Signal(object, object)  # noqa: N815  Path, 8-bit grey array (thumbnails.shrink)
    readFailed = Signal(object, str)  # noqa: N815  Path, reason

    def __init__(self, session: SessionHost, parent: QObject) -> None:
        super().__init__(parent)
        self._session = session
        self.images: LruCache[XRayImage] = LruCache(8, lambda im: im.pixels.nbytes, CACHE_BYTES // 2)
        self.thumbnails: LruCache[np.ndarray] = LruCache(1024, lambda a: a.nbytes, THUMBNAIL_BYTES)
        self._reading: dict[Path, FunctionWorker] = {}

    def request(self, path: Path) -> None:
        """Read ``path`` (answered at once when cached): imageRead and thumbnailRead, or readFailed."""
        cached, small = self.images.get(path), self.thumbnails.get(path)
        if cached is not None and small is not None:
            self.thumbnailRead.emit(path, small)
            self.imageRead.emit(path, cached)
            return
        if path in self._reading:
            return
        worker = FunctionWorker(_read_file, self._session.backend.read_image, path)
        worker.signals.returned.connect(self._on_read)
        self._reading[path] = worker
        self._session.io.start(worker)

    def request_thumbnail(self, path: Path) -> None:
        """The thumbnail of ``path``: at once when made already, else by reading the file."""
        small = self.thumbnails.get(path)
        if small is not None:
            self.thumbnailRead.emit(path, small)
        else:
            self.request(path)

    @Slot(object)
    def _on_read(self, item: FileRead) -> None:
        path, image, small, reason = item
        self._reading.pop(path, None)
        if self._session.closed:
            return
        if image is None or small is None:
            self.readFailed.emit(path, reason)
            return
        self.images.put(path, image)
        self.thumbnails.put(path, small)
        self.thumbnailRead.emit(path, small)
        self.imageRead.emit(path, image)
