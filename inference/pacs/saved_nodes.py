"""The PACS nodes the viewer keeps (``pacs_nodes`` in its ``settings.json``, in CXR Triage's data folder),
read by name for the commands: ``cxr-triage pull NODE`` and ``cxr-triage send NODE`` (its address, and
its TLS files). Read only; the viewer owns the file
(:mod:`viewer.core.settings`, :mod:`viewer.core.pacs_nodes`)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from inference.store.location import settings_path

TLS_KEYS = ("tls_ca", "tls_cert", "tls_key")  # a node's TLS files (PEM paths; absent or "": none)


def saved_node(name: str, path: Path | None = None) -> dict[str, str]:
    """The node saved as ``name``: its ``address`` and its TLS files (``tls_ca``, ``tls_cert``,
    ``tls_key``; "" for none); ``ValueError`` says what is wrong (no such node, with the names there
    are; no settings file)."""
    path = settings_path() if path is None else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(
            f"{name!r} is neither a DICOMweb root (http://…) nor a saved node: no viewer settings at {path}"
        ) from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the viewer's saved nodes in {path}: {type(exc).__name__}") from None
    nodes = data.get("pacs_nodes") if isinstance(data, dict) else None
    items = nodes if isinstance(nodes, list) else []
    saved = {
        str(item.get("name", "")).strip(): {
            key: str(item.get(key) or "").strip() for key in ("address", *TLS_KEYS)
        }
        for item in reversed(items)  # the first of a name wins, as in the viewer
        if isinstance(item, dict)
    }
    if name not in saved:
        known = ", ".join(sorted(n for n in saved if n)) or "none"
        raise ValueError(
            f"{name!r} is neither a DICOMweb root (http://…) nor a node saved in the viewer (saved: {known})"
        )
    return saved[name]


def without_credentials(address: str) -> str:
    """``address`` without any user name or password (``https://user:pw@host/…`` → ``https://host/…``);
    a ``dicom://AE_TITLE@HOST:PORT`` address as it is (its AE title is no credential)."""
    parts = urlsplit(address)
    if "@" not in parts.netloc or parts.scheme.lower() not in ("http", "https"):
        return address
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
