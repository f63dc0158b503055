"""The mark CXR Triage puts on the PNGs it writes, so that a later scan does not read them as radiographs.

A PNG ``tEXt`` chunk ``Software=CXR Triage`` placed right after ``IHDR``: at a fixed offset, so the first
bytes of a file (which the scan reads anyway) tell whether the product wrote it.
"""

from __future__ import annotations

import struct
import zlib

from inference.io.detect import PNG_MAGIC

SOFTWARE = "CXR Triage"
_IHDR_END = len(PNG_MAGIC) + 4 + 4 + 13 + 4  # signature, then length, type, 13 data bytes, CRC


def _text_chunk(keyword: str, text: str) -> bytes:
    body = b"tEXt" + keyword.encode("latin-1") + b"\x00" + text.encode("latin-1")
    return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))


MARK = _text_chunk("Software", SOFTWARE)
MARK_END = _IHDR_END + len(MARK)  # how many leading bytes :func:`is_marked` needs


def mark(png: bytes) -> bytes:
    """``png`` with the product's mark inserted right after its IHDR chunk."""
    if not png.startswith(PNG_MAGIC) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG that starts with its IHDR chunk")
    return png[:_IHDR_END] + MARK + png[_IHDR_END:]


def is_marked(head: bytes) -> bool:
    """True when the leading bytes of a file are a PNG written (and marked) by this product."""
    return head.startswith(PNG_MAGIC) and head[_IHDR_END:MARK_END] == MARK
