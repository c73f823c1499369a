"""The one retry policy of the use cases: a bounded number of tries with jittered exponential backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from loyalty.domain import errors
from loyalty.store.transaction import LostRace, full_jitter

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """A lost race (the store's `LostRace`: another request changed the member first) is decided again on a fresh
    read, a bounded number of times; then `errors.Busy` (nothing was written, the client may retry)."""

    attempts: int = 6
    base_delay_seconds: float = 0.005
    sleep: Callable[[float], None] = time.sleep

    def run(self, attempt: Callable[[], T], retry_on: tuple[type[Exception], ...] = (LostRace,),
            exhausted: str = "the member is being changed by other requests; nothing was written, please retry") -> T:
        for tries in range(self.attempts):
            try:
                return attempt()
            except retry_on:
                if tries + 1 < self.attempts:
                    self.sleep(full_jitter(self.base_delay_seconds * 2**tries))
        raise errors.Busy(exhausted)
