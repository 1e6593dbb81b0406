"""A small bounded buffer between pipeline threads.

Live mode: the producer never blocks; when full, the oldest item is dropped (newest frame wins)
and the drop is counted, so a slow consumer never builds up seconds of lag.
Lossless mode (offline file conversion): the producer waits for space instead.
"""
from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Closed(Exception):
    """Raised by `get` once the buffer is closed and drained."""


class RingBuffer(Generic[T]):
    """Thread-safe bounded FIFO with drop-oldest (live) or blocking (lossless) puts."""

    def __init__(self, capacity: int = 2, lossless: bool = False):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.lossless = lossless
        self.dropped = 0
        self.put_count = 0
        self._items: collections.deque[T] = collections.deque()
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: T) -> None:
        """Add an item; in live mode drop the oldest when full, in lossless mode wait."""
        with self._cond:
            if self._closed:
                return
            if self.lossless:
                while len(self._items) >= self.capacity and not self._closed:
                    self._cond.wait(0.1)
                if self._closed:  # closed while waiting: nobody will take it
                    return
            elif len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.put_count += 1
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> T | None:
        """Next item, or None after `timeout` seconds; raises Closed when closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            raise Closed()

    def close(self) -> None:
        """No more puts; consumers drain what is left, then see Closed."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def abort(self) -> None:
        """Close and drop what is left: consumers see Closed at once and a producer waiting for
        space returns (a lossless buffer whose consumer died would otherwise wait forever)."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
