"""An in-memory credential store for the tests (``memory_keyring`` and ``no_keyring`` in conftest.py):
what the code under test stores and reads, never the tester's own."""

from __future__ import annotations

from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """A credential store in a dict: what the tests' code stores and reads, never the tester's own."""

    @properties.classproperty
    def priority(cls) -> float:
        # Not viable: keyring never picks it (nor a subclass) by itself, in this or a later test; it is
        # only ever set with keyring.set_keyring.
        raise RuntimeError("a test backend")

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError(username)
