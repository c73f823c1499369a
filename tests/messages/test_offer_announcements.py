"""Which personalised offers the nightly snapshot announces, to whom, in what batches, and once: the window between
two snapshots (a property over any dates), the audience, holdout and member conditions as the offers route applies
them, PutEvents-sized batches, and the same event ids when a failed run is run again."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.campaigns.store import StoredCampaign
from loyalty.clock import FixedClock
from loyalty.core.programs import Programs
from loyalty.domain.campaigns.document import parse_campaign
from loyalty.domain.holdout import held_out
from loyalty.domain.model import Member
from loyalty.domain.segments import Segment
from loyalty.events import PUT_EVENTS_LIMIT
from loyalty.insights.duckdb_engine import DuckDbEngine
from loyalty.insights.snapshot_queries import Waiter
from loyalty.jobs.snapshot import FactsSnapshot
from loyalty.messages.kinds import KINDS, triggered
from loyalty.messages.offer_announcements import (
    FIRST_LOOKBACK, OFFER_AVAILABLE, Announcer, announcement, offer_event_id, personal, starting,
)
from tests.conftest import PROGRAM
from tests.jobs.test_snapshot_job import BufferedSink, Members, Published

NIGHT = datetime(2026, 12, 7, 0, 45, tzinfo=timezone.utc)
APP_USERS = Segment.model_validate({"segment_id": "app-users", "name": "App users", "description": "",
                                    "conditions": {"all": [{"fact": "member.channel", "op": "eq", "value": "app"}]}})


def _text(moment):
    return moment.isoformat().replace("+00:00", "Z") if isinstance(moment, datetime) else moment


def campaign(campaign_id: str = "c1", **fields):
    fields = {name: _text(value) for name, value in fields.items()}
    return parse_campaign({"campaign_id": campaign_id, "name": f"Offer {campaign_id}", "description": "Two for one",
                           "effect": {"type": "bonus", "points": 10}, **fields})


def stored(document, activated_at: datetime | None, status: str = "active") -> StoredCampaign:
    return StoredCampaign(document, status, NIGHT - timedelta(days=30), activated_at)


def member(n: int, channel: str = "app", **fields) -> Member:
    return Member(member_id=f"m{n:04d}", email=f"m{n}@example.com", enrolled_at=NIGHT - timedelta(days=100),
                  channel=channel, referral_code="R", **{"tier": "Bronze", **fields})


# ------------------------------------------------------------------ the window


def _started(c: StoredCampaign, at: datetime) -> bool:
    """Independently of the code: at `at`, the campaign had been activated and its starts_at had come."""
    return (c.activated_at is not None and c.activated_at <= at
            and (c.campaign.starts_at is None or c.campaign.starts_at <= at))


moments = st.integers(min_value=0, max_value=20 * 24).map(lambda hours: NIGHT + timedelta(hours=hours))


@settings(max_examples=300, deadline=None)
@given(activated=st.one_of(st.none(), moments), starts=st.one_of(st.none(), moments),
       length=st.one_of(st.none(), st.integers(min_value=1, max_value=10 * 24)),
       runs=st.lists(moments, min_size=1, max_size=8, unique=True), audience=st.booleans(),
       required=st.booleans(), status=st.sampled_from(["active", "active", "draft", "ended"]))
def test_an_offer_is_announced_by_the_first_snapshot_after_it_starts_if_it_has_not_ended(
        activated, starts, length, runs, audience, required, status):
    ends = None if length is None else (starts or NIGHT) + timedelta(hours=length)
    document = campaign(starts_at=starts, ends_at=ends, activation="required" if required else "automatic",
                        audience={"segments": ["app-users"]} if audience else None)
    c = stored(document, activated, status)
    runs = sorted(runs)
    announced = [now for previous, now in zip([None, *runs], runs, strict=False)
                 if starting([c], previous, now) == [document]]
    # expected, from the definitions: a personal offer, active, first seen started (and not ended) at some run
    first = next((now for now in runs if _started(c, now)), None)
    previous = runs[runs.index(first) - 1] if first is not None and runs.index(first) > 0 else None
    if first is not None and previous is None and c.activated_at is not None:
        # the very first snapshot looks back one night only: an offer that started before that was told by nobody
        began = max(c.activated_at, c.campaign.starts_at or c.activated_at)
        first = first if began > first - FIRST_LOOKBACK else None
    expected = [first] if (first is not None and status == "active" and (audience or required)
                           and (ends is None or ends > first)) else []
    assert announced == expected


def test_only_personal_offers_are_announced():
    assert not personal(campaign())
    assert personal(campaign(audience={"segments": ["app-users"]}))
    assert personal(campaign(activation="required"))
    everyone = stored(campaign("all"), NIGHT)
    assert starting([everyone], NIGHT - timedelta(hours=1), NIGHT + timedelta(hours=1)) == []


# ------------------------------------------------------------------ who is told


def test_the_audience_not_held_out_and_whose_member_conditions_may_hold_is_told_and_nobody_else():
    offers = [campaign("app", audience={"segments": ["app-users"]}, holdout_percent=30),
              campaign("not-app", audience={"segments": [], "exclude_segments": ["app-users"]}),
              campaign("gold-app", activation="required", conditions={"all": [
                  {"fact": "member.tier", "op": "eq", "value": "Gold"},
                  {"fact": "order.channel", "op": "eq", "value": "app"}]})]  # the order's: judged at the purchase
    told: list = []
    announcer = Announcer(told.extend, offers)
    people = [member(n, ("app", "store")[n % 2], tier=("Bronze", "Gold")[n % 3 == 0]) for n in range(60)]
    people.append(member(99, "app", status="blocked"))
    for person in people:
        in_segments = frozenset({"app-users"}) if person.channel == "app" else frozenset()
        announcer.member(person, {"member.tier": person.tier, "member.channel": person.channel}, in_segments, NIGHT)
    announcer.flush()
    expected = sorted(
        [("app", p.member_id) for p in people[:60] if p.channel == "app" and not held_out("app", p.member_id, 30)]
        + [("not-app", p.member_id) for p in people[:60] if p.channel == "store"]
        + [("gold-app", p.member_id) for p in people[:60] if p.tier == "Gold"])
    assert sorted((e.detail["campaign_id"], e.detail["member_id"]) for e in told) == expected
    assert 0 < sum(held_out("app", p.member_id, 30) for p in people if p.channel == "app") < 30  # some were held out
    assert announcer.announced == len(expected)


def test_the_event_names_the_offer_as_the_offers_route_does_and_triggers_one_offer_message():
    document = campaign("win-back", starts_at="2026-12-01T00:00:00Z", ends_at="2027-01-31T23:00:00Z",
                        activation="required")
    event = announcement("m0001", document)
    assert event.detail_type == OFFER_AVAILABLE == KINDS["offer_available"].trigger
    assert event.detail == {"event_id": offer_event_id("win-back", "m0001"), "member_id": "m0001",
                            "campaign_id": "win-back", "name": "Offer win-back", "description": "Two for one",
                            "activation": "required", "starts_at": "2026-12-01T00:00:00Z",
                            "ends_at": "2027-01-31T23:00:00Z"}
    assert announcement("m0001", document).detail["event_id"] == event.detail["event_id"], "the same on every run"
    assert len({offer_event_id(c, m) for c in ("a", "b") for m in ("m1", "m2")}) == 4
    trigger = triggered(OFFER_AVAILABLE, event.detail)
    assert (trigger.kind, trigger.event_id, trigger.member_id) == (KINDS["offer_available"], event.detail["event_id"], "m0001")
    assert trigger.values == {"offer": {"campaign_id": "win-back", "name": "Offer win-back", "description": "Two for one",
                                        "ends_at": "2027-01-31"}}
    assert triggered(OFFER_AVAILABLE, {**event.detail, "ends_at": None}).values["offer"]["ends_at"] is None


@pytest.mark.parametrize("members", [0, 1, 9, 10, 11, 25, 100])
def test_events_go_out_in_put_events_batches_in_order(members):
    batches: list[list] = []
    announcer = Announcer(batches.append, [campaign("c", activation="required")])
    for n in range(members):
        announcer.member(member(n), {}, frozenset(), NIGHT)
    announcer.flush()
    assert all(0 < len(batch) <= PUT_EVENTS_LIMIT for batch in batches)
    assert len(batches) == -(-members // PUT_EVENTS_LIMIT)
    assert [e.detail["member_id"] for batch in batches for e in batch] == [f"m{n:04d}" for n in range(members)]


# ------------------------------------------------------------------ in the nightly job


class Forgetful(Published):
    """Marks that are never kept: every run looks back from scratch, as a run that failed before its mark."""

    def add_snapshot(self, mark, now) -> None:
        pass


def _job(tmp_path, published, campaigns, batches, now=NIGHT) -> FactsSnapshot:
    clock = FixedClock(now)
    people = [member(n, ("app", "store")[n % 3 == 0]) for n in range(30)]
    return FactsSnapshot(Members(people), lambda: [APP_USERS], BufferedSink(tmp_path), published, clock,
                         Programs.fixed(PROGRAM, clock), DuckDbEngine(tmp_path), Waiter(sleep=lambda s: None),
                         page_rows=7, campaigns=lambda at: campaigns, publish=batches.append)


def test_the_snapshot_announces_once_and_a_run_without_its_mark_announces_the_same_events_again(tmp_path):
    offer = stored(campaign("app", audience={"segments": ["app-users"]}, holdout_percent=20), NIGHT - timedelta(hours=3))
    audience = sorted(f"m{n:04d}" for n in range(30) if n % 3 and not held_out("app", f"m{n:04d}", 20))

    batches: list[list] = []
    job = _job(tmp_path / "a", Published(), [offer], batches)
    assert job.run()["offers_announced"] == len(audience)
    assert sorted(e.detail["member_id"] for batch in batches for e in batch) == audience
    assert all(len(batch) <= PUT_EVENTS_LIMIT for batch in batches)
    again: list[list] = []
    job.publish = again.append
    job.clock = FixedClock(NIGHT + timedelta(days=1))
    assert job.run()["offers_announced"] == 0 and again == [], "the next night: told already"

    lost: list[list] = []
    forgetful = _job(tmp_path / "b", Forgetful(), [offer], lost)
    forgetful.run()
    forgetful.run()
    ids = [e.detail["event_id"] for batch in lost for e in batch]
    assert len(ids) == 2 * len(audience) and len(set(ids)) == len(audience), "the same ids again: the sender sends once"
    assert set(ids) == {offer_event_id("app", m) for m in audience}


def test_a_failed_publish_fails_the_run_before_its_mark(tmp_path):
    offer = stored(campaign("app", audience={"segments": ["app-users"]}), NIGHT - timedelta(hours=3))
    published = Published()

    def refuse(events):
        raise RuntimeError("EventBridge refused")

    job = _job(tmp_path, published, [offer], [])
    job.publish = refuse
    with pytest.raises(RuntimeError):
        job.run()
    assert published.marks == [], "no mark: the next run announces the offer again"


@pytest.mark.parametrize("members, workers", [(0, 4), (1, 4), (95, 4), (400, 8), (57, 2)])
def test_batches_published_several_at_once_announce_every_member_once_with_few_in_flight(members, workers):
    lock, state = threading.Lock(), {"now": 0, "most": 0}
    batches: list[list] = []
    release = threading.Event()

    def publish(events):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        release.wait(0.001)  # the calls overlap: a PutEvents takes a while
        with lock:
            state["now"] -= 1
            batches.append(events)

    announcer = Announcer(publish, [campaign("c", activation="required")], workers=workers)
    for n in range(members):
        announcer.member(member(n), {}, frozenset(), NIGHT)
    announcer.flush()
    assert sorted(e.detail["member_id"] for batch in batches for e in batch) == [f"m{n:04d}" for n in range(members)]
    assert all(0 < len(batch) <= PUT_EVENTS_LIMIT for batch in batches) and announcer.announced == members
    assert state["most"] <= workers


def test_a_batch_that_fails_among_several_at_once_fails_the_run_and_is_not_counted():
    calls = []

    def publish(events):
        calls.append(len(events))
        if len(calls) == 5:
            raise RuntimeError("EventBridge refused")

    announcer = Announcer(publish, [campaign("c", activation="required")], workers=3)
    with pytest.raises(RuntimeError):
        for n in range(300):
            announcer.member(member(n), {}, frozenset(), NIGHT)
        announcer.flush()
    assert announcer.announced < 300
