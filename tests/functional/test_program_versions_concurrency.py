"""Versions published at the same time, against moto in server mode: each gets its own number, none is lost, and the
seed is written once. Each thread is its own copy of ProgramFunction, as separate Lambda instances would be."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from loyalty.clock import FixedClock
from loyalty.domain.access import ADMIN_SCOPE, Caller
from loyalty.programs.store import ProgramVersionStore
from loyalty.programs.use_cases import ProgramVersions
from tests.conftest import PROGRAM, call, http_event
from tests.functional.test_concurrency import THREADS, moto_server  # noqa: F401 - the fixture

ADMIN = "loyalty/admin"


def _publish(index: int, env: dict):
    body = {**json.loads(PROGRAM.model_dump_json()), "note": f"publish {index}",
            "earn": {**json.loads(PROGRAM.earn.model_dump_json()), "points_per_unit": 1 + index}}
    event = http_event("POST", "/v1/program/versions", body=body, scopes=ADMIN, sub=f"admin-{index}")
    return call("program", event, index, **env)


def test_versions_published_at_once_get_distinct_numbers_and_all_are_listed(moto_server):  # noqa: F811
    env = {"AWS_ENDPOINT_URL_DYNAMODB": moto_server, "PROGRAM_CACHE_SECONDS": "0"}
    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(pool.map(lambda index: _publish(index, env), range(THREADS)))
    assert [reply.status for reply in replies] == [201] * THREADS, [reply.body for reply in replies]
    numbers = sorted(reply["version"] for reply in replies)
    assert numbers == list(range(2, THREADS + 2))  # distinct, after the seed, none skipped
    listed = call("program", http_event("GET", "/v1/program/versions", scopes=ADMIN, sub="admin-0"), **env)["items"]
    assert [item["version"] for item in listed] == list(range(THREADS + 1, 0, -1))
    by_number = {item["version"]: item for item in listed}
    for reply in replies:  # each publish is stored as it was sent, under the number it was told
        stored = by_number[reply["version"]]
        assert (stored["note"], stored["published_by"], stored["earn"]["points_per_unit"]) == (
            reply["note"], reply["published_by"], int(reply["note"].split()[-1]) + 1)
    assert by_number[1]["published_by"] == "seed"


class ReadTogether(ProgramVersionStore):
    """The store, whose first read of each publish waits until both publishes have read: they race for one number."""

    def __init__(self, model, barrier: threading.Barrier) -> None:
        super().__init__(model)
        self.barrier, self.reads = barrier, threading.local()

    def versions(self, consistent: bool = False):
        found = super().versions(consistent)
        if not getattr(self.reads, "done", False):
            self.reads.done = True
            self.barrier.wait(timeout=30)
        return found


def test_two_publishes_that_read_the_same_newest_version_both_land(moto_server):  # noqa: F811
    barrier = threading.Barrier(2)
    base = ProgramVersionStore.from_table("CatalogTable", "us-east-1", moto_server)
    store = ReadTogether(base.model, barrier)
    use_case = ProgramVersions(store, FixedClock(datetime.now(timezone.utc)), PROGRAM)
    admins = [Caller(f"admin-{index}", frozenset({ADMIN_SCOPE})) for index in range(2)]
    with ThreadPoolExecutor(2) as pool:
        published = list(pool.map(lambda caller: use_case.publish(caller, PROGRAM, None, caller.sub), admins))
    assert sorted(version.version for version in published) == [2, 3]
    stored = base.versions(consistent=True)
    assert [(version.version, version.published_by) for version in stored] == [
        (1, "seed"), *sorted((version.version, version.published_by) for version in published)]
