"""Sending: a scripted journey's e-mail, once per event (redelivered, and concurrently), consent and the weekly cap
over random event sequences, locales and their fallback, erasure, and failures (refused for good, or for now)."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.messages.kinds import KINDS, Trigger
from loyalty.messages.mail import SendRefused
from loyalty.messages.unsubscribe import UnsubscribeTokens
from tests.messages.conftest import API, KEY

SAM = "m0123456789abcdef0123"
ALEX = "m00000000000000000a1e"


def enrolled(event_id, member_id, points=50):
    return "MemberEnrolled", {"event_id": event_id, "member_id": member_id, "points_balance": points}


def tier(event_id, member_id, to, was):
    return "TierChanged", {"event_id": event_id, "member_id": member_id, "from": was, "to": to, "reason": "points_earned"}


def expiring(event_id, member_id, points, at):
    return "PointsExpiringSoon", {"event_id": event_id, "member_id": member_id, "points": points, "expires_at": at}


def redeemed(event_id, member_id, points, code):
    return "PointsRedeemed", {"event_id": event_id, "member_id": member_id, "points": points, "reward_id": "coffee",
                              "voucher_code": code}


def test_a_scripted_journey_sends_exactly_these_messages(world):
    world.member(SAM, email="sam@example.com", name="Sam")
    world.member(ALEX, email="alex@example.de", name="Alex", locale="de")
    journey = [
        enrolled("e1", SAM), enrolled("e2", ALEX, points=0),
        ("PointsEarned", {"event_id": "e3", "member_id": SAM, "points": 600}),  # no message
        tier("e4", SAM, "Silver", "Bronze"),
        redeemed("e5", SAM, 150, "K7QF4M2XPA"),
        ("PointsRedeemed", {"event_id": "e6", "member_id": SAM, "points": 100, "reward_id": "discount"}),  # no voucher
        expiring("e7", ALEX, 300, "2027-11-30T23:59:59Z"),
    ]
    for detail_type, detail in journey:
        world.clock.advance(timedelta(minutes=1))
        world.sending.handle(detail_type, detail)
    expected = [  # (to, subject, first line of the text), written out by hand
        ("sam@example.com", "Welcome to Bean There Rewards, Sam", "Hello Sam,"),
        ("alex@example.de", "Willkommen bei Bean There Rewards, Alex", "Hallo Alex,"),
        ("sam@example.com", "You are Silver now", "Hello Sam,"),
        ("sam@example.com", "Your voucher K7QF4M2XPA", "Hello Sam,"),
        ("alex@example.de", "300 Punkte verfallen am 2027-11-30", "Hallo Alex,"),
    ]
    assert [(m.to, m.subject, m.text.splitlines()[0]) for m in world.outbox.sent] == expected
    assert "your tier is now Silver (it was Bronze)." in world.outbox.sent[2].text
    assert "Show this code at the till: K7QF4M2XPA" in world.outbox.sent[3].text
    for message in world.outbox.sent:  # service messages: no unsubscribe headers; all through the configuration set
        request = message.ses_request()
        assert "Headers" not in request["Content"]["Simple"]
        assert request["ConfigurationSetName"] == "loyalty-test-messages"
        assert request["FromEmailAddress"] == "rewards@example.com"
    log, _ = world.store.log(SAM, 10)
    assert [(e.kind, e.status, e.channel, e.template_version, e.locale) for e in log] == [
        ("reward_redeemed", "sent", "email", "default", "en"), ("tier_changed", "sent", "email", "default", "en"),
        ("welcome", "sent", "email", "default", "en")]


def test_a_redelivered_event_sends_nothing_twice(world):
    world.member(SAM)
    assert world.sending.handle(*tier("e1", SAM, "Gold", "Silver")).result == "sent"
    world.clock.advance(timedelta(hours=3))
    assert world.sending.handle(*tier("e1", SAM, "Gold", "Silver")).result == "duplicate"
    assert len(world.outbox.sent) == 1
    assert len(world.store.log(SAM, 10)[0]) == 1


def test_concurrent_duplicates_send_once(world):
    world.member(SAM)
    barrier, outcomes = threading.Barrier(8), []

    def deliver():
        barrier.wait()
        outcomes.append(world.sending.handle(*redeemed("e9", SAM, 150, "ABCDEFGHJK")).result)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate"] * 7 + ["sent"]
    assert [m.subject for m in world.outbox.sent] == ["Your voucher ABCDEFGHJK"]


def test_the_member_s_locale_falls_back_to_the_program_s(world):
    world.member(SAM, locale="fr-CA")  # no French template: the program's (en)
    world.sending.handle(*enrolled("e1", SAM))
    assert world.outbox.sent[0].subject == "Welcome to Bean There Rewards, Sam"
    assert world.store.log(SAM, 1)[0][0].locale == "en"


def test_a_stored_template_wins_and_its_version_is_logged(world):
    from loyalty.domain.access import ADMIN_SCOPE, Caller
    from loyalty.messages.use_cases import Templates

    admin = Caller(sub="admin-1", scopes=frozenset({ADMIN_SCOPE}))
    templates = Templates(world.store, world.clock, world.sending.templates)
    templates.put(admin, "welcome", "en", {"subject": "Hi {{ member.name }}", "text": "{{ points }} points", "html": "<p>hi</p>"})
    written = templates.put(admin, "welcome", "en", {"subject": "Hey {{ member.name }}", "text": "{{ points }}", "html": "<p>{{ points }}</p>"})
    assert (written["version"], written["preview"]["subject"]) == ("2", "Hey Sam")
    world.member(SAM, name="Kim")
    world.sending.handle(*enrolled("e1", SAM, points=75))
    assert (world.outbox.sent[0].subject, world.outbox.sent[0].text, world.outbox.sent[0].html) == ("Hey Kim", "75", "<p>75</p>")
    assert world.store.log(SAM, 1)[0][0].template_version == "2"


def test_erased_blocked_and_unknown_members_hear_nothing_and_erasure_forgets_the_log(world):
    world.member(SAM)
    world.sending.handle(*enrolled("e1", SAM))
    assert len(world.store.log(SAM, 10)[0]) == 1
    world.member(SAM, email=None, name=None, status="erased")
    assert world.sending.handle(*tier("e2", SAM, "Gold", "Silver")).reason == "erased"
    assert world.sending.handle("MemberErased", {"event_id": "e3", "member_id": SAM}).result == "forgotten"
    assert world.store.log(SAM, 10)[0] == []
    world.member(ALEX, status="blocked")
    assert world.sending.handle(*tier("e4", ALEX, "Gold", "Silver")).reason == "blocked"
    assert world.sending.handle(*tier("e5", "m99999999999999999999", "Gold", "Silver")).reason == "erased"
    assert len(world.outbox.sent) == 1


def test_a_refusal_for_good_is_logged_failed_and_not_retried(world):
    world.member(SAM)
    world.outbox.fail_with.append(SendRefused("MessageRejected", "Email address is not verified."))
    assert world.sending.handle(*enrolled("e1", SAM)).result == "failed"
    assert world.sending.handle(*enrolled("e1", SAM)).result == "duplicate"  # the redelivery does not try again
    assert [(e.status, e.reason) for e in world.store.log(SAM, 10)[0]] == [("failed", "MessageRejected")]


def test_a_failure_for_now_releases_the_claim_so_the_redelivery_sends(world):
    world.member(SAM)
    world.outbox.fail_with.append(ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "SendEmail"))
    with pytest.raises(ClientError):
        world.sending.handle(*enrolled("e1", SAM))
    assert world.store.log(SAM, 10)[0] == []
    assert world.sending.handle(*enrolled("e1", SAM)).result == "sent"
    assert [e.status for e in world.store.log(SAM, 10)[0]] == ["sent"]


def test_marketing_e_mail_carries_one_click_unsubscribe_headers_for_its_member(world):
    world.member(SAM, opt_in=True)
    world.sending.deliver(Trigger(KINDS["birthday"], "b1", SAM, {"points": 100}))
    (message,) = world.outbox.sent
    headers = dict(message.headers)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"{API}/v1/unsubscribe?token=")
    from urllib.parse import parse_qs, urlsplit

    assert UnsubscribeTokens(KEY).member_of(parse_qs(urlsplit(url).query)["token"][0]) == SAM
    assert {h["Name"] for h in message.ses_request()["Content"]["Simple"]["Headers"]} == {"List-Unsubscribe", "List-Unsubscribe-Post"}


# ------------------------------------------------------------ consent and the weekly cap, over random sequences

EXAMPLES = itertools.count(1)
KIND_NAMES = ["welcome", "tier_changed", "birthday", "offer_available"]
STEP = st.tuples(st.sampled_from(KIND_NAMES), st.integers(min_value=0, max_value=60 * 60 * 48))  # kind, seconds later


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opt_in=st.booleans(), per_week=st.integers(min_value=0, max_value=3), steps=st.lists(STEP, min_size=1, max_size=14))
def test_consent_and_the_weekly_cap_over_random_event_sequences(world, opt_in, per_week, steps):
    member_id = f"m{next(EXAMPLES):020x}"  # a new member per example (Hypothesis may run one example twice)
    world.member(member_id, opt_in=opt_in)
    world.cap(per_week)
    start, sent_before = world.clock.now(), len(world.outbox.sent)
    marketing_sent, expected = [], []  # the model: when marketing went out; which kinds should be sent
    values = {"welcome": {"points": 1}, "tier_changed": {"tier": "Gold", "previous_tier": None},
              "birthday": {"points": 5}, "offer_available": {"offer": {"name": "Double", "description": "", "ends_at": None}}}
    for number, (kind, later) in enumerate(steps):
        world.clock.advance(timedelta(seconds=later))
        now = world.clock.now()
        if KINDS[kind].category == "marketing":
            recent = [at for at in marketing_sent if now - timedelta(days=7) < at <= now]
            if not opt_in or len(recent) >= per_week:
                expected_reason = "no_consent" if not opt_in else "weekly_cap"
                outcome = world.sending.deliver(Trigger(KINDS[kind], f"{member_id}-{number}", member_id, values[kind]))
                assert (outcome.result, outcome.reason) == ("not_sent", expected_reason)
                continue
            marketing_sent.append(now)
        expected.append(kind)
        assert world.sending.deliver(Trigger(KINDS[kind], f"{member_id}-{number}", member_id, values[kind])).result == "sent"
    sent = [dict(m.tags)["kind"] for m in world.outbox.sent[sent_before:]]
    assert sent == expected
    assert all(m.to == "sam@example.com" for m in world.outbox.sent[sent_before:])
    world.clock.at = start + timedelta(days=365)  # the next example starts a year on: earlier members' weeks are over


# ------------------------------------------------------------ the weekly cap under a race

@pytest.mark.parametrize(("racers", "per_week"), [(8, 2), (6, 1), (5, 5), (4, 0)])
def test_concurrent_marketing_messages_send_exactly_the_cap(world, racers, per_week):
    """N marketing events for one member at the same instant, cap C: exactly min(N, C) e-mails, the others
    `not_sent` for the weekly cap; the member's week holds exactly those sent."""
    world.member(SAM, opt_in=True)
    world.cap(per_week)
    barrier, outcomes, lock = threading.Barrier(racers), [], threading.Lock()

    def deliver(number):
        barrier.wait()
        outcome = world.sending.deliver(Trigger(KINDS["offer_available"], f"race-{number}", SAM,
                                                {"offer": {"name": f"Offer {number}", "description": "", "ends_at": None}}))
        with lock:
            outcomes.append((outcome.result, outcome.reason))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = min(racers, per_week)
    assert sorted(outcomes) == sorted([("not_sent", "weekly_cap")] * (racers - sent) + [("sent", None)] * sent)
    assert len(world.outbox.sent) == sent
    log = world.store.log(SAM, 50)[0]
    assert sorted(e.status for e in log) == sorted(["sent"] * sent + ["not_sent"] * (racers - sent))
    assert len(world.store.marketing_week(SAM).sent) == sent
    world.clock.advance(timedelta(days=7, seconds=1))  # a week on: room again, and the old places are dropped
    if per_week:
        assert world.sending.deliver(Trigger(KINDS["birthday"], "later", SAM, {"points": 5})).result == "sent"
        assert list(world.store.marketing_week(SAM).sent) == ["later#birthday"]


