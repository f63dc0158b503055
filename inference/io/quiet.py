"""Keep the image decoders' C-level messages off the terminal and turn the ones that matter into warnings.

libpng and libjpeg (inside OpenCV) print straight to file descriptor 2 ("libpng warning: iCCP: known
incorrect sRGB profile", "Corrupt JPEG data: premature end of data segment"); OpenCV's log level does
not reach them. So descriptor 2 is pointed at a temporary file for the duration of one decode call and
what was written there is read back. The redirection is process-wide: a lock keeps two decodes from
nesting it, and lines that are not decoder messages (another thread's output) are written back to the
terminal afterwards.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
# libpng prefixes its messages; libjpeg's warnings (jerror.h) are recognised by their opening words.
_DECODER_PREFIXES = (
    "libpng ",
    "Corrupt JPEG data",
    "Premature end of JPEG",
    "Invalid SOS",
    "Inconsistent progression",
    "Warning: unknown JFIF",
)
# Colour-profile metadata does not change grey pixels: such messages are dropped, not reported.
_IRRELEVANT = ("iCCP", "sRGB", "cHRM", "gAMA")
TRUNCATED = "the image data ends early (truncated file?): part of the image is missing or grey"


@contextmanager
def decoder_messages() -> Iterator[list[str]]:
    """Collect what C code writes to descriptor 2 inside the block; the list is filled on exit."""
    messages: list[str] = []
    with _LOCK, tempfile.TemporaryFile() as sink:
        saved = _redirect_stderr(sink.fileno())
        try:
            yield messages
        finally:
            if saved is not None:
                _restore_stderr(saved)
                sink.seek(0)
                messages.extend(_decoder_lines(sink.read().decode("utf-8", "replace").splitlines()))


def _redirect_stderr(target: int) -> int | None:
    """Point descriptor 2 at ``target``; return a copy of the old one (None when there is no stderr)."""
    _flush_python_stderr()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all (a GUI started without a console): nothing to keep quiet
        return None
    os.dup2(target, 2)
    return saved


def _restore_stderr(saved: int) -> None:
    _flush_python_stderr()
    os.dup2(saved, 2)
    os.close(saved)


def notes_from(messages: list[str]) -> list[str]:
    """The decoder messages a reader should see, in plain words, each once."""
    notes: list[str] = []
    for message in messages:
        if any(word in message for word in _IRRELEVANT):
            continue
        note = TRUNCATED if "premature end" in message.lower() else f"decoder warning: {message}"
        if note not in notes:
            notes.append(note)
    return notes


def _flush_python_stderr() -> None:
    """Python's buffered stderr must not spill into (or out of) the redirection."""
    if sys.stderr is not None:
        sys.stderr.flush()


def _decoder_lines(lines: list[str]) -> Iterator[str]:
    """Yield the decoders' lines; write every other non-empty line back to the real stderr."""
    for line in lines:
        text = line.strip()
        if text.startswith(_DECODER_PREFIXES):
            yield text
        elif text:
            print(line, file=sys.stderr)
