"""viewer.core.wrappable: paths and UIDs in a message get line-break opportunities; words do not."""

from __future__ import annotations

from viewer.core.wrappable import BREAK, LONGEST, wrappable


def test_long_runs_break_after_separators_and_short_words_stay_whole():
    uid = "1.2.840.10008.5.1.4.1.1.1.1.1"
    out = wrappable(f"corrupt DICOM header in {uid} at /data/archive/2024/x.dcm")
    assert out.replace(BREAK, "") == f"corrupt DICOM header in {uid} at /data/archive/2024/x.dcm"
    assert "corrupt DICOM header in " in out
    assert f"1.{BREAK}2.{BREAK}840.{BREAK}" in out
    assert all(len(piece) <= LONGEST for word in out.split() for piece in word.split(BREAK))


def test_a_run_without_separators_breaks_every_few_characters():
    digest = "f" * 60
    assert all(len(piece) <= LONGEST for piece in wrappable(digest).split(BREAK))
    assert wrappable(digest).replace(BREAK, "") == digest