def test_a_marketing_message_that_did_not_go_out_gives_its_place_back(world):
    world.member(SAM, opt_in=True)
    world.cap(1)
    world.outbox.fail_with = [ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "SendEmail"),
                              SendRefused("MessageRejected", "no")]
    with pytest.raises(ClientError):  # for now: released, the place given back
        world.sending.deliver(Trigger(KINDS["birthday"], "b1", SAM, {"points": 5}))
    assert world.store.marketing_week(SAM).sent == {}
    assert world.sending.deliver(Trigger(KINDS["birthday"], "b2", SAM, {"points": 5})).result == "failed"  # for good
    assert world.store.marketing_week(SAM).sent == {}
    assert world.sending.deliver(Trigger(KINDS["birthday"], "b1", SAM, {"points": 5})).result == "sent"
    assert world.sending.deliver(Trigger(KINDS["offer_available"], "o1", SAM,
                                         {"offer": {"name": "x", "description": "", "ends_at": None}})).reason == "weekly_cap"
    assert list(world.store.marketing_week(SAM).sent) == ["b1#birthday"]


def test_erasure_forgets_the_marketing_week_too(world):
    world.member(SAM, opt_in=True)
    world.sending.deliver(Trigger(KINDS["birthday"], "b1", SAM, {"points": 5}))
    assert world.store.marketing_week(SAM).version == 1
    world.sending.handle("MemberErased", {"event_id": "x", "member_id": SAM})
    assert world.store.marketing_week(SAM).sent == {} and world.store.marketing_week(SAM).version == 0


