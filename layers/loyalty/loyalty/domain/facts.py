"""A member's facts: what segments and campaign conditions are evaluated on (pure: no clock, no I/O).

The facts are kept on the member item by the writes that already happen (earn, return, redeem, profile changes),
in their own transactions, and are bounded whatever the member's age:

- `days`: a ring of at most WINDOW_DAYS buckets, local day (as days since 1970-01-01, in the program's time zone)
  -> [purchases, spend_minor]; every write drops the buckets that left the window, and every read counts only the
  buckets inside the window ending now, so a 90-day figure slides with the clock for a member nobody touches;
- `months`: at most RFM_MONTHS buckets, local month "YYYY-MM" -> [purchases, spend_minor] (recency, frequency and
  monetary value over the last 12 months);
- `categories`: category -> the last local day it was bought (days since 1970-01-01), at most MAX_CATEGORIES: the
  most recently bought (ties: by name) stay;
- all-time `spend_minor`, `last_purchase_at`, `redemptions`, `last_redemption_at`, and the business's `attributes`.

A return takes its amount off the purchase's buckets (by the purchase's `occurred_at`) and off `spend_minor`; a
purchase refunded in full stops counting in `purchases_90d` (the all-time `purchase_count` keeps it). Categories
are what was bought: a return does not remove one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from loyalty.domain.calendar import end_of_month
from loyalty.domain.model import BasketItem, Member

WINDOW_DAYS = 90
RFM_MONTHS = 12
MAX_CATEGORIES = 50
MAX_ATTRIBUTES = 20
EXPIRING_WITHIN = timedelta(days=30)
_EPOCH = date(1970, 1, 1).toordinal()

AttributeValue = str | int | bool


def day_number(day: date) -> int:
    """A local day as days since 1970-01-01 (a short key on the member item)."""
    return day.toordinal() - _EPOCH


def _local(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months_back(day: date, months: int) -> str:
    index = day.year * 12 + day.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def prune(member: Member, now: datetime, time_zone: str) -> None:
    """Drop what left the windows ending at `now` (in place): day buckets, month buckets, categories."""
    today = _local(now, time_zone)
    first_day = day_number(today) - WINDOW_DAYS + 1
    member.days = {key: value for key, value in member.days.items() if int(key) >= first_day}
    first_month = _months_back(today, RFM_MONTHS - 1)
    member.months = {key: value for key, value in member.months.items() if key >= first_month}
    member.categories = {name: day for name, day in member.categories.items() if day >= first_day}


def _add(buckets: dict[str, list[int]], key: str, purchases: int, spend_minor: int) -> None:
    count, spend = buckets.get(key, [0, 0])
    count, spend = max(0, count + purchases), max(0, spend + spend_minor)
    if count or spend:
        buckets[key] = [count, spend]
    else:
        buckets.pop(key, None)


def note_purchase(member: Member, *, amount_minor: int, occurred_at: datetime, items: tuple[BasketItem, ...],
                  now: datetime, time_zone: str) -> None:
    """A purchase of `amount_minor` made at `occurred_at` (in place, on the member's copy the earn writes)."""
    member.spend_minor += amount_minor
    if member.last_purchase_at is None or occurred_at > member.last_purchase_at:
        member.last_purchase_at = occurred_at
    day = _local(occurred_at, time_zone)
    today = _local(now, time_zone)
    if day_number(day) > day_number(today) - WINDOW_DAYS:
        _add(member.days, str(day_number(day)), 1, amount_minor)
        for item in items:
            if item.category is not None:
                member.categories[item.category] = max(member.categories.get(item.category, 0), day_number(day))
    if _month(day) >= _months_back(today, RFM_MONTHS - 1):
        _add(member.months, _month(day), 1, amount_minor)
    prune(member, now, time_zone)
    if len(member.categories) > MAX_CATEGORIES:
        kept = sorted(member.categories.items(), key=lambda pair: (-pair[1], pair[0]))[:MAX_CATEGORIES]
        member.categories = dict(kept)


def note_return(member: Member, *, amount_minor: int, purchased_at: datetime, refunded_in_full: bool,
                now: datetime, time_zone: str) -> None:
    """A refund of `amount_minor` of a purchase made at `purchased_at` (in place)."""
    member.spend_minor = max(0, member.spend_minor - amount_minor)
    day = _local(purchased_at, time_zone)
    gone = -1 if refunded_in_full else 0
    if str(day_number(day)) in member.days:
        _add(member.days, str(day_number(day)), gone, -amount_minor)
    if _month(day) in member.months:
        _add(member.months, _month(day), gone, -amount_minor)
    prune(member, now, time_zone)


def note_redemption(member: Member, now: datetime, time_zone: str) -> None:
    member.redemptions += 1
    member.last_redemption_at = now
    prune(member, now, time_zone)


def set_attributes(current: Mapping[str, AttributeValue], changes: Mapping[str, AttributeValue | None]) -> dict[str, AttributeValue]:
    """The attributes after a PATCH: given names set, null removes one; at most MAX_ATTRIBUTES in all."""
    merged = dict(current)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    if len(merged) > MAX_ATTRIBUTES:
        raise ValueError(f"a member holds at most {MAX_ATTRIBUTES} attributes; this would make {len(merged)}")
    return merged


# ------------------------------------------------------------------ reading them


def nearest_birthday_days(birthday: date, today: date) -> int:
    """Days to the nearest birthday, before or after; a 29 February birthday falls on 28 February in other years."""
    def in_year(year: int) -> date:
        try:
            return birthday.replace(year=year)
        except ValueError:
            return date(year, 2, 28)

    return min(abs((in_year(year) - today).days) for year in (today.year - 1, today.year, today.year + 1))


@dataclass(frozen=True)
class RfmBoundaries:
    """Quintile boundaries over the membership (the 20th, 40th, 60th and 80th percentiles), ascending: recency in
    days since the last purchase, frequency in purchases and monetary value in spend over the last 12 months."""

    recency: tuple[int, int, int, int]
    frequency: tuple[int, int, int, int]
    monetary: tuple[int, int, int, int]
    as_of: datetime


def quintile(value: int, cuts: tuple[int, ...]) -> int:
    """1-5: one more for every boundary the value is above."""
    return 1 + sum(value > cut for cut in cuts)


def _window(buckets: Mapping[str, list[int]], first: str | int) -> tuple[int, int]:
    inside = [value for key, value in buckets.items() if (int(key) if isinstance(first, int) else key) >= first]
    return sum(count for count, _ in inside), sum(spend for _, spend in inside)


def twelve_months(member: Member, now: datetime, time_zone: str) -> tuple[int, int]:
    """Purchases and spend over the last RFM_MONTHS local months ending `now`: what `f` and `m` score."""
    return _window(member.months, _months_back(_local(now, time_zone), RFM_MONTHS - 1))


def member_facts(member: Member, now: datetime, time_zone: str, rfm: RfmBoundaries | None = None) -> dict[str, object]:
    """Every fact of the member at `now` (facts the member lacks are None), by name.

    Pass the member as brought up to date (pending points whose time has come released: `ledger.settle`), so
    that `points_balance` is what can be spent now; `points_expiring_30d` counts the lots expiring by now + 30 days.
    """
    expiring_30d = sum(points for month, points in member.lots.items() if end_of_month(month) <= now + EXPIRING_WITHIN)
    today = _local(now, time_zone)
    purchases_90d, spend_90d = _window(member.days, day_number(today) - WINDOW_DAYS + 1)
    last_purchase = _local(member.last_purchase_at, time_zone) if member.last_purchase_at else None
    last_redemption = _local(member.last_redemption_at, time_zone) if member.last_redemption_at else None
    first_category_day = day_number(today) - WINDOW_DAYS + 1
    categories = sorted((name for name, day in member.categories.items() if day >= first_category_day))
    scores = None
    if rfm is not None and last_purchase is not None:
        purchases_12m, spend_12m = twelve_months(member, now, time_zone)
        scores = {"r": 6 - quintile((today - last_purchase).days, rfm.recency),
                  "f": quintile(purchases_12m, rfm.frequency), "m": quintile(spend_12m, rfm.monetary)}
    return {
        "tier": member.tier,
        "channel": member.channel,
        "enrolled_days": (today - _local(member.enrolled_at, time_zone)).days,
        "marketing_opt_in": member.marketing_opt_in,
        "days_from_birthday": nearest_birthday_days(member.birthday, today) if member.birthday else None,
        "purchase_count": member.purchases,
        "spend_minor": member.spend_minor,
        "avg_basket_minor": member.spend_minor // member.purchases if member.purchases else None,
        "last_purchase_at": member.last_purchase_at,
        "days_since_last_purchase": (today - last_purchase).days if last_purchase else None,
        "purchases_90d": purchases_90d,
        "spend_90d_minor": spend_90d,
        "categories_90d": categories,
        "points_balance": member.balance,
        "points_expiring_30d": expiring_30d,
        "redemptions_count": member.redemptions,
        "days_since_last_redemption": (today - last_redemption).days if last_redemption else None,
        "rfm": scores,
        "attributes": dict(member.attributes),
    }


def condition_facts(facts: Mapping[str, object]) -> dict[str, object]:
    """The facts as conditions name them: `member.<fact>`, `member.rfm.r`, `member.attributes.<name>`; lists as
    tuples (what `contains` and `contains_any` test)."""
    named: dict[str, object] = {}
    for name, value in facts.items():
        if name == "rfm":
            for part in ("r", "f", "m"):
                named[f"member.rfm.{part}"] = value[part] if isinstance(value, dict) else None
        elif name == "attributes":
            assert isinstance(value, dict)
            named.update({f"member.attributes.{key}": item for key, item in value.items()})
        elif name != "last_purchase_at":
            named[f"member.{name}"] = tuple(value) if isinstance(value, list) else value
    return named
