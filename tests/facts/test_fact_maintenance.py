"""The facts kept on the member item equal a brute-force recomputation from the history, at any clock (issue 22)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st

from loyalty.domain import facts
from loyalty.domain.model import BasketItem, Member

ZONE = "Europe/Madrid"
START = datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
CATEGORIES = [f"c{index:02d}" for index in range(60)]


@dataclass
class Bought:
    at: datetime
    amount: int
    categories: tuple[str, ...]
    refunded: int = 0


@dataclass
class History:
    purchases: list[Bought] = field(default_factory=list)
    redemptions: list[datetime] = field(default_factory=list)


def local(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(ZONE)).date()


def expected(history: History, now: datetime, enrolled_at: datetime) -> dict[str, object]:
    """Every maintained fact, recomputed from the whole history with no bucket, ring or cap of the code's."""
    today = local(now)
    in_window = [bought for bought in history.purchases if 0 <= (today - local(bought.at)).days < 90]
    last_seen: dict[str, date] = {}
    for bought in history.purchases:
        if (today - local(bought.at)).days < 90:
            for category in bought.categories:
                last_seen[category] = max(last_seen.get(category, local(bought.at)), local(bought.at))
    top = sorted(last_seen.items(), key=lambda pair: (-pair[1].toordinal(), pair[0]))[:facts.MAX_CATEGORIES]
    spend = sum(bought.amount - bought.refunded for bought in history.purchases)
    count = len(history.purchases)
    last = max((bought.at for bought in history.purchases), default=None)
    last_redemption = max(history.redemptions, default=None)
    return {
        "purchase_count": count,
        "spend_minor": spend,
        "avg_basket_minor": spend // count if count else None,
        "last_purchase_at": last,
        "days_since_last_purchase": (today - local(last)).days if last else None,
        "purchases_90d": sum(bought.refunded < bought.amount for bought in in_window),
        "spend_90d_minor": sum(bought.amount - bought.refunded for bought in in_window),
        "categories_90d": sorted(name for name, _ in top),
        "redemptions_count": len(history.redemptions),
        "days_since_last_redemption": (today - local(last_redemption)).days if last_redemption else None,
        "enrolled_days": (today - local(enrolled_at)).days,
    }


def last_twelve_months(history: History, now: datetime) -> tuple[int, int]:
    """Purchases not refunded in full, and spend after refunds, in this local month and the 11 before it."""
    today = local(now)
    first = today.year * 12 + today.month - 12
    recent = [bought for bought in history.purchases if local(bought.at).year * 12 + local(bought.at).month > first]
    return sum(bought.refunded < bought.amount for bought in recent), sum(bought.amount - bought.refunded for bought in recent)


step = st.one_of(
    st.tuples(st.just("buy"), st.integers(1, 50_000), st.lists(st.sampled_from(CATEGORIES), max_size=4),
              st.integers(0, 20 * 24)),  # bought up to 20 days before now (the earn accepts 30)
    st.tuples(st.just("return"), st.integers(0, 30), st.integers(1, 100)),  # which purchase, what share
    st.tuples(st.just("redeem")),
    st.tuples(st.just("wait"), st.integers(1, 24 * 60)),  # hours: up to 60 days
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=60), st.integers(0, 24 * 200))
def test_maintained_facts_equal_the_history_at_any_clock(steps, read_after_hours):
    member = Member("m1", "", START, "app", "Bronze", "CODE")
    history, now = History(), START
    for action, *args in steps:
        if action == "buy":
            amount, categories, hours_before = args
            at = max(START, now - timedelta(hours=hours_before))
            items = tuple(BasketItem(sku=f"s{index}", amount_minor=0, category=name) for index, name in enumerate(categories))
            member.purchases += 1
            facts.note_purchase(member, amount_minor=amount, occurred_at=at, items=items, now=now, time_zone=ZONE)
            history.purchases.append(Bought(at, amount, tuple(categories)))
        elif action == "return" and history.purchases:
            which, percent = args
            bought = history.purchases[which % len(history.purchases)]
            amount = min(bought.amount - bought.refunded, max(1, bought.amount * percent // 100))
            if amount <= 0:
                continue
            bought.refunded += amount
            facts.note_return(member, amount_minor=amount, purchased_at=bought.at,
                              refunded_in_full=bought.refunded == bought.amount, now=now, time_zone=ZONE)
        elif action == "redeem":
            facts.note_redemption(member, now, ZONE)
            history.redemptions.append(now)
        elif action == "wait":
            now += timedelta(hours=args[0])
    assert len(member.days) <= facts.WINDOW_DAYS and len(member.months) <= facts.RFM_MONTHS
    assert len(member.categories) <= facts.MAX_CATEGORIES
    for reading in (now, now + timedelta(hours=read_after_hours)):  # nobody touches the member: the window slides
        seen = facts.member_facts(member, reading, ZONE)
        want = expected(history, reading, START)
        assert {name: seen[name] for name in want} == want
        assert facts.twelve_months(member, reading, ZONE) == last_twelve_months(history, reading)  # RFM's f and m


def test_categories_keep_the_fifty_most_recent():
    member, now = Member("m1", "", START, "app", "Bronze", "CODE"), START
    for name in CATEGORIES:  # one a day: c00 first
        facts.note_purchase(member, amount_minor=100, occurred_at=now, now=now, time_zone=ZONE,
                            items=(BasketItem(sku="x", amount_minor=100, category=name),))
        now += timedelta(days=1)
    assert facts.member_facts(member, now, ZONE)["categories_90d"] == CATEGORIES[10:]


def test_rfm_quintiles_from_published_boundaries():
    member, now = Member("m1", "", START, "app", "Bronze", "CODE"), START + timedelta(days=100)
    boundaries = facts.RfmBoundaries(recency=(7, 30, 60, 120), frequency=(1, 2, 4, 8), monetary=(1000, 5000, 10_000, 50_000),
                                     as_of=now)
    assert facts.member_facts(member, now, ZONE, boundaries)["rfm"] is None, "null before a first purchase"
    for days_ago in (40, 10, 3):
        facts.note_purchase(member, amount_minor=2000, occurred_at=now - timedelta(days=days_ago), items=(), now=now,
                            time_zone=ZONE)
    # recency 3 days (<= 7: 5), 3 purchases (above 1 and 2: 3), 6000 spent (above 1000 and 5000: 3)
    assert facts.member_facts(member, now, ZONE, boundaries)["rfm"] == {"r": 5, "f": 3, "m": 3}
    assert facts.member_facts(member, now + timedelta(days=200), ZONE, boundaries)["rfm"] == {"r": 1, "f": 3, "m": 3}
    assert facts.member_facts(member, now + timedelta(days=400), ZONE, boundaries)["rfm"] == {"r": 1, "f": 1, "m": 1}


def test_a_late_reported_purchase_does_not_age_a_category():
    member, now = Member("m1", "", START, "app", "Bronze", "CODE"), START + timedelta(days=30)
    coffee = (BasketItem(sku="x", amount_minor=100, category="coffee"),)
    facts.note_purchase(member, amount_minor=100, occurred_at=now, items=coffee, now=now, time_zone=ZONE)
    facts.note_purchase(member, amount_minor=100, occurred_at=now - timedelta(days=20), items=coffee, now=now, time_zone=ZONE)
    assert facts.member_facts(member, now + timedelta(days=80), ZONE)["categories_90d"] == ["coffee"]
    assert facts.member_facts(member, now + timedelta(days=90), ZONE)["categories_90d"] == []
