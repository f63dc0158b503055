"""Claims in the viewer (a team store only; a SQLite store has none): the study the reader opens is
claimed for the store's lease and renewed at half of it while it stays open; moving to another study
or closing the window gives it back, and a review gives it back in the store itself. A study someone
else holds opens read-only (:func:`viewer.qt.read_only_store.cannot_keep` refuses the review keys)
until the reader takes it over (audited by the store). Every other reader's claims are read every few
seconds and shown in the worklist ("being read by NAME").

Every claim call runs on the store thread (:class:`viewer.qt.store_worker.StoreWorker`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from inference.store import LEASE_S, Claim, Store
from viewer.core.claim_text import being_read_by
from viewer.qt.worklist_model import WorklistModel

REFRESH_MS = 5000  # how often the others' claims are read
Work = Callable[[Store], Any]
Submit = Callable[[Work, Callable[[Any], None] | None, Callable[[], None] | None], None]  # see StoreAccess


class StudyClaims(QObject):
    """The shown study's claim and everyone's, for one window. ``submit(work, done, failed)`` runs
    ``work(store)`` on the store thread and hands its answer to ``done`` on the GUI thread (or calls
    ``failed()`` when the store refused)."""

    changed = Signal(str)  # the study whose claim changed (the shown one's, or ""): captions follow

    def __init__(
        self,
        store: Store | None,
        worklist_model: WorklistModel,
        submit: Submit,
        parent: QObject | None = None,
        lease_s: float | None = None,
        refresh_ms: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.active = store is not None and bool(store.server_url)
        self._model, self._submit, self._lease_s = worklist_model, submit, lease_s or LEASE_S
        self._shown: str | None = None
        self._claim: Claim | None = None  # the shown study's, as the store last answered
        self._renew = QTimer(self, interval=int(self._lease_s * 500))  # at half of the lease
        self._renew.timeout.connect(self._renew_claim)
        self._refreshing = False
        self._refresh = QTimer(self, interval=refresh_ms or REFRESH_MS)
        self._refresh.timeout.connect(self.refresh)
        if self.active:
            self._refresh.start()
            self.refresh()

    @property
    def holder(self) -> str:
        """Who else holds the shown study ("" when nobody does, or this reader)."""
        claim = self._claim
        return claim.holder if claim is not None and not claim.mine else ""

    def holder_of(self, uid: str) -> str:
        """Who else holds ``uid``, as far as this window knows ("" when nobody)."""
        return self.holder if uid == self._shown else ""

    # -- the shown study ---------------------------------------------------------------------------
    @Slot(object)
    def show_study(self, uid: str | None) -> None:
        """The reader moved to ``uid``: the previous study is given back, this one claimed."""
        if not self.active or uid == self._shown:
            return
        self._give_back()
        self._shown, self._claim = uid, None
        self.changed.emit(uid or "")
        row = self._model.worklist.get(uid) if uid is not None else None
        if uid is not None and row is not None and row.review is None:
            self._ask(uid, take_over=False)

    def take_over(self) -> bool:
        """Take the shown study over from its holder (audited by the store); False: nobody else holds it."""
        if not self.active or self._shown is None or not self.holder:
            return False
        self._ask(self._shown, take_over=True)
        return True

    def close(self) -> None:
        """The window closes: the shown study is given back (written before the store closes)."""
        self._refresh.stop()
        self._give_back()
        self._shown = None

    def _ask(self, uid: str, take_over: bool) -> None:
        lease = self._lease_s
        self._submit(lambda store: store.claim(uid, lease, take_over=take_over), self._on_claimed, None)

    def _give_back(self) -> None:
        self._renew.stop()
        shown, claim = self._shown, self._claim
        if shown is not None and (claim is None or claim.mine):  # its answer may be on its way
            self._submit(lambda store: store.release(shown), None, None)
        self._claim = None

    @Slot()
    def _renew_claim(self) -> None:
        row = self._model.worklist.get(self._shown) if self._shown is not None else None
        if row is None or row.review is not None:  # reviewed: the store gave it back
            self._renew.stop()
            return
        self._ask(row.uid, take_over=False)

    def _on_claimed(self, claim: Claim) -> None:
        if claim.study_uid != self._shown:
            if claim.mine:  # the reader moved on meanwhile
                self._submit(lambda store: store.release(claim.study_uid), None, None)
            return
        self._claim = claim
        if claim.mine:
            self._renew.start()
        else:
            self._renew.stop()
        self._show_others({claim.study_uid: claim} if not claim.mine else {}, only=claim.study_uid)
        self.changed.emit(claim.study_uid)

    # -- everyone's claims -------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        if self._refreshing:  # one read at a time (kept while the server is away)
            return
        self._refreshing = True
        self._submit(lambda store: store.claims(), self._on_claims, self._refresh_failed)

    def _refresh_failed(self) -> None:
        self._refreshing = False

    def _on_claims(self, claims: dict[str, Claim]) -> None:
        self._refreshing = False
        shown, claim = self._shown, self._claim
        now = claims.get(shown) if shown is not None else None
        if shown is not None and claim is not None and now is None and not claim.mine:
            self._claim = None  # its holder gave it back: the reader may claim it
            self._ask(shown, take_over=False)
        elif now is not None and not now.mine and (claim is None or claim.holder != now.holder):
            self._claim = now  # taken over from this reader: read-only from now on
            self._renew.stop()
            self.changed.emit(now.study_uid)
        self._show_others({uid: c for uid, c in claims.items() if not c.mine})

    def _show_others(self, claims: dict[str, Claim], only: str | None = None) -> None:
        texts = {uid: being_read_by(claim.holder) for uid, claim in claims.items()}
        self._model.set_claims(texts, only=only)
