"""`OfferAvailable`: a personalised offer told once to each member it is offered to, when it starts.

A personalised offer is an active campaign with an `audience`, or one that requires activation. It starts at the
later of its activation and its `starts_at`. The nightly member-facts snapshot (jobs/snapshot.py), which evaluates
every member's segments anyway, announces the offers that started since the previous snapshot (`starting`): for each
member it reads, one `OfferAvailable` event per such offer that the offers route would list for that member at that
moment (domain/offers.py's `offered`: in the audience, not held out, the member conditions may hold, not ended),
for active members only. Limits are not read: a member whose limit is used up the night an offer starts still hears
of it.

The event's id is derived from the campaign and the member (`offer_event_id`): a run that fails after publishing
some events, and runs again, publishes them again under the same ids, and the message sender (claims by event id)
sends one e-mail. The events go out in batches of PutEvents' 10 entries, several at once, as the member pages are
read, so memory stays bounded whatever the audience's size.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from loyalty.domain.campaigns.document import Campaign
from loyalty.domain.model import ACTIVE, Member
from loyalty.domain.offers import offered
from loyalty.events import PUT_EVENTS_LIMIT, DomainEvent

if TYPE_CHECKING:  # the store is the composition's; this module only reads what it answers
    from loyalty.campaigns.store import CampaignStore, StoredCampaign

OFFER_AVAILABLE = "OfferAvailable"
OFFER_EVENTS = uuid.UUID("3b9e6f0a-2c4d-4e8f-a1b7-5d0c9e2f6a83")  # the namespace of OfferAvailable events' ids
FIRST_LOOKBACK = timedelta(days=1)  # with no snapshot before: the offers started in the last day (one night's)
LISTING_PAGE = 100


def offer_event_id(campaign_id: str, member_id: str) -> str:
    """The id of the one OfferAvailable event of this campaign for this member: the same on every run."""
    return str(uuid.uuid5(OFFER_EVENTS, f"{campaign_id}/{member_id}"))


def personal(campaign: Campaign) -> bool:
    """Whether the campaign is a personalised offer (an audience, or activation required): what is announced."""
    return campaign.audience is not None or campaign.activation == "required"


def started_at(stored: StoredCampaign) -> datetime | None:
    """When the campaign started: the later of its activation and its `starts_at` (None: never activated)."""
    if stored.activated_at is None:
        return None
    starts_at = stored.campaign.starts_at
    return max(stored.activated_at, starts_at) if starts_at is not None else stored.activated_at


def starting(stored: Iterable[StoredCampaign], since: datetime | None, now: datetime) -> list[Campaign]:
    """The personalised offers that started after `since` (the previous snapshot; None: FIRST_LOOKBACK before
    `now`) and at or before `now`, and have not ended by `now`: the ones to announce tonight."""
    since = since if since is not None else now - FIRST_LOOKBACK
    found = []
    for campaign in stored:
        start = started_at(campaign)
        ends_at = campaign.campaign.ends_at
        if (campaign.status == ACTIVE and personal(campaign.campaign) and start is not None and since < start <= now
                and (ends_at is None or ends_at > now)):
            found.append(campaign.campaign)
    return sorted(found, key=lambda campaign: campaign.order)


def active_campaigns(store: CampaignStore, now: datetime) -> list[StoredCampaign]:
    """Every campaign active at `now`, with when it was activated (the list's pages, one Query each)."""
    found: list[StoredCampaign] = []
    cursor: str | None = None
    while True:
        page, cursor = store.listing("active", LISTING_PAGE, cursor, now)
        found.extend(page)
        if cursor is None:
            return found


def _rfc3339(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def announcement(member_id: str, campaign: Campaign) -> DomainEvent:
    """The event: the offer as the offers route names it (no personal data; the member by its id)."""
    return DomainEvent(OFFER_AVAILABLE, {
        "event_id": offer_event_id(campaign.campaign_id, member_id), "member_id": member_id,
        "campaign_id": campaign.campaign_id, "name": campaign.name, "description": campaign.description,
        "activation": campaign.activation, "starts_at": _rfc3339(campaign.starts_at), "ends_at": _rfc3339(campaign.ends_at),
    })


def one_at_a_time(sink: Callable[..., None]) -> Callable[..., None]:
    """A sink (the platform's event sink: a file) that several publishing threads may call: one call at a time."""
    lock = threading.Lock()

    def locked(*args, **kwargs) -> None:
        with lock:
            sink(*args, **kwargs)

    return locked


@dataclass
class Announcer:
    """Collects one snapshot run's OfferAvailable events, member after member, and publishes them `batch` at a time,
    `workers` batches at once: with more than one, the first batch goes alone (it creates the publisher's client),
    then up to `workers` PutEvents are in flight while the members are read on (at most twice that many batches
    wait, so memory stays bounded); `flush()` waits for all and raises the first failure."""

    publish: Callable[[list[DomainEvent]], None]  # the platform's publisher (EventBridge PutEvents, or the local file)
    offers: Sequence[Campaign]  # `starting(...)`: the offers to announce on this run
    batch: int = PUT_EVENTS_LIMIT
    workers: int = 1  # batches published at once; 1: one after another, in the order the members were read
    announced: int = 0
    _pending: list[DomainEvent] = field(default_factory=list)
    _flying: list[tuple[Future, int]] = field(default_factory=list)
    _pool: ThreadPoolExecutor | None = None

    def member(self, member: Member, facts: Mapping[str, object], in_segments: frozenset[str], now: datetime) -> None:
        """`facts`: the member's condition facts now; `in_segments`: the segments it is in now."""
        if not self.offers or member.status != ACTIVE:
            return
        for campaign in self.offers:
            if offered(member, campaign, facts, in_segments, now):
                self._pending.append(announcement(member.member_id, campaign))
                if len(self._pending) >= self.batch:
                    self._send()

    def _send(self) -> None:
        events, self._pending = self._pending, []
        if self.workers <= 1 or self.announced == 0 and not self._flying:
            self.publish(events)
            self.announced += len(events)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="announce")
        self._flying.append((self._pool.submit(self.publish, events), len(events)))
        if len(self._flying) >= 2 * self.workers:
            self._settle(self.workers)

    def _settle(self, count: int) -> None:
        """Wait for the oldest `count` batches in flight; the first failure stops the rest and is raised."""
        done, self._flying = self._flying[:count], self._flying[count:]
        try:
            for future, size in done:
                future.result()
                self.announced += size
        except BaseException:
            self.close()
            raise

    def flush(self) -> None:
        """Publish what is left and wait for every batch in flight."""
        if self._pending:
            self._send()
        self._settle(len(self._flying))
        self.close()

    def close(self) -> None:
        """Stop: batches not started are dropped (a failed run announces them again on the next run)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._flying = []
