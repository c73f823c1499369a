"""The scheduled jobs, split for any scale: a dispatcher finds the members due through a sparse,
sharded index and sends them in batches; workers apply the change member by member.

Every step is idempotent (see jobs/use_cases.py), so a retried
batch, a rerun of the same day or a replayed event changes nothing twice. A job's time may replay
the past but not run ahead of the clock: it is refused before anything is sent or written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from loyalty.clock import Clock
from loyalty.core.platform import platform
from loyalty.domain import ledger
from loyalty.domain.birthday import celebrated_on
from loyalty.domain.calendar import month_key
from loyalty.domain.calendar import local_day
from loyalty.program import load_program
from loyalty.jobs.use_cases import ScheduledJobs
from loyalty.reports.use_cases import Reports
from loyalty.settings import DispatcherSettings
from loyalty.jobs.store import JobIndex

EXPIRE, REVIEW, BIRTHDAY = "expire", "review", "birthday"
ROLLUP = "rollup"  # the report counters' daily roll-up: one message a run, for no member
JOBS = (EXPIRE, REVIEW, BIRTHDAY, ROLLUP)
SQS_BATCH_LIMIT = 10  # messages per SendMessageBatch


@dataclass(frozen=True)
class Batch:
    job: str
    now: datetime
    member_ids: list[str]

    def to_json(self) -> str:
        return json.dumps({"job": self.job, "now": self.now.isoformat(), "member_ids": self.member_ids})

    @classmethod
    def from_json(cls, text: str) -> Batch:
        data = json.loads(text)
        if data.get("job") not in JOBS:
            raise ValueError(f"unknown job {data.get('job')!r}")
        return cls(data["job"], datetime.fromisoformat(data["now"]), list(data["member_ids"]))


def scheduled_time(event: dict) -> datetime:
    """The job's "now" is the scheduled event's time, so any date can be replayed."""
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00"))


class BatchIncomplete(Exception):
    """Some members of a batch failed: the message goes back to the queue (the others are then no-ops)."""


class BatchesNotQueued(Exception):
    """SQS refused some batches: the dispatcher fails, and its retry sends the due members again (idempotent)."""


class Worker:
    """Applies batches, member by member."""

    def __init__(self, jobs: ScheduledJobs, reports: Reports) -> None:
        self.jobs = jobs
        self.reports = reports

    def work(self, batch: Batch) -> dict[str, int]:
        """Apply the job to each member of a batch; returns what changed.

        A member that fails does not hold back the rest of its batch: all are tried, then the batch fails.
        """
        if batch.job == ROLLUP:  # idempotent and resumable: a message delivered again goes on from the marker
            days = self.reports.roll_up_counters(batch.now)
            return {"members": 0, "changed": len(days), "points_expired": 0, "points_credited": 0}
        changed = expired = credited = 0
        failed: list[str] = []
        last_error: Exception | None = None
        for member_id in batch.member_ids:
            try:
                if batch.job == EXPIRE:
                    points = self.jobs.expire_member(batch.now, member_id)
                    changed, expired = changed + (points > 0), expired + points
                elif batch.job == BIRTHDAY:
                    points = self.jobs.birthday_member(batch.now, member_id)
                    changed, credited = changed + (points > 0), credited + points
                else:
                    changed += self.jobs.review_member(batch.now, member_id)
            except Exception as error:  # noqa: BLE001 - reported below, with the last one as the cause
                failed.append(member_id)
                last_error = error
        if failed:
            raise BatchIncomplete(f"{len(failed)} of {len(batch.member_ids)} members failed, first {failed[0]}") from last_error
        return {"members": len(batch.member_ids), "changed": changed, "points_expired": expired, "points_credited": credited}

    def work_all(self, batches: list[Batch]) -> None:
        for batch in batches:
            self.work(batch)


def sqs_sender(queue_url: str, region: str | None = None, client=None) -> Callable[[list[Batch]], None]:
    """Batches go to the job queue, ten messages per call."""
    if client is None:
        import boto3  # only the dispatchers talk to SQS

        from loyalty.settings import aws_client_config

        client = boto3.client("sqs", region_name=region, config=aws_client_config())

    def send(batches: list[Batch]) -> None:
        entries = [{"Id": str(index), "MessageBody": batch.to_json()} for index, batch in enumerate(batches)]
        failed = client.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        if failed:
            raise BatchesNotQueued(f"{len(failed)} job batches were not queued: {failed[0].get('Message')}")

    return send


class Dispatcher:
    """A schedule's dispatcher: finds who is due at the event's time and sends them in batches."""

    def __init__(
        self, index: JobIndex, clock: Clock, send: Callable[[list[Batch]], None], batch_size: int = 50,
        time_zone: str = "UTC",
    ) -> None:
        """time_zone: the program's, whose local day decides whose birthday it is."""
        self.index, self.clock, self.send, self.batch_size = index, clock, send, batch_size
        self.time_zone = time_zone

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Dispatcher:
        """The composition at cold start: the batches go to the job queue, or to whoever the platform says works
        them (the local runtime works them in this process)."""
        env = os.environ if env is None else env
        settings, runtime = DispatcherSettings.from_environment(env), platform()
        clock = runtime.clock(env)
        send = runtime.job_sender(env) or sqs_sender(settings.job_queue_url, settings.aws_region)
        # The file, not the versions' cache: no version may change time_zone (docs/program-versions.md).
        return cls(JobIndex.from_settings(settings), clock, send, settings.job_batch_size,
                   load_program(settings.program_file).time_zone)

    def due_members(self, job: str, now: datetime) -> Iterator[str]:
        for shard in range(self.index.shards):
            if job == EXPIRE:
                yield from self.index.due_member_ids(shard, now)
            elif job == BIRTHDAY:
                for month_day in celebrated_on(local_day(now, self.time_zone)):
                    yield from self.index.birthday_member_ids(shard, month_day)
            else:
                yield from self.index.unreviewed_member_ids(shard, month_key(now))

    def dispatch(self, job: str, now: datetime) -> int:
        """Send the due members in batches; returns how many members were dispatched."""
        ledger.check_job_time(now, self.clock.now())
        if job == ROLLUP:
            self.send([Batch(ROLLUP, now, [])])
            return 0
        pending: list[str] = []
        batches: list[Batch] = []
        count = 0
        for member_id in self.due_members(job, now):
            pending.append(member_id)
            count += 1
            if len(pending) == self.batch_size:
                batches.append(Batch(job, now, pending))
                pending = []
            if len(batches) == SQS_BATCH_LIMIT:
                self.send(batches)
                batches = []
        if pending:
            batches.append(Batch(job, now, pending))
        if batches:
            self.send(batches)
        return count

    def run_scheduled(self, job: str, event: dict, log: Callable[..., None]) -> dict:
        """The event's time is "now" (refused when ahead of the clock); returns what was dispatched."""
        now = scheduled_time(event)
        dispatched = self.dispatch(job, now)
        log(f"{job} dispatched", extra={"now": now.isoformat(), "members": dispatched})
        return {"job": job, "now": now.isoformat(), "members": dispatched}
