"""The program's versions as plain values: which version is in force when, what a purchase earns under, what may
follow what, and the cache every function asks (refreshed by the business clock, at most every 60 s)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from loyalty.clock import FixedClock
from loyalty.core.programs import Programs
from loyalty.program import SEED_EFFECTIVE_FROM, Program, ProgramHistory, ProgramVersion, successor_errors
from loyalty.programs.use_cases import version_errors
from tests.conftest import PROGRAM

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)


def changed(program: Program = PROGRAM, **earn) -> Program:
    return program.model_copy(update={"earn": program.earn.model_copy(update=earn)})


def version(number: int, starts: datetime, program: Program = PROGRAM) -> ProgramVersion:
    return ProgramVersion(number, starts, program, starts, "admin-1", f"v{number}")


def test_before_anything_is_published_the_file_is_version_1_in_force_from_the_start():
    history = ProgramHistory.seeded(PROGRAM)
    first = history.at(datetime(2001, 1, 1, tzinfo=timezone.utc))
    assert (first.version, first.program, first.effective_from, first.published_by) == (1, PROGRAM, SEED_EFFECTIVE_FROM, "seed")
    assert history.newest is first


def test_the_version_in_force_is_the_last_started_and_times_before_the_first_take_the_first():
    v1, v2, v3 = version(1, T0, changed(points_per_unit=1)), version(2, T0 + timedelta(days=3), changed(points_per_unit=2)), \
        version(3, T0 + timedelta(days=7), changed(points_per_unit=3))
    history = ProgramHistory((v3, v1, v2))  # in any order
    assert history.at(T0 - timedelta(days=400)) is v1  # clamped to the earliest
    assert history.at(T0) is v1
    assert history.at(T0 + timedelta(days=3) - timedelta(microseconds=1)) is v1
    assert history.at(T0 + timedelta(days=3)) is v2  # from effective_from exactly
    assert history.at(T0 + timedelta(days=30)) is v3
    assert history.newest is v3


def test_two_versions_starting_together_the_higher_number_wins():
    v2, v3 = version(2, T0, changed(points_per_unit=2)), version(3, T0, changed(points_per_unit=5))
    history = ProgramHistory((version(1, SEED_EFFECTIVE_FROM), v3, v2))
    assert history.at(T0) is v3


def test_a_purchase_keeps_its_version_s_multipliers_under_today_s_ladder():
    old = PROGRAM
    tiers = [tier.model_copy(update={"earn_multiplier": Decimal(3)}) if tier.name == "Gold" else tier for tier in old.tiers]
    diamond = old.tiers[-1].model_copy(update={"name": "Diamond", "min_qualifying_points": 9000, "earn_multiplier": Decimal(4)})
    new = old.model_copy(update={"tiers": [*[t.model_copy(update={"min_qualifying_points": t.min_qualifying_points // 2})
                                             for t in tiers], diamond]})
    history = ProgramHistory((version(1, SEED_EFFECTIVE_FROM, old), version(2, T0, new)))
    chosen, rules = history.for_purchase(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert chosen.version == 1
    assert [t.name for t in rules.tiers] == ["Bronze", "Silver", "Gold", "Platinum", "Diamond"]
    assert [t.min_qualifying_points for t in rules.tiers] == [0, 250, 750, 2000, 9000]  # today's thresholds
    assert [t.earn_multiplier for t in rules.tiers] == [Decimal(1), Decimal("1.25"), Decimal("1.5"), Decimal(2), Decimal(4)]
    assert rules.earn == old.earn
    chosen, rules = history.for_purchase(T0, T0)
    assert chosen.version == 2 and rules == new
    # The version each tier's multiplier comes from (a breakdown's tier line): the purchase's, Diamond's today's.
    assert history.multiplier_versions(T0 - timedelta(days=1), T0 + timedelta(days=1)) == {
        "Bronze": 1, "Silver": 1, "Gold": 1, "Platinum": 1, "Diamond": 2}
    assert set(history.multiplier_versions(T0, T0).values()) == {2}


@pytest.mark.parametrize(("change", "field"), [
    ({"currency": "USD"}, "currency"),
    ({"time_zone": "Europe/Paris"}, "time_zone"),
    ({"tiers": PROGRAM.tiers[:-1]}, "tiers"),
])
def test_a_migration_is_not_a_version(change, field):
    assert [problem[0] for problem in successor_errors(PROGRAM, PROGRAM.model_copy(update=change))] == [field]


def test_renaming_a_tier_removes_one():
    renamed = [PROGRAM.tiers[0].model_copy(update={"name": "Copper"}), *PROGRAM.tiers[1:]]
    problems = successor_errors(PROGRAM, PROGRAM.model_copy(update={"tiers": renamed}))
    assert problems == [("tiers", "may not remove a tier (missing: Bronze); members may hold it")]


def test_adding_a_tier_and_changing_rates_is_a_version():
    diamond = PROGRAM.tiers[-1].model_copy(update={"name": "Diamond", "min_qualifying_points": 9000})
    assert successor_errors(PROGRAM, changed(points_per_unit=3).model_copy(update={"tiers": [*PROGRAM.tiers, diamond]})) == []


def test_effective_from_is_now_or_later_and_not_before_the_newest():
    history = ProgramHistory((version(1, SEED_EFFECTIVE_FROM), version(2, T0 + timedelta(days=10))))
    now = T0
    assert version_errors(history, PROGRAM, now - timedelta(seconds=1), now)[0]["field"] == "effective_from"
    assert version_errors(history, PROGRAM, now + timedelta(days=9), now)[0]["field"] == "effective_from"
    assert version_errors(history, PROGRAM, now + timedelta(days=10), now) == []
    everything = version_errors(history, PROGRAM.model_copy(update={"currency": "USD", "time_zone": "Asia/Tokyo"}),
                                now - timedelta(days=1), now)
    assert [problem["field"] for problem in everything] == ["currency", "time_zone", "effective_from"]


def test_the_cache_reloads_only_when_the_business_clock_has_moved_past_its_time_to_live():
    clock, loads = FixedClock(T0), []
    histories = [ProgramHistory.seeded(PROGRAM),
                 ProgramHistory((version(1, SEED_EFFECTIVE_FROM), version(2, T0 + timedelta(seconds=30), changed(points_per_unit=2))))]

    def load() -> ProgramHistory:
        loads.append(clock.now())
        return histories[min(len(loads) - 1, 1)]

    programs = Programs(load, clock, ttl_seconds=60)
    assert programs.in_force().version == 1 and loads == [T0]
    clock.advance(timedelta(seconds=60))  # 60 s old: still fresh
    assert programs.in_force().version == 1 and len(loads) == 1
    clock.advance(timedelta(seconds=1))  # older than 60 s: one read, which knows version 2
    assert programs.in_force().version == 2 and programs.current().earn.points_per_unit == 2
    assert len(loads) == 2
    assert programs.history().at(T0).version == 1  # the past keeps its version


def test_a_fixed_program_never_reads():
    programs = Programs.fixed(PROGRAM, FixedClock(T0))
    assert programs.current() is PROGRAM and programs.in_force().version == 1


def test_a_clock_moved_back_reloads_rather_than_trusting_a_read_from_the_future():
    clock, loads = FixedClock(T0), []
    programs = Programs(lambda: loads.append(clock.now()) or ProgramHistory.seeded(PROGRAM), clock, ttl_seconds=60)
    programs.history()
    clock.at = T0 - timedelta(seconds=1)  # a test's business clock set earlier: what was read "later" is not kept
    programs.history()
    assert loads == [T0, T0 - timedelta(seconds=1)]


def test_the_back_office_names_tiers_of_the_newest_version_and_reads_again_once_for_a_name_it_lacks():
    clock, loads = FixedClock(T0), []
    diamond = PROGRAM.tiers[-1].model_copy(update={"name": "Diamond", "min_qualifying_points": 9000})
    stored = [ProgramHistory.seeded(PROGRAM)]
    programs = Programs(lambda: loads.append(clock.now()) or stored[0], clock, ttl_seconds=60)
    assert programs.newest_naming(["Gold"]) == PROGRAM and len(loads) == 1
    # Diamond is published (from next week): the cache does not know it yet, a name it lacks reads again, once.
    future = PROGRAM.model_copy(update={"tiers": [*PROGRAM.tiers, diamond]})
    stored[0] = ProgramHistory((*stored[0].versions, version(2, T0 + timedelta(days=7), future)))
    assert programs.newest_naming(["Gold"]) == PROGRAM and len(loads) == 1  # a known name: the cache
    assert programs.newest_naming(["Diamond"]) == future and len(loads) == 2  # the newest, not yet in force
    assert programs.current() == PROGRAM
    assert programs.newest_naming(["Obsidian"]) == future and len(loads) == 3  # unknown still: the caller refuses it
    assert programs.newest_naming(["Diamond", "Gold"]) == future and len(loads) == 3
