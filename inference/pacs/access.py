"""How to reach a DICOMweb node securely: who we are (HTTP basic auth or a bearer token), whom we trust
(the CA that signed the server's certificate; verification is always on unless ``insecure``) and our
own client certificate. The secrets are never shown: not in ``str``, ``repr``, messages or the audit.

Credentials come from the environment (:func:`credentials_from_environment`) or, for a node known by
name, from the OS credential store (:func:`credentials_from_store`, through ``keyring``), never from
the command line or a URL. :data:`CREDENTIAL_SOURCES` lists the sources in order: a source is a
callable that takes the environment and the node's name ("" when it has none) and returns the
credentials it holds, or ``None``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

ENV_USER = "CXR_TRIAGE_PACS_USER"
ENV_PASSWORD = "CXR_TRIAGE_PACS_PASSWORD"  # noqa: S105 (a variable's name, not a password)
ENV_TOKEN = "CXR_TRIAGE_PACS_TOKEN"  # noqa: S105
CREDENTIALS_HINT = f"set {ENV_USER} and {ENV_PASSWORD}, or {ENV_TOKEN}"


@dataclass(frozen=True)
class Credentials:
    """HTTP basic auth (``username`` and ``password``) or a bearer ``token``; empty: none."""

    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.token and (self.username or self.password):
            raise ValueError(f"give a user name and password or a token, not both ({CREDENTIALS_HINT})")
        if bool(self.username) != bool(self.password):
            raise ValueError(f"a user name needs a password and a password a user name ({CREDENTIALS_HINT})")

    @property
    def scheme(self) -> str:
        """How they authenticate: "basic", "token" or "none" (for messages and the audit)."""
        return "token" if self.token else "basic" if self.username else "none"

    def __repr__(self) -> str:
        return f"Credentials({self.scheme})"  # no user name, password or token in logs and tracebacks


CredentialSource = Callable[[Mapping[str, str], str], Credentials | None]


def credentials_from_environment(environ: Mapping[str, str], node: str = "") -> Credentials | None:
    """``CXR_TRIAGE_PACS_USER`` + ``CXR_TRIAGE_PACS_PASSWORD``, or ``CXR_TRIAGE_PACS_TOKEN``; None when
    none is set. ``ValueError`` for a half or a double set."""
    user, password, token = (environ.get(name, "") for name in (ENV_USER, ENV_PASSWORD, ENV_TOKEN))
    if not (user or password or token):
        return None
    return Credentials(user, password, token)


def credentials_from_store(environ: Mapping[str, str], node: str = "") -> Credentials | None:
    """The credentials the OS credential store keeps for the node named ``node`` (none for a node
    without a name, or where there is no store); ``keyring`` is imported here, on first use.
    :class:`inference.pacs.credential_store.CredentialStoreError` (a ``ValueError``) when the store
    cannot be read."""
    if not node:
        return None
    from inference.pacs import credential_store

    return credential_store.load(node)


# Where credentials are looked for, in order; the first that has some wins: the environment, then the
# OS credential store (per node name).
CREDENTIAL_SOURCES: Sequence[CredentialSource] = (credentials_from_environment, credentials_from_store)


def find_credentials(environ: Mapping[str, str] | None = None, node: str = "") -> Credentials:
    """The credentials of the first source that has some for the node named ``node`` ("": a node
    known by its address only); none: empty. ``ValueError`` when a source's are incomplete or the
    credential store cannot be read."""
    env = os.environ if environ is None else environ
    for source in CREDENTIAL_SOURCES:
        found = source(env, node)
        if found is not None:
            return found
    return Credentials()


@dataclass(frozen=True)
class WebAccess:
    """How to reach a DICOMweb node: credentials, the CA file that verifies its certificate (None: the
    default bundle, or ``REQUESTS_CA_BUNDLE``), a client certificate and key (PEM), ``insecure``
    (no certificate verification at all), and ``saved_as``: the name the node is saved under (the
    viewer's nodes), which its credentials are looked up by in the OS credential store when it is
    reached ("": a node known by its address only)."""

    credentials: Credentials = Credentials()
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    insecure: bool = False
    saved_as: str = ""

    def __post_init__(self) -> None:
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("--tls-key needs --tls-cert (the client certificate it goes with)")
        if self.insecure and self.ca_file is not None:
            raise ValueError("--insecure turns certificate verification off: it cannot go with --tls-ca")

    def with_credentials(self, credentials: Credentials) -> WebAccess:
        return replace(self, credentials=credentials)

    def missing_files(self) -> list[str]:
        """The given certificate and key files that cannot be read (as ``--option FILE``)."""
        given = (("--tls-ca", self.ca_file), ("--tls-cert", self.client_cert), ("--tls-key", self.client_key))
        return [f"{option} {path}" for option, path in given if path is not None and not _readable(path)]

    def audit_detail(self, url_scheme: str) -> dict[str, object]:
        """What the audit keeps of this access to a node reached over ``url_scheme``: never a secret."""
        tls = url_scheme == "https"
        return {
            "tls": tls,
            "certificate_verified": tls and not self.insecure,
            "insecure": self.insecure,
            "client_certificate": tls and self.client_cert is not None,
            "authentication": self.credentials.scheme,
        }


def _readable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)
