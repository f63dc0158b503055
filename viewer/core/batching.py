"""Group a stream into batches by size or age, so a view updates a few times a second, not per item."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def batched_by_time(
    items: Iterable[T], max_items: int = 256, max_seconds: float = 0.1, first_alone: bool = True
) -> Iterator[list[T]]:
    """Yield lists of items: the first item on its own (it shows up at once), then batches that
    close at ``max_items`` or when ``max_seconds`` have passed since the batch opened."""
    batch: list[T] = []
    opened = time.monotonic()
    first = first_alone
    for item in items:
        if first:
            yield [item]
            first = False
            opened = time.monotonic()
            continue
        if not batch:
            opened = time.monotonic()
        batch.append(item)
        if len(batch) >= max_items or time.monotonic() - opened >= max_seconds:
            yield batch
            batch = []
    if batch:
        yield batch
