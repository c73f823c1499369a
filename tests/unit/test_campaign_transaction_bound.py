"""An earn's campaign counter items stay within what one transaction holds (domain.campaigns.within_transaction)."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain.campaigns.engine import CAMPAIGN_SHARDS, CounterKey, Usage
from loyalty.domain.campaigns.shards import TRANSACTION_ITEMS, totals, within_transaction
from loyalty.domain.earning import campaign_increments
from tests.unit.test_campaigns import NOW, campaign, run

DAY = NOW.date().isoformat()


def share_of(maximum: int, shard: int) -> int:  # computed here apart from the code: 5 shares adding up to maximum
    return [maximum // 5 + (1 if index < maximum % 5 else 0) for index in range(5)][shard]


LIMIT_CHOICES = [
    {"per": "campaign", "period": "campaign", "max_points": 1},
    {"per": "campaign", "period": "day", "max_points": 1},
    {"per": "campaign", "period": "day", "max_times": 1},
    {"per": "member", "period": "day", "max_points": 1},
    {"per": "member", "period": "campaign", "max_times": 1},
]


@st.composite
def scenarios(draw, crowded: bool = False):
    """Campaigns, the counters read, the member's home shard and the items the earn writes besides campaigns.
    `crowded`: 16 campaigns, each with both counters in all, near the end of their limits (the bound's case)."""
    count = 16 if crowded else draw(st.integers(1, 16))
    home = draw(st.integers(0, CAMPAIGN_SHARDS - 1))
    campaigns, read = [], {}
    for index in range(count):
        chosen = draw(st.lists(st.sampled_from(range(len(LIMIT_CHOICES))), unique=True, max_size=4))
        if crowded:
            chosen = [0, draw(st.sampled_from([1, 2]))] + [choice for choice in chosen if choice == 4]
        limits = []
        for choice in chosen:
            limit = dict(LIMIT_CHOICES[choice])
            field = "max_points" if "max_points" in limit else "max_times"
            limit[field] = draw(st.integers(1, 60) | st.integers(10, 30))
            limits.append(limit)
        group = None if crowded else draw(st.sampled_from([None, None, "g1", "g2"]))
        document = {"effect": {"type": "bonus", "points": draw(st.integers(5 if crowded else 1, 40))}, "limits": limits,
                    **({"exclusive_group": group} if group else {})}
        made = campaign(f"c{index:02d}", **document)
        campaigns.append(made)
        for limit in made.limits:
            key = CounterKey(made.campaign_id, limit.per, DAY if limit.period == "day" else "campaign")
            if limit.per == "member":
                used = draw(st.integers(0, (limit.max_points or limit.max_times) + 1))
                read[key] = Usage(used, used)
                continue
            for shard in range(CAMPAIGN_SHARDS):  # each shard up to its share of this limit (or past it: an overspend)
                stored = read.get(key.in_shard(shard), Usage())
                maximum = limit.max_points or limit.max_times
                full = share_of(maximum, shard)  # mostly full or nearly: awards spill over several shards
                if crowded:  # the home shard full, the others with a point or two left: an award takes several
                    nearly = [full] if shard == home else [max(0, full - 1), max(0, full - 2), full]
                else:
                    nearly = [full, max(0, full - 1), max(0, full - 2), 0]
                used = draw(st.sampled_from(nearly))
                read[key.in_shard(shard)] = (Usage(max(stored.points, used), stored.times) if limit.max_points
                                             else Usage(stored.points, max(stored.times, used)))
    return campaigns, read, home, draw(st.integers(3, 50))  # room >= 50: more than any 16 campaigns set aside (48)


def ceilings(campaigns) -> dict[CounterKey, dict[str, int]]:
    found: dict[CounterKey, dict[str, int]] = defaultdict(dict)
    for made in campaigns:
        for limit in made.limits:
            key = CounterKey(made.campaign_id, limit.per, DAY if limit.period == "day" else "campaign")
            for field, maximum in (("points", limit.max_points), ("times", limit.max_times)):
                if maximum is not None:
                    found[key][field] = min(maximum, found[key].get(field, maximum))
    return found


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_the_increments_fit_in_the_transaction_stay_within_every_share_and_add_up_to_the_breakdown(scenario):
    check(scenario)


@settings(max_examples=200, deadline=None)
@given(scenarios(crowded=True))
def test_near_the_end_of_16_budgets_the_increments_still_fit_stay_within_shares_and_add_up(scenario):
    check(scenario)


def check(scenario) -> None:
    campaigns, read, home, besides = scenario
    room = TRANSACTION_ITEMS - besides
    award, increments = within_transaction(
        lambda shards_read: run(campaigns, counters=totals(shards_read)), campaign_increments, lambda _: room, read,
        campaigns, NOW, time_zone="UTC", home=home,
    )
    assert len(increments) <= room
    limits = ceilings(campaigns)
    given_by = {line.campaign_id: line.points for line in award.breakdown}
    added: dict[CounterKey, list[int]] = defaultdict(lambda: [0, 0])
    for increment in increments:
        key = increment.key
        if key.shard is not None:
            assert len(increments) == len({i.key for i in increments})  # one item per shard
            used = read.get(key, Usage())
            for field, value in (("points", increment.points), ("times", increment.times)):
                if field in limits.get(key.whole, {}):
                    assert getattr(used, field) + value <= share_of(limits[key.whole][field], key.shard)
        added[key.whole][0] += increment.points
        added[key.whole][1] += increment.times
    for made in campaigns:
        if made.campaign_id not in given_by:
            assert not any(key.campaign_id == made.campaign_id for key in added)
            continue
        total = CounterKey(made.campaign_id, "campaign", "campaign")
        keys = {CounterKey(made.campaign_id, limit.per, DAY if limit.period == "day" else "campaign")
                for limit in made.limits} | {total}
        for key in keys:
            assert added[key] == [given_by[made.campaign_id], 1]  # every counter: the points given, once
            if key.per == "campaign" and key in limits:  # never past a limit in all
                before = sum(read.get(key.in_shard(shard), Usage()).points for shard in range(CAMPAIGN_SHARDS))
                if "points" in limits[key]:
                    assert before + given_by[made.campaign_id] <= limits[key]["points"]
    for cut in award.limited:
        assert given_by[cut.campaign_id] == cut.given < cut.wanted
    assert award.points == sum(given_by.values())


def test_the_worst_case_is_cut_to_what_fits_and_shown_as_limited():
    """16 campaigns with two counters in all each, every home shard full, 1 point left in each other shard: spread
    freely, each counter would take 4 shards (128 items); bounded, the award is cut and marked limited."""
    campaigns = [campaign(f"c{index:02d}", effect={"type": "bonus", "points": 10},
                          limits=[{"per": "campaign", "period": "campaign", "max_points": 100},
                                  {"per": "campaign", "period": "day", "max_points": 50}]) for index in range(16)]
    home, read = 2, {}
    for made in campaigns:
        for period, maximum in (("campaign", 100), (DAY, 50)):
            for shard in range(CAMPAIGN_SHARDS):
                used = share_of(maximum, shard) - (0 if shard == home else 1)
                read[CounterKey(made.campaign_id, "campaign", period, shard)] = Usage(used, used)
    unbounded = run(campaigns, counters=totals(read))
    assert unbounded.points == 16 * 4  # each has 4 points left in all
    room = TRANSACTION_ITEMS - 6  # member, entry, day, gap, month, total
    award, increments = within_transaction(
        lambda shards_read: run(campaigns, counters=totals(shards_read)), campaign_increments, lambda _: room, read,
        campaigns, NOW, time_zone="UTC", home=home,
    )
    assert len(increments) <= room < 16 * 2 * 4
    # 94 items for 32 counters: one shard with room each, then one more each (64), then one more for the first 30:
    # campaigns 0-14 get 3 shards of both counters (3 points), campaign 15 two (2 points).
    assert [line.points for line in award.breakdown] == [3] * 15 + [2]
    assert {cut.campaign_id: cut.given for cut in award.limited} == {line.campaign_id: line.points for line in award.breakdown}


def test_room_for_one_shard_goes_to_a_shard_with_room_not_to_a_full_home():
    """Every shard holds one of the five times; the home shard has used its one, so with room for one item the
    earn is given the next shard, not the full home (which would cut the award to nothing)."""
    from loyalty.domain.campaigns.shards import confine

    capped = campaign("c1", limits=[{"per": "campaign", "period": "campaign", "max_times": CAMPAIGN_SHARDS}])
    key = CounterKey("c1", "campaign", "campaign")
    read = {key.in_shard(0): Usage(points=100, times=1)}
    confined = confine(read, [capped], NOW, time_zone="UTC", home=0, room=1)
    assert confined.get(key.in_shard(1), Usage()) == Usage()  # given: as read, room for one more
    assert all(confined[key.in_shard(shard)].times >= 1 for shard in range(2, CAMPAIGN_SHARDS))  # shown full
    assert run([capped], counters=totals(confined)).points > 0
