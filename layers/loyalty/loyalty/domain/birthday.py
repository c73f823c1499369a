"""Birthdays: whose is on a local day, and when the program's birthday bonus is due (pure, no clock)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from loyalty.domain.model import BLOCKED, EntryRef, Member
from loyalty.domain.calendar import local_day
from loyalty.program import Program


def month_day(day: date) -> str:
    """A birthday as the index lists it, without its year: "MM-DD"."""
    return f"{day.month:02d}-{day.day:02d}"


def celebrated_on(day: date) -> list[str]:
    """The birthdays ("MM-DD") celebrated on a local day: 29 February's on 28 February of a year without a 29th."""
    month_days = [month_day(day)]
    if (day.month, day.day) == (2, 28) and (day + timedelta(days=1)).month == 3:
        month_days.append("02-29")
    return month_days


def bonus_ref(as_of: datetime, program: Program) -> EntryRef:
    """The birthday bonus entry of the year of `as_of`'s local day: its key (the idempotency key) makes it once a year."""
    return EntryRef("bonus", f"birthday#{local_day(as_of, program.time_zone).year}")


def bonus_due(member: Member, program: Program, as_of: datetime) -> bool:
    """Whether the program gives a birthday bonus and `as_of`'s local day is the member's birthday, the member
    enrolled before that day (in the program's time zone) and is not blocked. Whether this year's was already
    given is the ledger's to say (`bonus_ref`)."""
    day = local_day(as_of, program.time_zone)
    return (
        program.bonuses.birthday > 0 and member.birthday is not None and member.status != BLOCKED
        and month_day(member.birthday) in celebrated_on(day)
        and local_day(member.enrolled_at, program.time_zone) < day
    )
