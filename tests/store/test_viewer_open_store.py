"""``cxr-triage gui --db postgresql://…`` (and ``CXR_TRIAGE_DB``) opens the team store; a server that
cannot be reached gives the plain message, not a traceback (issue #23, viewer item 1)."""

from __future__ import annotations

import logging
import sys

import pytest
from postgres_cluster import free_port

from inference.store import StoreError
from inference.store.postgres_backend import PostgresStore
from viewer import gui


def test_a_team_store_url_opens_the_team_store(pg_url: str, monkeypatch):
    monkeypatch.setenv("CXR_TRIAGE_DB", pg_url)
    from inference.store import store_path

    with gui.open_store(store_path(None)) as store:
        assert isinstance(store, PostgresStore)


def test_a_server_that_does_not_answer_is_a_plain_store_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CXR_TRIAGE_HOME", str(tmp_path))
    url = f"postgresql://alice:pw@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(StoreError, match="cannot open the team store") as caught:
        gui.open_store(url)
    assert "pw@" not in str(caught.value)  # never the password


def test_gui_on_an_unreachable_server_exits_with_the_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CXR_TRIAGE_HOME", str(tmp_path))
    monkeypatch.setattr(gui, "_show_error", lambda text: print(f"cxr-triage: {text}"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # main() installs its own; restore it after
    url = f"postgresql://alice:pw@127.0.0.1:{free_port()}/nowhere"
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        assert gui.main([], db=url) == gui.EXIT_NO_STORE
    finally:  # main() attaches the error log's handler: the tests after this one attach their own
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
    assert "cannot open its study store" in capsys.readouterr().out
