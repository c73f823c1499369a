"""The one cache of the warm functions: a value loaded again when older than its time to live."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Refreshed(Generic[T]):
    """`load()`'s value, kept for `ttl_seconds` by `timer` (monotonic seconds; a test passes its own): the rewards
    catalog in the functions that serve rewards, the active campaigns in the earn function (one Query when stale)."""

    def __init__(self, load: Callable[[], T], ttl_seconds: float, timer: Callable[[], float] = time.monotonic) -> None:
        self._load, self._ttl, self._timer = load, ttl_seconds, timer
        self._loaded_at: float | None = None
        self._value: T | None = None

    def get(self) -> T:
        now = self._timer()
        if self._loaded_at is None or now - self._loaded_at > self._ttl or now < self._loaded_at:  # or timer went back
            self._value, self._loaded_at = self._load(), now
        return self._value
