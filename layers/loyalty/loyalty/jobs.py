"""The scheduled jobs, split for any scale: a dispatcher finds the members due through a sparse,
sharded index and sends them in batches; workers apply the change member by member.

Every step is idempotent (see service.expire_member and service.review_member), so a retried
batch, a rerun of the same day or a replayed event changes nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from loyalty import service
from loyalty.domain.months import month_key
from loyalty.program import get_program
from loyalty.settings import get_settings
from loyalty.store import repository as store

EXPIRE, REVIEW = "expire", "review"


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
        if data.get("job") not in (EXPIRE, REVIEW):
            raise ValueError(f"unknown job {data.get('job')!r}")
        return cls(data["job"], datetime.fromisoformat(data["now"]), list(data["member_ids"]))


def scheduled_time(event: dict) -> datetime:
    """The job's "now" is the scheduled event's time, so any date can be replayed."""
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00"))


def due_members(job: str, now: datetime) -> Iterator[str]:
    for shard in range(get_settings().job_shards):
        if job == EXPIRE:
            yield from store.due_member_ids(shard, now)
        else:
            yield from store.unreviewed_member_ids(shard, month_key(now))


def dispatch(job: str, now: datetime, send: Callable[[list[Batch]], None]) -> int:
    """Send the due members in batches; returns how many members were dispatched."""
    size = get_settings().job_batch_size
    pending: list[str] = []
    batches: list[Batch] = []
    count = 0
    for member_id in due_members(job, now):
        pending.append(member_id)
        count += 1
        if len(pending) == size:
            batches.append(Batch(job, now, pending))
            pending = []
        if len(batches) == 10:  # an SQS batch holds ten messages
            send(batches)
            batches = []
    if pending:
        batches.append(Batch(job, now, pending))
    if batches:
        send(batches)
    return count


class BatchIncomplete(Exception):
    """Some members of a batch failed: the message goes back to the queue (the others are then no-ops)."""


def run_scheduled(job: str, event: dict, log: Callable[..., None]) -> dict:
    """A schedule's dispatcher: the event's time is "now"; returns what was dispatched."""
    now = scheduled_time(event)
    dispatched = dispatch(job, now, sender())
    log(f"{job} dispatched", extra={"now": now.isoformat(), "members": dispatched})
    return {"job": job, "now": now.isoformat(), "members": dispatched}


def work(batch: Batch) -> dict[str, int]:
    """Apply the job to each member of a batch; returns what changed.

    A member that fails does not hold back the rest of its batch: all are tried, then the batch fails.
    """
    program = get_program()
    changed = expired = 0
    failed: list[str] = []
    last_error: Exception | None = None
    for member_id in batch.member_ids:
        try:
            if batch.job == EXPIRE:
                points = service.expire_member(program, batch.now, member_id)
                changed, expired = changed + (points > 0), expired + points
            else:
                changed += service.review_member(program, batch.now, member_id)
        except Exception as error:  # noqa: BLE001 - reported below, with the last one as the cause
            failed.append(member_id)
            last_error = error
    if failed:
        raise BatchIncomplete(f"{len(failed)} of {len(batch.member_ids)} members failed, first {failed[0]}") from last_error
    return {"members": len(batch.member_ids), "changed": changed, "points_expired": expired}


def sender() -> Callable[[list[Batch]], None]:
    """Where batches go: the job queue, or, with JOB_QUEUE_URL=local, straight to the worker in this process."""
    queue_url = get_settings().job_queue_url
    if queue_url == "local":
        def work_here(batches: list[Batch]) -> None:
            for batch in batches:
                work(batch)

        return work_here
    import boto3  # only the dispatchers talk to SQS

    sqs = boto3.client("sqs")

    def send(batches: list[Batch]) -> None:
        entries = [{"Id": str(index), "MessageBody": batch.to_json()} for index, batch in enumerate(batches)]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        if failed:
            raise RuntimeError(f"{len(failed)} job batches were not queued: {failed[0].get('Message')}")

    return send
