"""A generated event history (EventBridge envelopes, as the store receives them) and the store built from it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from loyalty.domain.holdout import held_out


def _at(day: date, hour: int = 12) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


def envelope(kind: str, detail: dict, at: str) -> dict:
    return {"id": detail["event_id"], "detail-type": kind, "source": "loyalty", "time": at, "detail": detail}


@dataclass
class History:
    events: list[dict] = field(default_factory=list)
    enrolled: dict[str, date] = field(default_factory=dict)
    purchases: list[tuple[str, date, int, int, int]] = field(default_factory=list)  # member, day, amount, points, campaign points
    redemptions: list[tuple[str, date, int]] = field(default_factory=list)
    expiries: list[tuple[date, int]] = field(default_factory=list)
    issued_with_expiry: list[tuple[date, date, int]] = field(default_factory=list)  # issued day, expires day, points
    welcome: dict[str, int] = field(default_factory=dict)
    returns: list[tuple[str, date, int, int]] = field(default_factory=list)  # member, day, amount refunded, points taken back
    forfeits: list[tuple[str, date, int]] = field(default_factory=list)  # member, day of erasure, points forfeited
    birthdays: list[tuple[str, date, int]] = field(default_factory=list)  # member, day credited, points
    referrals: list[tuple[str, date, int]] = field(default_factory=list)  # member, day credited, points
    _n: int = 0

    def _id(self) -> str:
        self._n += 1
        return f"e{self._n:08d}"

    def enroll(self, member: str, day: date, welcome: int = 0) -> None:
        self.enrolled[member] = day
        self.welcome[member] = welcome
        self.events.append(envelope("MemberEnrolled", {
            "event_id": self._id(), "member_id": member, "channel": "app", "tier": "Bronze", "referral_code": "R",
            "marketing_opt_in": False, "points_balance": welcome, "enrolled_at": _at(day, 9)}, _at(day, 9)))

    def purchase(self, member: str, day: date, amount: int, campaign_id: str | None = None, campaign_points: int = 0,
                 hour: int = 12, channel: str = "store", quantity: int = 1) -> None:
        base = amount // 100
        points = base + campaign_points
        expires = date(day.year + 1, day.month, 1) - timedelta(days=1)
        breakdown = [{"source": "base", "campaign_id": None, "points": base, "program_version": 1}]
        if campaign_points:
            breakdown.append({"source": "campaign", "campaign_id": campaign_id, "points": campaign_points,
                              "program_version": 1})
        self.purchases.append((member, day, amount, points, campaign_points))
        self.issued_with_expiry.append((day, expires, points))
        self.events.append(envelope("PointsEarned", {
            "event_id": self._id(), "member_id": member, "entry_id": self._id(), "transaction_id": self._id(),
            "points": points, "base_points": base, "breakdown": breakdown, "amount_minor": amount, "currency": "EUR",
            "balance": 0, "tier": "Bronze", "expires_at": _at(expires, 23), "available_at": None, "at": _at(day, hour),
            "program_version": 1,
            "occurred_at": _at(day, hour), "store_id": "s1", "channel": channel,
            "items": [{"sku": "coffee", "category": "drinks", "amount_minor": amount, "quantity": quantity}]}, _at(day, hour)))

    def redeem(self, member: str, day: date, points: int) -> None:
        self.redemptions.append((member, day, points))
        self.events.append(envelope("PointsRedeemed", {
            "event_id": self._id(), "member_id": member, "entry_id": self._id(), "points": points, "reward_id": "r1",
            "value_minor": 500, "voucher_code": "SECRETCODE", "balance": 0, "at": _at(day, 15)}, _at(day, 15)))

    def expire(self, member: str, day: date, points: int) -> None:
        self.expiries.append((day, points))
        self.events.append(envelope("PointsExpired", {
            "event_id": self._id(), "member_id": member, "entry_id": self._id(), "points": points, "lots": {},
            "balance": 0, "at": _at(day, 2)}, _at(day, 2)))


    def return_(self, member: str, day: date, transaction_id: str, amount: int, points: int) -> None:
        self.returns.append((member, day, amount, points))
        self.events.append(envelope("PurchaseReturned", {
            "event_id": self._id(), "member_id": member, "entry_id": self._id(), "transaction_id": transaction_id,
            "return_id": self._id(), "points": points, "points_unrecovered": 0, "amount_minor": amount,
            "program_version": 1, "balance": 0, "at": _at(day, 17)}, _at(day, 17)))

    def birthday(self, member: str, day: date, points: int) -> None:
        expires = date(day.year + 1, day.month, 1) - timedelta(days=1)
        self.birthdays.append((member, day, points))
        self.issued_with_expiry.append((day, expires, points))
        self.events.append(envelope("BirthdayBonusCredited", {
            "event_id": self._id(), "member_id": member, "entry_id": self._id(), "points": points, "year": day.year,
            "balance": 0, "expires_at": _at(expires, 23), "at": _at(day, 6)}, _at(day, 6)))

    def referral(self, member: str, day: date, points: int) -> None:
        expires = date(day.year + 1, day.month, 1) - timedelta(days=1)
        self.referrals.append((member, day, points))
        self.issued_with_expiry.append((day, expires, points))
        self.events.append(envelope("ReferralBonusCredited", {
            "event_id": self._id(), "member_id": member, "entry_id": self._id(), "points": points, "balance": 0,
            "expires_at": _at(expires, 23), "available_at": None, "at": _at(day, 13)}, _at(day, 13)))

    def forfeit(self, member: str, day: date, points: int) -> None:
        self.forfeits.append((member, day, points))
        self.events.append(envelope("PointsForfeited", {
            "event_id": self._id(), "member_id": member, "entry_id": self._id(), "points": points, "reason": "erasure",
            "balance": 0, "at": _at(day, 18)}, _at(day, 18)))
        self.events.append(envelope("MemberErased", {"event_id": self._id(), "member_id": member,
                                                     "erased_at": _at(day, 18)}, _at(day, 18)))


def generated(seed: int, members: int = 400, campaign_id: str = "double-coffee", holdout_percent: int = 20,
              effect: float = 0.0) -> History:
    """Members enrolled over the first half of 2026 buying through 2026; from 2026-09-01 to 2026-09-30 a campaign
    ran, giving treated members bonus points and (with `effect`) that much more spend per purchase."""
    rng = random.Random(seed)
    history = History()
    for n in range(members):
        member = f"m{n:05d}"
        joined = date(2026, 1, 1) + timedelta(days=rng.randrange(181))
        history.enroll(member, joined, welcome=rng.choice([0, 100]))
        treated = not held_out(campaign_id, member, holdout_percent)
        for _ in range(rng.randrange(0, 12)):
            day = joined + timedelta(days=rng.randrange(0, 365))
            if day > date(2026, 12, 31):
                continue
            amount = rng.randrange(500, 5000)
            in_campaign = date(2026, 9, 1) <= day <= date(2026, 9, 30)
            if in_campaign and treated:
                amount = int(amount * (1 + effect))
            history.purchase(member, day, amount, campaign_id if in_campaign and treated else None,
                             20 if in_campaign and treated else 0, hour=rng.randrange(8, 20))
        if rng.random() < 0.3:
            history.redeem(member, joined + timedelta(days=rng.randrange(1, 200)), rng.choice([100, 200]))
        if rng.random() < 0.1:
            history.expire(member, date(2026, 1, 31) + timedelta(days=rng.randrange(0, 300)), rng.randrange(1, 50))
    _returns_and_erasures(history, random.Random(seed + 1), random.Random(seed + 2))
    return history


def _returns_and_erasures(history: History, rng: random.Random, referring: random.Random) -> None:
    """About one purchase in eight returned (in part or whole, up to 40 days later: the points taken back in
    proportion, as a return does), a birthday bonus for about one member in five, a referral bonus for about one in
    ten (from `referring`), and about one member in twelve
    erased after their last activity (the balance they held forfeited). Drawn from their own generator, so the
    rest of the history is as before."""
    earned = [event["detail"] for event in history.events if event["detail-type"] == "PointsEarned"]
    for detail in earned:
        if rng.random() < 0.125:
            day = date.fromisoformat(detail["at"][:10]) + timedelta(days=rng.randrange(0, 41))
            refunded = rng.choice([detail["amount_minor"], rng.randrange(1, detail["amount_minor"] + 1)])
            history.return_(detail["member_id"], day, detail["transaction_id"], refunded,
                            detail["points"] * refunded // detail["amount_minor"])
    for member, joined in sorted(history.enrolled.items()):
        if rng.random() < 0.2:
            history.birthday(member, joined + timedelta(days=rng.randrange(1, 300)), 100)
    for member, joined in sorted(history.enrolled.items()):
        if referring.random() < 0.1:
            history.referral(member, joined + timedelta(days=referring.randrange(1, 90)), 200)
    balance: dict[str, int] = dict(history.welcome)
    last: dict[str, date] = dict(history.enrolled)
    for member, day, points in history.birthdays + history.referrals:
        balance[member] += points
        last[member] = max(last[member], day)
    for member, day, _, points, _ in history.purchases:
        balance[member] += points
        last[member] = max(last[member], day)
    for member, day, _, points in history.returns:
        balance[member] -= points
        last[member] = max(last[member], day)
    for member, day, points in history.redemptions:
        balance[member] -= points
        last[member] = max(last[member], day)
    for member in sorted(history.enrolled):
        if rng.random() < 1 / 12:
            history.forfeit(member, last[member] + timedelta(days=rng.randrange(1, 30)), max(0, balance[member]))
