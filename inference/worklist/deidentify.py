"""What a worklist shows of identifiers: as they are, or replaced by opaque ids and neutral names.

File and folder names often carry patient names (``DOE_JOHN/DOE JOHN chest.jpeg``), so de-identified
outputs name files only by an opaque id, and reasons or warnings name images "image N".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

ID_LENGTH = 12  # hex digits of SHA-256: collisions are negligible for any worklist


def opaque_id(identifier: str | Path, prefix: str) -> str:
    """A stable id for ``identifier`` (a path or a UID) that does not reveal it: ``prefix-<hex>``."""
    raw = (
        os.fsencode(identifier)
        if isinstance(identifier, Path)
        else identifier.encode("utf-8", "surrogateescape")
    )
    return f"{prefix}-{hashlib.sha256(raw).hexdigest()[:ID_LENGTH]}"


def neutral_names(text: str, files: Sequence[Path]) -> str:
    """``text`` with each of ``files``' names (and full paths) replaced by "image N"."""
    for i, path in sorted(enumerate(files, start=1), key=lambda item: -len(str(item[1]))):
        text = text.replace(str(path), f"image {i}")
    for i, path in sorted(enumerate(files, start=1), key=lambda item: -len(item[1].name)):
        text = text.replace(path.name, f"image {i}")
    return text
