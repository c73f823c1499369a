"""The calendar: months as "YYYY-MM" keys (lots expire by month, tiers qualify by month) and local days in the
program's time zone (reports count by local day, birthdays fall on one)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def month_key(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def add_months(key: str, months: int) -> str:
    year, month = (int(part) for part in key.split("-"))
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def end_of_month(key: str) -> datetime:
    """The last second of the month: when a lot of that month expires."""
    first_of_next = datetime.strptime(add_months(key, 1), "%Y-%m").replace(tzinfo=timezone.utc)
    return first_of_next - timedelta(seconds=1)


def window(now: datetime, months: int) -> set[str]:
    """The `months` calendar months ending with the month of `now`."""
    current = month_key(now)
    return {add_months(current, -offset) for offset in range(months)}


def local_day(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def day_start(day: date, time_zone: str) -> datetime:
    """The instant a local day begins."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(time_zone))
