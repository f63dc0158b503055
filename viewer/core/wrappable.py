"""Long unbroken runs (paths, UIDs, hashes) made breakable, so that a word-wrapped label wraps them too."""

from __future__ import annotations

import re

BREAK = "\u200b"  # zero-width space: invisible, but a line may break there
LONGEST = 24  # characters without a break opportunity
_LONG_RUN = re.compile(rf"[^\s{BREAK}]{{{LONGEST + 1},}}")
_AFTER_SEPARATOR = re.compile(r"([/\\._\-:,;=&?])")


def wrappable(text: str) -> str:
    """``text`` with a line-break opportunity after each separator of any run of more than
    :data:`LONGEST` non-space characters (a path, a UID, a URL), and every :data:`LONGEST` characters
    where a run has no separator; shorter words are left as they are."""

    def cut(run: re.Match[str]) -> str:
        return BREAK.join(run.group()[i : i + LONGEST] for i in range(0, len(run.group()), LONGEST))

    separated = _LONG_RUN.sub(lambda run: _AFTER_SEPARATOR.sub(rf"\1{BREAK}", run.group()), text)
    return _LONG_RUN.sub(cut, separated)
