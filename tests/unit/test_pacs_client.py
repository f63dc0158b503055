"""The PACS menu's network jobs without Qt or a PACS: what each job yields, what it asks of
``inference.pacs`` (replaced here by fakes), how it fails and stops, and the reader's messages."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import CancelledError
from pathlib import Path

import pytest

from inference.pacs import PacsError, WebNode
from inference.pacs.objects import Skipped, StudyObjects
from viewer.core.pacs_nodes import PacsNode
from viewer.pacs_client import (
    Step,
    StudyQuery,
    echo_node,
    failure_message,
    pull_cache,
    query_studies,
    retrieve_studies,
    send_results,
)

WEB = WebNode("http://pacs.example/dicom-web")
NODE = PacsNode("web", "http://pacs.example/dicom-web")


def never() -> bool:
    return False


def test_the_client_loads_neither_qt_nor_torch():
    code = (
        "import sys, viewer.pacs_client\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'torch')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_echo_says_what_it_tests_then_that_the_node_answers(monkeypatch):
    echoed = []
    monkeypatch.setattr("inference.pacs.transfer.echo", lambda node, calling: echoed.append(node))
    assert list(echo_node(NODE, never)) == [Step(0, 0, "Testing web…"), Step(1, 1, "web answers.")]
    assert echoed == [NODE.destination]


def test_an_echo_that_fails_raises_the_pacs_error(monkeypatch):
    def refuse(node, calling):
        raise PacsError("cannot reach it")

    monkeypatch.setattr("inference.pacs.transfer.echo", refuse)
    steps = echo_node(NODE, never)
    assert next(steps).text == "Testing web…"
    with pytest.raises(PacsError, match="cannot reach it"):
        next(steps)


def test_a_query_sends_its_filters_and_yields_the_studies_found(monkeypatch):
    asked = {}

    def find_studies(node, **filters):
        asked.update(filters, node=node)
        return ["a study"]

    monkeypatch.setattr("inference.pacs.dicomweb.find_studies", find_studies)
    query = StudyQuery("20040101", "", "P1", "A7")
    first, found = query_studies(WEB, query, never)
    assert first == Step(0, 0, f"Searching {WEB}…") and found == ["a study"]
    assert asked == {"node": WEB, "dates": ("20040101", ""), "patient_id": "P1", "accession": "A7"}


def test_dates_of_other_than_eight_digits_are_refused():
    assert StudyQuery().problem() == ""
    assert StudyQuery("20040101", "20041231").problem() == ""
    assert StudyQuery("2004", "20041231").problem() == "Dates are YYYYMMDD (8 digits), not '2004'."
    assert StudyQuery("20040101", "200412").problem() == "Dates are YYYYMMDD (8 digits), not '200412'."


def test_retrieval_hands_on_each_study_folder_and_what_came_before_a_failure(monkeypatch, tmp_path: Path):
    from inference.pacs.cache import study_folder

    def retrieve_study(node, uid, cache):
        if uid == "2.2":
            raise PacsError("the PACS went away")
        study_folder(cache, uid).mkdir(parents=True)

    monkeypatch.setattr("inference.pacs.dicomweb.retrieve_study", retrieve_study)
    steps = retrieve_studies(WEB, ["1.1", "2.2", "3.3"], tmp_path, never)
    assert next(steps) == Step(0, 3, "Retrieving study 1 of 3…")
    assert next(steps) == Step(1, 3, "Retrieved 1 of 3", study_folder(tmp_path, "1.1"))
    assert next(steps) == Step(1, 3, "Retrieving study 2 of 3…")
    assert next(steps) == Step(2, 3, "the PACS went away", None)  # nothing of it arrived
    with pytest.raises(PacsError, match="the PACS went away"):
        next(steps)


def fake_objects(monkeypatch, made: StudyObjects | Skipped) -> list:
    sent: list = []
    monkeypatch.setattr("inference.pacs.objects.study_objects", lambda *args: iter([made]))
    monkeypatch.setattr(
        "inference.pacs.transfer.send_objects",
        lambda node, objects, store, calling: sent.append((node, objects)),
    )
    return sent


def send(cancelled=never) -> list[Step]:
    return list(send_results("store", "engine", "card", {"Effusion": 0.5}, "1.2", NODE, cancelled))


def test_sending_makes_the_objects_then_sends_them(monkeypatch):
    objects = StudyObjects("1.2", "sha", ())
    sent = fake_objects(monkeypatch, objects)
    assert [step.text for step in send()] == [
        "Making the SR and Secondary Capture…",
        "Sending to web…",
        "SR and Secondary Capture sent to web.",
    ]
    assert sent == [(NODE.destination, objects)]


def test_a_study_without_objects_is_not_sent_and_says_why(monkeypatch):
    sent = fake_objects(monkeypatch, Skipped("1.2", "not scored yet"))
    with pytest.raises(ValueError, match="not sent: not scored yet"):
        send()
    assert sent == []


def test_a_send_cancelled_while_making_the_objects_sends_nothing(monkeypatch):
    sent = fake_objects(monkeypatch, StudyObjects("1.2", "sha", ()))
    assert len(send(cancelled=lambda: True)) == 1
    assert sent == []


def test_the_pull_cache_is_beside_the_store(tmp_path: Path, private_data: Path):
    assert pull_cache(tmp_path / "studies.sqlite") == tmp_path / "pacs-cache"
    assert pull_cache(None) == private_data / "pacs-cache"  # the default store's folder


def test_failures_read_as_plain_messages() -> None:
    assert failure_message(PacsError("cannot reach the PACS at http://h/dicom-web")) == (
        "cannot reach the PACS at http://h/dicom-web"
    )
    assert failure_message(ValueError("not sent: no DICOM image")) == "not sent: no DICOM image"
    assert failure_message(CancelledError()) == "Interrupted while drawing the annotated image: send again."
    assert failure_message(KeyError("x")) == "KeyError: 'x'"
