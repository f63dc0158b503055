"""Similar-case search over a store: exclusions, study vectors, the index file across restarts and
arrivals, exact and HNSW alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from similar_helpers import SHA, add_study, unit

from inference.similar import SimilarCases, SimilarityError, index_path, study_vector
from inference.similar.index import StudyIndex
from inference.store import Store

KINDS = {"exact": 1000, "hnsw": 2}  # exact_max: the store's size decides the kind of index


@pytest.fixture(params=list(KINDS))
def exact_max(request: pytest.FixtureRequest) -> int:
    return KINDS[request.param]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "studies.sqlite") as s:
        yield s


def test_neighbours_leave_out_the_query_and_the_same_patients_other_studies(store: Store, exact_max: int):
    add_study(store, "query", [unit(1, 0)], patient_id="P1")
    add_study(store, "prior", [unit(1, 0.01)], patient_id="P1")  # the closest, but the same patient
    add_study(store, "near", [unit(1, 0.2)], patient_id="P2")
    add_study(store, "far", [unit(0, 1)], patient_id="P3")
    add_study(store, "anonymous", [unit(1, 0.5)])  # no patient ID: never anyone's prior
    search = SimilarCases(store, SHA, exact_max=exact_max)
    found = search.neighbours("query", k=10)
    assert [n.study_uid for n in found] == ["near", "anonymous", "far"]
    assert found[0].similarity == pytest.approx(float(unit(1, 0) @ unit(1, 0.2)), abs=1e-5)
    assert search.index.kind == ("exact" if exact_max > 5 else "hnsw")


def test_an_unknown_patient_excludes_only_the_study_itself(store: Store, exact_max: int):
    add_study(store, "a", [unit(1, 0)])
    add_study(store, "b", [unit(1, 0.1)])
    add_study(store, "c", [unit(1, 0.3)])
    found = SimilarCases(store, SHA, exact_max=exact_max).neighbours("a", k=1)
    assert [n.study_uid for n in found] == ["b"]


def test_unknown_and_unscored_studies_are_plain_errors(store: Store):
    add_study(store, "a", [unit(1, 0)])
    search = SimilarCases(store, SHA)
    with pytest.raises(SimilarityError, match="no study nope in"):
        search.neighbours("nope", k=3)
    add_study(store, "other-weights", [unit(1, 0)], sha="c" * 64)
    with pytest.raises(SimilarityError, match="has no scored frontal image with these weights"):
        search.neighbours("other-weights", k=3)


def test_a_study_vector_is_the_renormalised_mean_of_its_images(store: Store):
    add_study(store, "two", [unit(1, 0), unit(0, 1)])
    add_study(store, "diagonal", [unit(1, 1)])
    add_study(store, "axis", [unit(1, 0)])
    np.testing.assert_allclose(study_vector([unit(1, 0), unit(0, 1)]), unit(1, 1), atol=1e-6)
    found = SimilarCases(store, SHA).neighbours("two", k=2)
    assert [n.study_uid for n in found] == ["diagonal", "axis"]
    assert found[0].similarity == pytest.approx(1.0, abs=1e-5)


def test_the_index_survives_a_restart_and_takes_in_new_arrivals(tmp_path: Path, exact_max: int):
    path = tmp_path / "studies.sqlite"
    with Store(path) as store:
        add_study(store, "a", [unit(1, 0)])
        add_study(store, "b", [unit(0, 1)])
        add_study(store, "c", [unit(0, 0, 1)])
        first = SimilarCases(store, SHA, exact_max=exact_max)
        assert index_path(path, SHA).is_file()
        mark = first.index.mark
    with Store(path) as store:
        reopened = SimilarCases(store, SHA, exact_max=exact_max)
        assert reopened.index.mark == mark and len(reopened.index) == 3  # read from the file
        assert reopened.refresh() == 0
        add_study(store, "new", [unit(1, 0.05)])
        assert reopened.refresh() == 1
        assert reopened.neighbours("a", k=1)[0].study_uid == "new"
    with Store(path) as store:  # the arrival was saved too
        assert "new" in StudyIndex.load(index_path(path, SHA), SHA, exact_max)


def test_a_new_image_of_a_known_study_moves_its_vector(store: Store, exact_max: int):
    add_study(store, "a", [unit(1, 0)])
    add_study(store, "b", [unit(0, 1)])
    add_study(store, "c", [unit(0, 0, 1)])
    search = SimilarCases(store, SHA, exact_max=exact_max)
    assert search.neighbours("c", k=1)[0].similarity == pytest.approx(0.0, abs=1e-6)
    for round_ in range(3):  # replaced again and again: the graph rebuilds once too many rows are stale
        add_study(store, "a", [unit(1, 0), unit(0, 0, 1)] + [unit(0, 0, 1)] * round_)
        assert search.refresh() == 1
    assert search.neighbours("c", k=1)[0].study_uid == "a"
    assert len(search.index) == 3
    assert search.neighbours("c", k=5) == search.neighbours("c", k=2)  # no duplicates of "a"


def test_a_damaged_index_file_is_rebuilt_from_the_store(tmp_path: Path):
    path = tmp_path / "studies.sqlite"
    with Store(path) as store:
        add_study(store, "a", [unit(1, 0)])
        add_study(store, "b", [unit(1, 0.1)])
        index_path(path, SHA).write_bytes(b"not an index")
        assert SimilarCases(store, SHA).neighbours("a", k=1)[0].study_uid == "b"
        assert StudyIndex.load(index_path(path, SHA), SHA) is not None


def test_an_index_of_other_weights_is_not_used(tmp_path: Path):
    index = StudyIndex("c" * 64)
    index.upsert({"x": unit(1, 0)}, mark=7)
    index.save(tmp_path / "i.idx")
    assert StudyIndex.load(tmp_path / "i.idx", SHA) is None
    assert StudyIndex.load(tmp_path / "i.idx", "c" * 64).mark == 7


def test_hnsw_finds_what_exact_search_finds():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((400, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    batch = {f"s{i}": v for i, v in enumerate(vectors)}
    exact, graph = StudyIndex(SHA, exact_max=10_000), StudyIndex(SHA, exact_max=10)
    exact.upsert(batch, mark=1)
    graph.upsert(batch, mark=1)
    assert (exact.kind, graph.kind) == ("exact", "hnsw")
    hits = [
        len({u for u, _ in exact.search(v, 5)} & {u for u, _ in graph.search(v, 5)}) for v in vectors[:50]
    ]
    assert sum(hits) / (5 * len(hits)) >= 0.95
