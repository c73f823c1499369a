"""The collaborators the use cases are given: settings, the catalog cache, the retry policy, key formats."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from loyalty.domain import errors, ledger, redeeming, stats
from loyalty.domain.model import EntryRef, Reward
from loyalty.core.cache import Refreshed
from loyalty.core.retry import RetryPolicy
from loyalty.rewards.use_cases import Catalog
from loyalty.settings import ApiSettings, ConfigurationError, DispatcherSettings, EmailHashSettings, PublisherSettings
from loyalty.store import keys
from loyalty.store.transaction import LostRace
from tests.unit.test_rules import PROGRAM


def test_settings_fail_closed_naming_every_missing_variable():
    with pytest.raises(ConfigurationError) as missing:
        ApiSettings.from_environment({"MEMBERS_TABLE": "m"})
    assert "LEDGER_TABLE" in str(missing.value) and "STATS_TABLE" in str(missing.value)
    with pytest.raises(ConfigurationError, match="JOB_QUEUE_URL"):
        DispatcherSettings.from_environment({"MEMBERS_TABLE": "m"})
    with pytest.raises(ConfigurationError, match="EVENT_BUS_NAME"):
        PublisherSettings.from_environment({})
    with pytest.raises(ConfigurationError, match="EMAIL_HASH_KEY"):
        EmailHashSettings.from_environment({})
    with pytest.raises(ConfigurationError, match="exactly one"):
        EmailHashSettings.from_environment({"EMAIL_HASH_KEY": "k" * 20, "EMAIL_HASH_KEY_PARAMETER": "/p"})
    with pytest.raises(ConfigurationError, match="EMAIL_HASH_KEY"):
        EmailHashSettings.from_environment({"EMAIL_HASH_KEY": "short"})
    settings = ApiSettings.from_environment({"MEMBERS_TABLE": "m", "LEDGER_TABLE": "l", "STATS_TABLE": "s", "STATS_SHARDS": "4"})
    assert (settings.stats_shards, settings.job_shards, settings.catalog_table) == (4, 16, None)


def test_the_catalog_is_cached_for_its_time_to_live():
    loads, now = [], [0.0]
    cached = Refreshed(lambda: loads.append(1) or [Reward("r", "R", "", "perk", 10, 0, active=False)], 60, lambda: now[0])
    catalog = Catalog(cached.get)
    assert catalog.find("r").reward_id == "r", "found even when inactive: the rules refuse it"
    now[0] = 59
    catalog.rewards()
    assert len(loads) == 1
    now[0] = 61
    catalog.rewards()
    assert len(loads) == 2
    with pytest.raises(errors.RewardNotFound):
        catalog.find("nope")


def test_one_retry_policy_retries_lost_races_then_says_try_again():
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=3, base_delay_seconds=0.01, sleep=sleeps.append)
    tries = []

    def losing():
        tries.append(1)
        raise LostRace()

    with pytest.raises(errors.Busy):
        policy.run(losing)
    assert len(tries) == 3 and len(sleeps) == 2 and all(0 <= delay <= 0.02 for delay in sleeps)
    outcomes = iter([LostRace(), "won"])

    def then_wins():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert policy.run(then_wins) == "won"
    with pytest.raises(ValueError):
        policy.run(lambda: (_ for _ in ()).throw(ValueError("not a race")))


def test_the_catalog_view_and_the_redemption_share_one_tier_rule():
    gold = Reward("g", "G", "", "perk", 10, 0, min_tier="Gold")
    assert redeeming.reward_available(gold, PROGRAM, None), "staff see every reward as available"
    assert not redeeming.reward_available(gold, PROGRAM, "Silver") and redeeming.reward_available(gold, PROGRAM, "Gold")
    assert not redeeming.reward_available(Reward("s", "S", "", "perk", 10, 0, stock=0), PROGRAM, "Gold")
    assert not redeeming.reward_available(Reward("i", "I", "", "perk", 10, 0, active=False), PROGRAM, None)


def test_key_formats_live_in_the_store_and_sort_as_times_in_every_year():
    assert keys.entry_key(EntryRef("earn", "pos:1#2")) == "earn#pos:1#2"
    assert keys.entry_ref("bonus#referral#m1") == EntryRef("bonus", "referral#m1")
    early = keys.time_key(datetime(1, 1, 1, tzinfo=timezone.utc))
    assert early == "0001-01-01T00:00:00.000000Z" and early < keys.time_key(datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert keys.counter_key(stats.Bucket(stats.DAY, "2026-11-02"), 3) == "D#2026-11-02#3"
    assert keys.counter_key(stats.Bucket(stats.TOTAL, None), 3) == "T#3"


def test_a_report_plan_reads_only_what_can_hold_counters():
    today = date(2026, 11, 26)
    nothing = stats.plan(date(1, 1, 1), date(1, 1, 1), today, first_day=date(2026, 9, 1))
    assert nothing.buckets() == [] and nothing.before_first_day
    assert stats.plan(date(2026, 1, 1), date(2026, 1, 2), today, first_day=None).buckets() == []
    partly = stats.plan(date(2026, 8, 30), date(2026, 9, 2), today, first_day=date(2026, 9, 1))
    assert [b.period for b in partly.buckets() if b.kind == stats.DAY] == ["2026-09-01", "2026-09-02"]
    rolled = stats.plan(date(2026, 8, 30), date(2026, 9, 2), today, first_day=date(2026, 9, 1),
                        rolled_through=date(2026, 11, 1))
    assert [b.period for b in rolled.buckets() if b.kind == stats.CUMULATIVE] == ["2026-09-02"]
    assert not any(b.kind == stats.MONTH for b in partly.buckets() + rolled.buckets())


def test_a_job_time_may_replay_the_past_but_not_run_ahead():
    now = datetime(2026, 11, 26, 10, tzinfo=timezone.utc)
    ledger.check_job_time(datetime(2020, 1, 1, tzinfo=timezone.utc), now)
    ledger.check_job_time(now.replace(minute=4), now)
    with pytest.raises(errors.TimeAhead):
        ledger.check_job_time(now.replace(minute=6), now)


def test_a_busy_database_tells_the_client_no_internals():
    busy = errors.Busy("the database is busy; nothing was written, please retry", cause="ThrottlingException")
    assert busy.details == {} and busy.cause == "ThrottlingException"


def test_a_store_creates_one_botocore_client_for_all_its_tables_and_counts_each_request_once(monkeypatch):
    from botocore.stub import Stubber

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # as in Lambda (pynamodb makes a new client without)
        monkeypatch.setenv(name, "test")

    from loyalty.store.ledger import Store

    settings = ApiSettings.from_environment({"MEMBERS_TABLE": "m", "LEDGER_TABLE": "l", "STATS_TABLE": "s",
                                             "CATALOG_TABLE": "c", "AWS_REGION": "us-east-1"})
    store = Store.from_settings(settings)
    clients = {id(model._get_connection().connection.client) for model in store.tables.models()}
    assert len(clients) == 1, "one client, created once (a cold start paid one per table touched)"
    seen: list[str] = []

    def hook(operation, params):
        seen.append(operation)

    store.on_request(hook)
    store.on_request(hook)  # the same hook again: still once per request
    with Stubber(store.tables.members._get_connection().connection.client) as stub:
        stub.add_response("get_item", {})  # the member (none): its model's request
        stub.add_response("get_item", {})  # the SUB# marker (none): another model's, through the same client
        assert store.get_member("x") is None and store.member_id_for_sub("s") is None
    assert seen == ["GetItem", "GetItem"]
