"""A searchable set of study vectors, kept in one file: exact search (numpy) while the set is small,
an HNSW graph (faiss) once it is large.

Vectors are L2-normalised, so the inner product is the cosine similarity. Rows are appended in
order; a study whose vector changes (a new image arrived) gets a new row and its old one is
superseded: exact search overwrites it in place, the graph (which cannot delete) skips it and is
rebuilt once too many rows are superseded. The last row of a study is always its current one.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)

EXACT_MAX = 20_000  # up to this many studies, exact search (about 6 ms a query at 20,000 on 2 cores)
HNSW_M = 32  # graph degree
EF_CONSTRUCTION = 64
EF_SEARCH = 128  # candidates kept while searching: recall against speed
REBUILD_STALE = 0.25  # rebuild the graph once this share of its rows are superseded
FORMAT = 1  # of the file; another format is rebuilt from the store


class StudyIndex:
    """Study vectors of one set of weights, with ``mark``: the store's last embedding seq they include."""

    def __init__(self, weights_sha256: str, exact_max: int = EXACT_MAX) -> None:
        self.weights_sha256 = weights_sha256
        self.exact_max = exact_max
        self.mark = 0
        self._uids: list[str] = []  # one per row, superseded rows included
        self._row_of: dict[str, int] = {}  # each study's current row
        self._vectors: np.ndarray | None = None  # exact: (rows, dim) float32
        self._graph: faiss.IndexHNSWFlat | None = None  # large: holds the vectors itself

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, study_uid: object) -> bool:
        return study_uid in self._row_of

    @property
    def kind(self) -> str:
        return "exact" if self._graph is None else "hnsw"

    def vector(self, study_uid: str) -> np.ndarray:
        row = self._row_of[study_uid]
        if self._graph is not None:
            return np.asarray(self._graph.reconstruct(row), dtype=np.float32)
        assert self._vectors is not None
        return self._vectors[row]

    # -- updates -----------------------------------------------------------------------------------
    def upsert(self, vectors: Mapping[str, np.ndarray], mark: int) -> None:
        """Add or replace the vectors of these studies; ``mark`` is the store seq they bring us to."""
        uids = list(vectors)
        matrix = np.stack([np.asarray(vectors[u], dtype=np.float32) for u in uids]) if uids else None
        if matrix is not None and self._graph is None:
            self._upsert_exact(uids, matrix)
            if len(self) > self.exact_max:
                self._rebuild_graph()
        elif matrix is not None:
            self._append_rows(uids, matrix)
            if self._stale_share() > REBUILD_STALE:
                self._rebuild_graph()
        self.mark = mark

    def _upsert_exact(self, uids: list[str], matrix: np.ndarray) -> None:
        known = [(i, self._row_of[u]) for i, u in enumerate(uids) if u in self._row_of]
        if known and self._vectors is not None:
            new_rows, old_rows = zip(*known, strict=True)
            self._vectors[list(old_rows)] = matrix[list(new_rows)]
        fresh = [i for i, u in enumerate(uids) if u not in self._row_of]
        if fresh:
            self._vectors = (
                matrix[fresh] if self._vectors is None else np.vstack([self._vectors, matrix[fresh]])
            )
            self._register([uids[i] for i in fresh])

    def _append_rows(self, uids: list[str], matrix: np.ndarray) -> None:
        assert self._graph is not None
        self._graph.add(np.ascontiguousarray(matrix))
        self._register(uids)

    def _register(self, uids: list[str]) -> None:
        start = len(self._uids)
        self._uids.extend(uids)
        self._row_of.update((u, start + i) for i, u in enumerate(uids))

    def _stale_share(self) -> float:
        return 1.0 - len(self._row_of) / max(len(self._uids), 1)

    def _current(self) -> tuple[list[str], np.ndarray]:
        """Every study and its current vector, in row order."""
        uids = sorted(self._row_of, key=self._row_of.__getitem__)
        rows = [self._row_of[u] for u in uids]
        if self._graph is not None:
            return uids, np.stack([self._graph.reconstruct(r) for r in rows]).astype(np.float32)
        assert self._vectors is not None
        return uids, self._vectors[rows]

    def _rebuild_graph(self) -> None:
        uids, matrix = self._current()
        log.info("building the similar-case graph over %d studies", len(uids))
        self._graph, self._vectors = _new_graph(matrix.shape[1]), None
        self._uids, self._row_of = [], {}
        self._append_rows(uids, matrix)

    # -- search ------------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        """The ``k`` studies most similar to ``query`` (cosine, highest first), leaving out ``exclude``."""
        if self._graph is None:
            return self._search_exact(query, k, exclude)
        return self._search_graph(query, k, exclude)

    def _search_exact(self, query: np.ndarray, k: int, exclude: Collection[str]) -> list[tuple[str, float]]:
        if self._vectors is None:
            return []
        similarity = self._vectors @ query.astype(np.float32)
        banned = [self._row_of[u] for u in exclude if u in self._row_of]
        similarity[banned] = -np.inf
        count = min(k, len(self._uids) - len(banned))
        if count <= 0:
            return []
        top = np.argpartition(-similarity, count - 1)[:count]
        top = top[np.argsort(-similarity[top], kind="stable")]
        return [(self._uids[r], float(similarity[r])) for r in top]

    def _search_graph(self, query: np.ndarray, k: int, exclude: Collection[str]) -> list[tuple[str, float]]:
        """Ask the graph for more than ``k`` (superseded and excluded rows are skipped), doubling until
        ``k`` remain or every row was asked for."""
        assert self._graph is not None
        total = self._graph.ntotal
        wanted = min(k + len(exclude), len(self._row_of))
        fetch = min(2 * (k + len(exclude)) + 16, total)
        while True:
            self._graph.hnsw.efSearch = max(EF_SEARCH, fetch)
            scores, rows = self._graph.search(query.astype(np.float32)[None], fetch)
            found = [
                (self._uids[r], float(s))
                for s, r in zip(scores[0].tolist(), rows[0].tolist(), strict=True)
                if r >= 0 and self._row_of[self._uids[r]] == r
            ]
            if len(found) >= wanted or fetch >= total:
                return [(u, s) for u, s in found if u not in exclude][:k]
            fetch = min(2 * fetch, total)

    # -- the file ----------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the index to ``path`` atomically (a temporary file, then a rename)."""
        arrays: dict[str, Any] = {
            "format": np.int64(FORMAT),
            "weights": np.str_(self.weights_sha256),
            "mark": np.int64(self.mark),
            "uids": np.array(self._uids, dtype=np.str_),
        }
        if self._graph is not None:
            import faiss  # faiss: only for a large index, never at the viewer's start-up

            arrays["graph"] = faiss.serialize_index(self._graph)
        elif self._vectors is not None:
            arrays["vectors"] = self._vectors
        handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, weights_sha256: str, exact_max: int = EXACT_MAX) -> StudyIndex | None:
        """The index saved at ``path`` for these weights; None when absent, unreadable or not ours."""
        try:
            with np.load(path, allow_pickle=False) as saved:
                if int(saved["format"]) != FORMAT or str(saved["weights"]) != weights_sha256:
                    return None
                index = cls(weights_sha256, exact_max)
                index.mark = int(saved["mark"])
                index._register([str(u) for u in saved["uids"]])
                if "graph" in saved:
                    index._graph = _read_graph(saved["graph"])
                elif "vectors" in saved:
                    index._vectors = np.array(saved["vectors"], dtype=np.float32)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged file is rebuilt from the store, never trusted
            log.warning("similar-case index %s unreadable (%s): rebuilding it", path, exc)
            return None
        return index if index._consistent() else None

    def _consistent(self) -> bool:
        if self._graph is not None:
            rows = self._graph.ntotal
        else:
            rows = 0 if self._vectors is None else len(self._vectors)
        return rows == len(self._uids)


def _new_graph(dim: int) -> faiss.IndexHNSWFlat:
    import faiss  # faiss: only for a large index, never at the viewer's start-up

    graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = EF_CONSTRUCTION
    return graph


def _read_graph(data: np.ndarray) -> faiss.IndexHNSWFlat:
    import faiss  # faiss: only for a large index, never at the viewer's start-up

    graph = faiss.deserialize_index(np.asarray(data, dtype=np.uint8))
    if not isinstance(graph, faiss.IndexHNSWFlat):
        raise ValueError(f"expected an HNSW graph, found {type(graph).__name__}")
    return graph
