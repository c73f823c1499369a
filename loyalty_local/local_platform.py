"""The local runtime's platform: what `make run` (and the tests' in-process functions) give a function in place of
AWS's. Installed before a function is imported (loyalty_local/worker.py, tests/conftest.py); the shipped package
asks `loyalty.core.platform.platform()` and never learns which it got.

From the function's own variables, as the local runtime sets them:
- LOCAL_CLOCK_FILE: the business clock, real time plus the offset kept in that file (`/_local/clock` moves it);
- JOB_QUEUE_URL=local: a dispatcher's batches are worked in its own process, by the worker's use cases (so it needs
  the worker's variables too), instead of going to SQS;
- EVENT_BUS_NAME=local: the publisher's events are logged and appended to LOCAL_EVENTS_FILE (default
  .local/events.jsonl), one JSON object per line, instead of going to EventBridge;
- LOCAL_OUTBOX_FILE: member e-mail is appended to that file (the outbox: `GET /_local/outbox`, `make outbox`), each
  as the SES v2 SendEmail request it would be, instead of going to SES.
Any other value is answered as AWS's platform answers it.

It is imported by the worker as a script's neighbour (the function's own import path holds only its code and the
layer), so it imports nothing of loyalty_local.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from loyalty.clock import Clock, SystemClock
from loyalty.core.platform import EventSink, JobSender, Platform

LOCAL = "local"  # JOB_QUEUE_URL and EVENT_BUS_NAME: work in this process, append to the events file
DEFAULT_EVENTS_FILE = Path(".local/events.jsonl")


@dataclass(frozen=True)
class OffsetFileClock:
    """Real time plus the offset the local runtime keeps in `path` (no file: no offset)."""

    path: Path

    def offset(self) -> timedelta:
        try:
            return timedelta(seconds=float(json.loads(self.path.read_text())["offset_seconds"]))
        except FileNotFoundError:
            return timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset()


@dataclass(frozen=True)
class FileSink:
    """Domain events logged and appended to a file, one JSON object per line (`make events` reads them)."""

    path: Path
    source: str = "loyalty"

    def __call__(self, events: list, log: Callable[..., None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as sink:
            for event in events:
                line = {"time": datetime.now(timezone.utc).isoformat(), "source": self.source,
                        "detail-type": event.detail_type, "detail": event.detail}
                sink.write(json.dumps(line) + "\n")
                log(f"event {event.detail_type} {json.dumps(event.detail)}")


@dataclass(frozen=True)
class FileOutbox:
    """Member e-mail appended to a file, one JSON object per line: its id, when (the business clock's time, as every
    other local record is dated), and the SendEmail request."""

    path: Path
    clock: Clock

    def __call__(self, email) -> str:
        import uuid

        message_id = f"local-{uuid.uuid4()}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = {"message_id": message_id, "sent_at": self.clock.now().isoformat(), "request": email.ses_request()}
        with open(self.path, "a", encoding="utf-8") as outbox:
            outbox.write(json.dumps(line) + "\n")
        return message_id


class LocalPlatform(Platform):
    def clock(self, env: Mapping[str, str] | None = None) -> Clock:
        path = _env(env).get("LOCAL_CLOCK_FILE")
        return OffsetFileClock(Path(path)) if path else SystemClock()

    def job_sender(self, env: Mapping[str, str] | None = None) -> JobSender | None:
        env = _env(env)
        if env.get("JOB_QUEUE_URL") != LOCAL:
            return None
        from loyalty.jobs.batches import Worker  # the worker's composition, in the dispatcher's process
        from loyalty.jobs.use_cases import ScheduledJobs
        from loyalty.core.programs import Programs
        from loyalty.program import load_program
        from loyalty.reports.store import ReportStore
        from loyalty.reports.use_cases import Reports
        from loyalty.settings import ApiSettings
        from loyalty.store.ledger import Store

        settings = ApiSettings.from_environment(env)
        store, clock = Store.from_settings(settings), self.clock(env)
        # The jobs worked in the dispatcher's process: the versions when it names the catalog table, else the file.
        if settings.catalog_table:
            from loyalty.programs.store import cached_programs
            from loyalty.settings import ProgramVersionsSettings

            programs = cached_programs(ProgramVersionsSettings.from_environment(env), clock)[1]
        else:
            programs = Programs.fixed(load_program(settings.program_file), clock)
        return Worker(ScheduledJobs(store, clock, programs), Reports(ReportStore(store), clock, programs)).work_all

    def event_sink(self, env: Mapping[str, str] | None = None) -> EventSink | None:
        env = _env(env)
        if env.get("EVENT_BUS_NAME") != LOCAL:
            return None
        return FileSink(Path(env.get("LOCAL_EVENTS_FILE") or DEFAULT_EVENTS_FILE))

    def mail_sender(self, env: Mapping[str, str] | None = None):
        path = _env(env).get("LOCAL_OUTBOX_FILE")
        return FileOutbox(Path(path), self.clock(env)) if path else None


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env
