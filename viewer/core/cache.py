"""A small least-recently-used cache for decoded images and Grad-CAM heat maps."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    """Keeps the most recently used values: at most ``capacity`` of them, and, when ``weigh`` is
    given, at most ``max_weight`` in total (the newest value always stays)."""

    def __init__(
        self, capacity: int, weigh: Callable[[V], int] | None = None, max_weight: int | None = None
    ) -> None:
        self.capacity = capacity
        self._weigh = weigh
        self._max_weight = max_weight
        self._weight = 0
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        if key in self._items:
            self._drop(key)
        self._items[key] = value
        self._weight += self._weigh(value) if self._weigh else 0
        while len(self._items) > 1 and (len(self._items) > self.capacity or self._too_heavy()):
            self._drop(next(iter(self._items)))

    def _too_heavy(self) -> bool:
        return self._max_weight is not None and self._weight > self._max_weight

    def _drop(self, key: Hashable) -> None:
        value = self._items.pop(key)
        self._weight -= self._weigh(value) if self._weigh else 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self._weight = 0