# ------------------------------------------------------------ the program document's locale and cap, by version

def test_the_program_version_in_force_gives_the_locale_the_cap_and_the_name(world):
    """A new program version (its `locale`, `messages.marketing_per_week`, `name`) applies from its effective_from,
    to the second, with no redeploy; messages before it follow the earlier version."""
    from loyalty.core.programs import Programs
    from loyalty.program import ProgramHistory, ProgramVersion
    from tests.conftest import PROGRAM

    switch = world.clock.now() + timedelta(days=1)
    later = PROGRAM.model_validate({**PROGRAM.model_dump(), "name": "Bean There Club", "locale": "de",
                                    "messages": {"marketing_per_week": 1}})
    history = ProgramHistory((*ProgramHistory.seeded(PROGRAM).versions,
                              ProgramVersion(2, switch, later, world.clock.now(), "admin-1")))
    world.sending.programs = Programs(lambda: history, world.clock)
    world.member(SAM, opt_in=True)  # no locale of their own: the program's
    world.member(ALEX, opt_in=True, name="Alex", email="alex@example.com", locale="fr")  # no French: the program's
    birthday = KINDS["birthday"]
    assert [world.sending.deliver(Trigger(birthday, f"v1-{n}", SAM, {"points": 5})).result for n in range(3)] == [
        "sent", "sent", "not_sent"]  # version 1: two a week
    assert [m.subject for m in world.outbox.sent] == ["Happy birthday, Sam!"] * 2
    world.clock.at = switch + timedelta(days=8)  # version 2 in force, and a new week
    assert [world.sending.deliver(Trigger(birthday, f"v2-{n}", SAM, {"points": 5})).result for n in range(2)] == [
        "sent", "not_sent"]  # version 2: one a week
    assert world.sending.handle(*enrolled("w-alex", ALEX)).result == "sent"
    german = world.outbox.sent[2:]
    assert [m.subject for m in german] == [
        "Alles Gute zum Geburtstag, Sam!", "Willkommen bei Bean There Club, Alex"]
    assert [e.locale for e in world.store.log(ALEX, 5)[0]] == ["de"]
