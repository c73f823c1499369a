"""Whether a member may be sent a message now: service messages always (to an active member); marketing messages
only with `marketing_opt_in`, and at most `per_week` of them in any 7 days (the program's
`messages.marketing_per_week`, default 2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from loyalty.messages.kinds import MARKETING, Kind

DEFAULT_MARKETING_PER_WEEK = 2
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Decision:
    send: bool
    reason: str  # sent | no_consent | weekly_cap | erased


def decide(kind: Kind, *, opted_in: bool, erased: bool, marketing_sent: Iterable[datetime], now: datetime,
           per_week: int = DEFAULT_MARKETING_PER_WEEK) -> Decision:
    """`marketing_sent`: when the member's earlier marketing messages were sent."""
    if erased:
        return Decision(False, "erased")
    if kind.category != MARKETING:
        return Decision(True, "sent")
    if not opted_in:
        return Decision(False, "no_consent")
    recent = sum(1 for at in marketing_sent if now - WEEK < at)  # one stamped a moment ahead by another instance counts
    return Decision(recent < per_week, "sent" if recent < per_week else "weekly_cap")
