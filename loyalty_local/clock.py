"""The local runtime's business clock: one for every function and job, movable forward for demos.

It keeps the offset from real time in a file (`{"offset_seconds": ...}`) that each worker reads per
call through LOCAL_CLOCK_FILE (`loyalty_local.local_platform`), so moving it needs no restart.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from loyalty_local.local_platform import OffsetFileClock


class ClockError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class LocalClock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self._write(timedelta(0))  # every run starts at the real time

    def now(self) -> datetime:
        return OffsetFileClock(self.path).now()

    def move(self, request: Any) -> datetime:
        """Apply `{"advance_days": N}` or `{"now": "<RFC 3339>"}`; the clock never goes back."""
        with self.lock:
            now = self.now()
            target = _target(request, now)
            if target < now:
                raise ClockError(409, "CLOCK_CANNOT_GO_BACK",
                                 f"the clock is at {_rfc3339(now)} and only moves forward")
            self._write(target - datetime.now(timezone.utc))
            return self.now()

    def _write(self, offset: timedelta) -> None:
        partial = self.path.with_suffix(".tmp")
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"offset_seconds": offset.total_seconds()}))
        os.replace(partial, self.path)  # a worker reading it sees the old offset or the new one, never half


def _target(request: Any, now: datetime) -> datetime:
    invalid = ClockError(422, "VALIDATION_ERROR",
                         'expected {"advance_days": <integer >= 0>} or {"now": "<RFC 3339 date-time with offset>"}')
    if not isinstance(request, dict) or len(request) != 1:
        raise invalid
    (name, value), = request.items()
    try:
        if name == "advance_days" and type(value) is int and value >= 0:
            return now + timedelta(days=value)
        if name == "now" and isinstance(value, str):
            target = datetime.fromisoformat(value)
            if target.tzinfo is not None and "T" in value.upper():
                return target.astimezone(timezone.utc)
    except (ValueError, OverflowError) as error:
        raise invalid from error
    raise invalid


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def clock_body(moment: datetime) -> dict[str, str]:
    return {"now": _rfc3339(moment)}
