"""What SnapStart copies: every instance restored from one snapshot starts with the same memory, the `random`
module's state included. Nothing the functions draw may repeat across those copies."""

import random

from loyalty.core.retry import RetryPolicy
from loyalty.domain.model import new_code, new_entry_id, new_member_id
from loyalty.store.transaction import Backoff, LostRace


def _as_restored_twice(draw):
    """`draw()` in two instances restored from one snapshot: the same `random` state before each."""
    state = random.getstate()
    first = draw()
    random.setstate(state)
    return first, draw()


def test_batch_read_backoff_differs_between_instances_restored_from_one_snapshot():
    backoff = Backoff()
    first, second = _as_restored_twice(lambda: [backoff.delay(retry) for retry in range(1, 6)])
    assert first != second
    assert all(0 <= wait <= min(backoff.cap, backoff.first * 2 ** retry) for retry, wait in enumerate(first, 1))


def test_lost_race_waits_differ_between_instances_restored_from_one_snapshot():
    def waits():
        slept = []
        tries = iter(range(6))

        def attempt():
            if next(tries) < 5:
                raise LostRace("changed")
            return "done"

        assert RetryPolicy(sleep=slept.append).run(attempt) == "done"
        return slept

    first, second = _as_restored_twice(waits)
    assert len(first) == 5 and first != second


def test_ids_and_codes_differ_between_instances_restored_from_one_snapshot():
    for draw in (new_member_id, new_entry_id, lambda: new_code(8)):
        first, second = _as_restored_twice(draw)
        assert first != second
