"""A PACS node's credentials in the operating system's credential store, through ``keyring`` (Secret
Service on Linux, the macOS Keychain, the Windows Credential Locker): service ``cxr-triage``, user name
the node's name, secret one JSON object (``{"username", "password"}`` or ``{"token"}``).

``keyring`` is imported only when credentials are looked up or stored. Where the machine has no
credential store (a headless server: keyring's ``fail`` or ``null`` backend) :func:`unavailable` says
so, and nothing is read or written. Errors of the store are :class:`CredentialStoreError`: one plain
line, never a secret.
"""

from __future__ import annotations

import json
from typing import Any

from inference.pacs.access import Credentials

SERVICE = "cxr-triage"


class CredentialStoreError(ValueError):
    """The credential store could not be read or written (locked, refused, or holds something else)."""


def _keyring() -> Any:
    import keyring

    return keyring


def unavailable() -> str:
    """Why credentials cannot be kept in the OS credential store here, or "" when they can."""
    try:
        keyring = _keyring()
        from keyring.backends import chainer, fail, null
    except ImportError:
        return "the keyring package is not installed"
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a backend that cannot start (e.g. PYTHON_KEYRING_BACKEND without D-Bus)
        return f"the OS credential store could not be opened ({_reason(exc)})"
    if isinstance(backend, fail.Keyring | null.Keyring) or (
        isinstance(backend, chainer.ChainerBackend) and not backend.backends
    ):
        kind = type(backend).__module__
        return f"no OS credential store is available on this computer (keyring backend {kind})"
    return ""


def load(node: str) -> Credentials | None:
    """The credentials stored for ``node``, or None when there are none (or no store)."""
    if not node or unavailable():
        return None
    try:
        secret = _keyring().get_password(SERVICE, node)
    except Exception as exc:  # KeyringError, or whatever a backend's own library raises
        raise CredentialStoreError(f"cannot read the credentials of {node!r}: {_reason(exc)}") from None
    if secret is None:
        return None
    try:
        data = json.loads(secret)
        credentials = Credentials(
            str(data.get("username", "")), str(data.get("password", "")), str(data.get("token", ""))
        )
    except (ValueError, AttributeError):
        raise CredentialStoreError(
            f"the credential store holds something else than CXR Triage's credentials for {node!r}"
            f" (service {SERVICE}): save them again"
        ) from None
    return credentials if credentials.scheme != "none" else None


def save(node: str, credentials: Credentials) -> None:
    """Keep ``credentials`` for ``node`` (replacing any); empty credentials remove them."""
    if credentials.scheme == "none":
        forget(node)
        return
    _check_available()
    data = {"token": credentials.token} if credentials.token else {
        "username": credentials.username, "password": credentials.password,
    }  # fmt: skip
    try:
        _keyring().set_password(SERVICE, node, json.dumps(data))
    except Exception as exc:  # KeyringError, or whatever a backend's own library raises
        raise CredentialStoreError(f"cannot store the credentials of {node!r}: {_reason(exc)}") from None


def forget(node: str) -> None:
    """Remove ``node``'s credentials, if the store holds any (no store: nothing to remove)."""
    if not node or unavailable():
        return
    from keyring.errors import PasswordDeleteError

    try:
        _keyring().delete_password(SERVICE, node)
    except PasswordDeleteError:
        pass  # none stored
    except Exception as exc:  # KeyringError, or whatever a backend's own library raises
        raise CredentialStoreError(f"cannot remove the credentials of {node!r}: {_reason(exc)}") from None


def _check_available() -> None:
    reason = unavailable()
    if reason:
        raise CredentialStoreError(reason)


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
