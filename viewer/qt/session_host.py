"""What the session's parts (store access, indexing, scoring jobs, image requests) use of the session
that owns them: :class:`viewer.qt.session.TriageSession` is one. Typed here, apart from the session,
so that the parts never import the module that imports them."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import SignalInstance

from inference.store import Store
from viewer.qt.engine_parts import EngineParts
from viewer.qt.model_thread import ModelInfo, ModelThread
from viewer.qt.workers import WorkerPool
from viewer.qt.worklist_model import WorklistModel


class SessionHost(Protocol):
    backend: EngineParts
    store: Store | None
    worklist_model: WorklistModel
    info: ModelInfo | None
    io: WorkerPool
    model_thread: ModelThread
    closed: bool
    message: SignalInstance
    progressChanged: SignalInstance  # noqa: N815 (the session's Qt signal names)
    imageReady: SignalInstance  # noqa: N815
    imageFailed: SignalInstance  # noqa: N815
    heatmapReady: SignalInstance  # noqa: N815
    heatmapFailed: SignalInstance  # noqa: N815
    storeReadOnly: SignalInstance  # noqa: N815
    storeUnreachable: SignalInstance  # noqa: N815
    scoringDone: SignalInstance  # noqa: N815
    scoringFailed: SignalInstance  # noqa: N815

    @property
    def reading_files(self) -> bool: ...

    def maybe_idle(self) -> None: ...

    def reload(self) -> None: ...

    def score_queued(self) -> None: ...
