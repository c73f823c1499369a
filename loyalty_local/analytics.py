"""Feeds `make run`'s analytics store: follows the local events file (`.local/events.jsonl`, where the publisher
appends each domain event) and hands each new batch to the local Firehose (loyalty_local/firehose.py), about
every second, so an event is in the store within a few seconds of its change.

Its place is a rule's target: once the local EventBridge router dispatches to the template's rules, this follower
is replaced by a target that calls `firehose.deliver` with the batch the router hands it. Until then it reads the
file from a stored offset (`<store>/.offset`): a line is delivered once, a partial last line waits for its end.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from loyalty_local import firehose

POLL_SECONDS = 1.0
MAX_BATCH_LINES = 5_000


class EventsFollower:
    def __init__(self, events_file: Path, root: Path, log: Callable[[str], None] = print,
                 deliver: Callable[[list[dict], Path], object] = firehose.deliver) -> None:
        self.events_file, self.root, self.log, self.deliver = Path(events_file), Path(root), log, deliver
        self.offset_file = self.root / ".offset"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def offset(self) -> int:
        try:
            return int(self.offset_file.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def step(self) -> int:
        """Deliver what was appended since the offset; the number of events delivered."""
        if not self.events_file.exists():
            return 0
        offset = self.offset()
        if self.events_file.stat().st_size < offset:  # the file was started afresh (a new `make run`)
            offset = 0
        with open(self.events_file, "rb") as source:
            source.seek(offset)
            chunk = source.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        lines = [line for line in complete.decode().splitlines() if line.strip()]
        delivered = 0
        for start in range(0, len(lines), MAX_BATCH_LINES):
            batch = [json.loads(line) for line in lines[start:start + MAX_BATCH_LINES]]
            self.deliver(batch, self.root)
            delivered += len(batch)
        if complete:
            self.root.mkdir(parents=True, exist_ok=True)
            self.offset_file.write_text(str(offset + len(complete)))
        return delivered

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.step()
            except Exception as error:  # a bad line must not stop the store: said, and tried again next round
                self.log(f"[analytics] could not deliver events: {error}")

    def start(self) -> EventsFollower:
        self._thread = threading.Thread(target=self._run, name="analytics-follower", daemon=True)
        self._thread.start()
        return self

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)


def store_dir(events_file: Path) -> Path:
    """The run's analytics store: `analytics/` beside the events file (`.local/analytics`), absolute, since the
    functions run in their own folders."""
    return Path(events_file).resolve().with_name("analytics")


def local_environment(events_file: Path) -> dict[str, str]:
    """What the insights function is given locally: the DuckDB engine on this store (Athena in AWS)."""
    return {"ANALYTICS_ENGINE": "duckdb", "ANALYTICS_DIR": str(store_dir(events_file))}


def start(events_file: Path, log: Callable[[str], None]) -> EventsFollower:
    """A fresh store for the run (like its events file and tables), followed from the start of the events file."""
    import shutil

    root = store_dir(events_file)
    shutil.rmtree(root / "events", ignore_errors=True)
    shutil.rmtree(root / "member_facts", ignore_errors=True)  # the run's snapshots (make snapshot), like its tables
    (root / ".offset").unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    return EventsFollower(events_file, root, log).start()
