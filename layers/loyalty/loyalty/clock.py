"""The business clock every use case and job reads.

In AWS it is the real time. The local runtime gives every function one clock a developer can move
forward for demos (`POST /_local/clock`): it writes the offset from real time to a file named by
LOCAL_CLOCK_FILE, as JSON `{"offset_seconds": <number>}`, and every function reads it per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


@dataclass
class FixedClock:
    """A clock that stands still until a test moves it."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta
