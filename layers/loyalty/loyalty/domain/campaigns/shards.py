"""Counters in all spread over shards, and the earn transaction's room for campaign counters (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo


from loyalty.domain.campaigns.document import Campaign
from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS, Award, CounterKey, Increment, Usage, counter_key, lowest

# ------------------------------------------------------------------ counters in all, spread over shards


def share(maximum: int, shard: int, shards: int = CAMPAIGN_SHARDS) -> int:
    """The part of a limit's `maximum` that `shard` holds: the shares differ by at most 1 and add up to `maximum`."""
    return maximum // shards + (1 if shard < maximum % shards else 0)


def stored_keys(counters: Iterable[CounterKey], shards: int = CAMPAIGN_SHARDS) -> tuple[CounterKey, ...]:
    """The items to read for these counters: a member's counter is one item, a counter in all is its every shard."""
    return tuple(shard_key for key in counters
                 for shard_key in ([key.in_shard(shard) for shard in range(shards)] if key.spread else [key]))


def totals(read: Mapping[CounterKey, Usage]) -> dict[CounterKey, Usage]:
    """What the engine sees: each counter in all as the sum of the shards read (a missing shard is zero)."""
    summed: dict[CounterKey, Usage] = {}
    for key, usage in read.items():
        whole = summed.get(key.whole, Usage())
        summed[key.whole] = Usage(whole.points + usage.points, whole.times + usage.times)
    return summed


def spread(increments: Iterable[Increment], read: Mapping[CounterKey, Usage], home: int,
           shards: int = CAMPAIGN_SHARDS) -> tuple[Increment, ...]:
    """The increments to write: a member's as they are; one in all, in its shards, each within its share.

    The member's `home` shard takes what it has room for, then the others in order: an award the engine allowed
    (at most the limit less the sum of the shards read) always fits, since no shard holds more than its share.
    Each part's ceiling is its shard's share, so the shards' sum never passes the limit. An increment without
    ceilings (a campaign's statistics) goes to the home shard whole.
    """
    written: list[Increment] = []
    for increment in increments:
        if not increment.key.spread:
            written.append(increment)
            continue
        order = [home, *(shard for shard in range(shards) if shard != home)]
        points = _fill(increment.points, increment.max_points, "points", increment.key, read, order, shards)
        times = _fill(increment.times, increment.max_times, "times", increment.key, read, order, shards)
        if increment.max_times is None and times:  # times unlimited: counted with the first points taken
            times = {next(iter(points), home): increment.times}
        if increment.max_points is None and points and increment.max_times is not None:
            points = {next(iter(times)): increment.points}
        for shard in order:
            if shard in points or shard in times:
                written.append(Increment(
                    increment.key.in_shard(shard), points.get(shard, 0), times.get(shard, 0),
                    share(increment.max_points, shard, shards) if increment.max_points is not None else None,
                    share(increment.max_times, shard, shards) if increment.max_times is not None else None,
                ))
    return tuple(written)


def _fill(amount: int, maximum: int | None, field: str, key: CounterKey, read: Mapping[CounterKey, Usage],
          order: list[int], shards: int) -> dict[int, int]:
    """How much of `amount` each shard takes, in `order`, each up to the room its share leaves."""
    if not amount:
        return {}
    if maximum is None:
        return {order[0]: amount}
    taken: dict[int, int] = {}
    left = amount
    for shard in order:
        room = share(maximum, shard, shards) - getattr(read.get(key.in_shard(shard), Usage()), field)
        if room > 0 and left:
            taken[shard] = min(room, left)
            left -= taken[shard]
    if left:
        raise ValueError(f"{amount} {field} do not fit in the shards of {key}: the engine allowed more than is left")
    return taken


# ------------------------------------------------------------------ the transaction's items

TRANSACTION_ITEMS = 100  # what one TransactWriteItems holds
T = TypeVar("T")


def _ceilings(campaign: Campaign, day: str) -> dict[CounterKey, tuple[int | None, int | None]]:
    """Each counter of the campaign's limits with its lowest max_points and max_times (as `within_limits`)."""
    ceilings: dict[CounterKey, tuple[int | None, int | None]] = {}
    for limit in campaign.limits:
        key = counter_key(campaign, limit, day)
        max_points, max_times = ceilings.get(key, (None, None))
        ceilings[key] = (lowest(max_points, limit.max_points), lowest(max_times, limit.max_times))
    return ceilings


def confine(read: Mapping[CounterKey, Usage], campaigns: Sequence[Campaign], at: datetime, *, time_zone: str,
            home: int, room: int, shards: int = CAMPAIGN_SHARDS) -> dict[CounterKey, Usage]:
    """`read` as seen by an earn that may write at most `room` campaign counter items.

    Whatever applies, each of these campaigns (in evaluation order) writes one item per counter of the member
    and, without a limit in all over the campaign, one statistics item: those are set aside first. What is left
    goes to the counters in all: one shard each in order while any is left, then more shards, again in order, up
    to all of them. A counter in all may use only the shards it was given (home first, then the others in order,
    among those with room left); the others are shown full, so the engine's limits cut the award to what those
    shards hold (`limited`) and `spread` writes no other shard. With room enough, `read` is returned as it is.
    """
    day = at.astimezone(ZoneInfo(time_zone)).date().isoformat()
    set_aside, in_all = 0, {}
    for campaign in sorted(campaigns, key=lambda campaign: campaign.order):
        ceilings = _ceilings(campaign, day)
        set_aside += sum(not key.spread for key in ceilings)
        set_aside += CounterKey(campaign.campaign_id, "campaign", "campaign") not in ceilings
        in_all.update({key: ceiling for key, ceiling in ceilings.items() if key.spread})
    left = max(0, room - set_aside)
    slots = dict.fromkeys(in_all, 0)
    while left and any(count < shards for count in slots.values()):
        for key in slots:
            if left and slots[key] < shards:
                slots[key] += 1
                left -= 1
    if all(count == shards for count in slots.values()):
        return dict(read)
    confined = dict(read)
    order = [home, *(shard for shard in range(shards) if shard != home)]
    for key, ceiling in in_all.items():
        shown_full = {shard: _full(read.get(key.in_shard(shard), Usage()), ceiling, shard, shards) for shard in order}
        with_room = [shard for shard in order if _has_room(read.get(key.in_shard(shard), Usage()), ceiling, shard, shards)]
        given = set(with_room[:slots[key]])
        for shard in order:
            if shard not in given:
                confined[key.in_shard(shard)] = shown_full[shard]
    return confined


def _full(used: Usage, ceiling: tuple[int | None, int | None], shard: int, shards: int) -> Usage:
    """The shard's usage with each limited field at its share at least: no room left."""
    max_points, max_times = ceiling
    return Usage(max(used.points, share(max_points, shard, shards)) if max_points is not None else used.points,
                 max(used.times, share(max_times, shard, shards)) if max_times is not None else used.times)


def _has_room(used: Usage, ceiling: tuple[int | None, int | None], shard: int, shards: int) -> bool:
    """Whether the shard can take one more purchase under every limit on its counter."""
    max_points, max_times = ceiling
    return ((max_points is None or used.points < share(max_points, shard, shards))
            and (max_times is None or used.times < share(max_times, shard, shards)))


def within_transaction(
    decide: Callable[[Mapping[CounterKey, Usage]], T], whole_increments: Callable[[T], Sequence[Increment]],
    room: Callable[[T], int], read: Mapping[CounterKey, Usage], campaigns: Sequence[Campaign], at: datetime, *,
    time_zone: str, home: int, shards: int = CAMPAIGN_SHARDS,
) -> tuple[T, tuple[Increment, ...]]:
    """Decide an earn on the shards `read`, and the counter increments it writes, within the transaction's items.

    `decide` makes the decision (an award, or the earn's change) from shards read; `whole_increments` are its
    counters to add to (in all, whole); `room` the items the transaction leaves it for them. When the spread
    takes more, the decision is made again on `confine`d shards: what no longer fits is cut like any limit.
    """
    decided = decide(read)
    increments = spread(whole_increments(decided), read, home, shards)
    left = room(decided)
    if len(increments) <= left:
        return decided, increments
    confined = confine(read, campaigns, at, time_zone=time_zone, home=home, room=left, shards=shards)
    decided = decide(confined)
    increments = spread(whole_increments(decided), confined, home, shards)
    if len(increments) > room(decided):  # confine sets aside the most any outcome writes: never expected
        raise AssertionError(f"{len(increments)} campaign counter items do not fit in the {room(decided)} left")
    return decided, increments


# ------------------------------------------------------------------ statistics, off the earn's transaction


def statistics_later(award: Award | None) -> tuple[str, ...]:
    """The applied campaigns whose statistics (points_awarded, times_applied) the earn's transaction does not add:
    those without a limit in all over the campaign, whose counter is the statistics. The ledger stream's consumer
    adds them (`statistics_increments`); the others are counted, exactly, by the limit counter the earn writes."""
    if award is None:
        return ()
    counted = {increment.key.campaign_id for increment in award.increments
               if increment.key.whole == CounterKey(increment.key.campaign_id, "campaign", "campaign")}
    return tuple(line.campaign_id for line in award.breakdown if line.campaign_id not in counted)


def statistics_increments(lines: Iterable[tuple[str, int]], home: int) -> tuple[Increment, ...]:
    """What the stream's consumer adds for an entry's campaign lines (campaign id, points): each campaign's
    statistics in the member's home shard, one time applied, no ceiling (no limit counts them)."""
    return tuple(Increment(CounterKey(campaign_id, "campaign", "campaign", home), points, 1, None, None)
                 for campaign_id, points in lines)
