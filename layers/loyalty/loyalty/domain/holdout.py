"""Which members a campaign holds out: a deterministic share of its audience, the control group of its lift.

A member is held out of a campaign when the first 32 bits of SHA-256("<campaign_id>:<member_id>"), taken modulo
100, fall below the campaign's holdout percent: the same answer every time, on every function and in SQL (the
campaign_lift insight computes the same bucket with `from_base(substr(to_hex(sha256(...)), 1, 8), 16) % 100`), for
the campaign's whole life, with no table to keep. Offers (never shown to a held-out member) use the same function.
"""

from __future__ import annotations

import hashlib

BUCKETS = 100


def bucket(campaign_id: str, member_id: str) -> int:
    """The member's bucket for the campaign, 0-99, uniform over members."""
    digest = hashlib.sha256(f"{campaign_id}:{member_id}".encode()).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def held_out(campaign_id: str, member_id: str, holdout_percent: int) -> bool:
    """Whether the campaign never applies to the member (0: nobody held out; at most 50 by the contract)."""
    return holdout_percent > 0 and bucket(campaign_id, member_id) < holdout_percent
