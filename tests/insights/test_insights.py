"""Each insight on a generated history, through its SQL on DuckDB, against figures computed here in Python."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from loyalty.clock import FixedClock
from loyalty.core.programs import Programs
from loyalty.domain.holdout import held_out
from loyalty.insights.api import InsightQuery
from loyalty.insights.definitions import INSIGHTS, CampaignFrame, Group, t_quantile, welch
from loyalty.insights.duckdb_engine import DuckDbEngine
from loyalty.insights.queries import Insights, QueryNotFound, UnknownCampaign
from loyalty_local.firehose import deliver
from tests.conftest import PROGRAM
from tests.insights.history import History, generated

POINT_VALUE = PROGRAM.point_value_minor
CAMPAIGN = "double-coffee"


class MemoryQueries:
    """The query store's interface, in memory."""

    def __init__(self) -> None:
        self.items = {}

    def put(self, query) -> None:
        self.items[query.query_id] = query

    def get(self, query_id):
        return self.items.get(query_id)


class Frames:
    """The campaigns' interface: frames for campaign_lift, documents for the backtest."""

    def __init__(self, *frames: CampaignFrame, documents: dict | None = None) -> None:
        self.frames = {frame.campaign_id: frame for frame in frames}
        self.documents = documents or {}

    def find(self, campaign_id, time_zone):
        return self.frames.get(campaign_id)

    def document(self, campaign_id):
        return self.documents.get(campaign_id)


def _insights(root, *frames: CampaignFrame) -> Insights:
    return Insights(MemoryQueries(), DuckDbEngine(root), Frames(*frames),
                    FixedClock(datetime(2027, 1, 5, tzinfo=timezone.utc)), Programs.fixed(PROGRAM, FixedClock(datetime(2027, 1, 5, tzinfo=timezone.utc))))


def _run(insights: Insights, insight: str, **params):
    request = InsightQuery.model_validate({"insight": insight, "params": params}).root
    query = insights.submit(request.insight, request.params)
    assert query.status == "succeeded", query.error
    assert insights.read(query.query_id) == query
    return query.result


@pytest.fixture(scope="module")
def history():
    return generated(seed=7)


@pytest.fixture(scope="module")
def store(history, tmp_path_factory):
    root = tmp_path_factory.mktemp("analytics")
    half = len(history.events) // 2  # two batches, as Firehose delivers them
    deliver(history.events[:half], root)
    deliver(history.events[half:], root)
    return root


def _month(day: date) -> int:
    return day.year * 12 + day.month - 1


def test_retention_cohorts_are_the_shares_of_each_enrolment_month_buying_in_each_month_since(history, store):
    start, end = date(2026, 2, 1), date(2026, 8, 31)
    answer = _run(_insights(store), "retention_cohorts", **{"from": "2026-02-01", "to": "2026-08-31"})
    cohorts = defaultdict(set)
    for member, joined in history.enrolled.items():
        if start <= joined <= end:
            cohorts[_month(joined)].add(member)
    bought = defaultdict(set)
    for member, day, *_ in history.purchases:
        if start <= day <= end:
            bought[_month(day)].add(member)
    assert [c["cohort"] for c in answer["cohorts"]] == [f"2026-{m % 12 + 1:02d}" for m in sorted(cohorts)]
    for cohort in answer["cohorts"]:
        index = int(cohort["cohort"][:4]) * 12 + int(cohort["cohort"][5:]) - 1
        members = cohorts[index]
        assert cohort["members"] == len(members)
        assert [m["months_since"] for m in cohort["months"]] == list(range(_month(end) - index + 1))
        for month in cohort["months"]:
            buyers = len(members & bought[index + month["months_since"]])
            assert month["buyers"] == buyers
            assert month["share"] == pytest.approx(buyers / len(members), abs=1e-6)
    assert any(m["buyers"] for c in answer["cohorts"] for m in c["months"][1:])


@pytest.mark.parametrize("within", [7, 30])
def test_repeat_purchase_is_the_share_of_buyers_who_bought_again_within_the_days(history, store, within):
    start, end = date(2026, 4, 1), date(2026, 6, 30)
    answer = _run(_insights(store), "repeat_purchase", **{"from": "2026-04-01", "to": "2026-06-30", "within_days": within})
    days = defaultdict(list)
    for member, day, *_ in history.purchases:
        if day >= start:
            days[member].append(day)
    buyers = repeaters = 0
    for bought in days.values():
        bought.sort()
        if bought[0] > end:
            continue
        buyers += 1
        repeaters += len(bought) > 1 and (bought[1] - bought[0]).days <= within
    assert (answer["buyers"], answer["repeat_buyers"]) == (buyers, repeaters)
    assert answer["repeat_share"] == pytest.approx(repeaters / buyers, abs=1e-6)
    assert 0 < repeaters < buyers


def test_redemption_counts_points_issued_redeemed_expired_breakage_and_the_median_days_to_a_first_redemption(history, store):
    start, end = date(2026, 3, 1), date(2026, 10, 31)
    answer = _run(_insights(store), "redemption", **{"from": "2026-03-01", "to": "2026-10-31"})
    issued = sum(points for _, day, _, points, _ in history.purchases if start <= day <= end)
    issued += sum(history.welcome[m] for m, joined in history.enrolled.items() if start <= joined <= end)
    issued += sum(points for _, day, points in history.birthdays + history.referrals if start <= day <= end)
    redeemed = sum(points for _, day, points in history.redemptions if start <= day <= end)
    expired = sum(points for day, points in history.expiries if start <= day <= end)
    expiring = sum(points for day, expires, points in history.issued_with_expiry if day <= end and start <= expires <= end)
    first = {}
    for member, day, _ in sorted(history.redemptions, key=lambda r: r[1]):
        first.setdefault(member, day)
    days = [(day - history.enrolled[member]).days for member, day in first.items() if start <= day <= end]
    assert answer["points_issued"] == issued and answer["points_redeemed"] == redeemed
    assert answer["points_expired"] == expired and answer["points_expiring"] == expiring
    assert answer["redemption_rate"] == pytest.approx(redeemed / issued, abs=1e-6)
    assert answer["breakage"] == (pytest.approx(expired / expiring, abs=1e-6) if expiring else None)
    assert answer["median_days_to_first_redemption"] == statistics.median(days)


def test_clv_is_revenue_and_points_cost_per_member_of_each_cohort_after_3_6_and_12_months_after_returns(history, store):
    end = date(2026, 12, 31)
    answer = _run(_insights(store), "clv", **{"from": "2026-01-01", "to": "2026-12-31"})
    cohorts = defaultdict(set)
    for member, joined in history.enrolled.items():
        cohorts[_month(joined)].add(member)
    assert len(answer["cohorts"]) == len(cohorts)
    for cohort in answer["cohorts"]:
        index = int(cohort["cohort"][:4]) * 12 + int(cohort["cohort"][5:]) - 1
        members = cohorts[index]
        assert cohort["members"] == len(members)
        for horizon in cohort["horizons"]:
            months = horizon["months"]
            if index + months - 1 > _month(end):
                assert horizon["revenue_per_member_minor"] is None  # not observed yet
                continue
            spent = [(amount, points) for member, day, amount, points, _ in history.purchases
                     if member in members and day <= end and _month(day) - index < months]
            spent += [(-amount, -points) for member, day, amount, points in history.returns  # in the return's month
                      if member in members and day <= end and _month(day) - index < months]
            assert horizon["revenue_per_member_minor"] == pytest.approx(sum(a for a, _ in spent) / len(members), abs=0.01)
            assert horizon["points_cost_per_member_minor"] == pytest.approx(
                sum(p for _, p in spent) * POINT_VALUE / len(members), abs=0.01)
    assert answer["cohorts"][0]["horizons"][2]["revenue_per_member_minor"] is not None  # January's 12 months are known
    assert sum(amount for _, day, amount, _ in history.returns if day <= end) > 0  # returns were there to take off


def test_liability_is_the_outstanding_points_at_each_month_end_with_birthdays_returns_and_erasures(history, store):
    answer = _run(_insights(store), "liability", **{"from": "2026-04-01", "to": "2026-09-30"})
    for month in answer["months"]:
        index = int(month["month"][:4]) * 12 + int(month["month"][5:]) - 1
        def within(day: date, index: int = index) -> bool:
            return _month(day) <= index

        outstanding = (sum(points for _, day, _, points, _ in history.purchases if within(day))
                       + sum(history.welcome[m] for m, joined in history.enrolled.items() if within(joined))
                       + sum(points for _, day, points in history.birthdays + history.referrals if within(day))
                       - sum(points for _, day, points in history.redemptions if within(day))
                       - sum(points for day, points in history.expiries if within(day))
                       - sum(points for _, day, _, points in history.returns if within(day))
                       - sum(points for _, day, points in history.forfeits if within(day)))
        assert month["outstanding_points"] == outstanding
        assert month["value_minor"] == outstanding * POINT_VALUE
    assert [m["month"] for m in answer["months"]] == [f"2026-{n:02d}" for n in range(4, 10)]
    september = date(2026, 9, 30)
    assert sum(p for _, day, _, p in history.returns if day <= september) > 0  # both were there to count
    assert sum(p for _, day, p in history.forfeits if day <= september) > 0
    assert sum(p for _, day, p in history.birthdays if day <= september) > 0
    assert sum(p for _, day, p in history.referrals if day <= september) > 0


def _campaign_history(seed: int, effect: float, members: int) -> History:
    """Members who each buy 2-7 times in September 2026, when the campaign ran: treated members spend `effect`
    more per purchase and get 20 campaign points a purchase."""
    rng = random.Random(seed)
    history = History()
    for n in range(members):
        member = f"m{n:05d}"
        history.enroll(member, date(2026, 1, 1) + timedelta(days=rng.randrange(200)))
        treated = not held_out(CAMPAIGN, member, 20)
        for _ in range(rng.randrange(2, 8)):
            amount = rng.randrange(500, 5000)
            history.purchase(member, date(2026, 9, 1) + timedelta(days=rng.randrange(30)),
                             int(amount * (1 + effect)) if treated else amount, CAMPAIGN if treated else None,
                             20 if treated else 0)
    return history


def _lift(effect: float, seed: int, tmp_path, members: int = 1500):
    history = _campaign_history(seed, effect, members)
    deliver(history.events, tmp_path)
    frame = CampaignFrame(CAMPAIGN, date(2026, 9, 1), date(2026, 9, 30), 20)
    answer = _run(_insights(tmp_path, frame), "campaign_lift",
                  **{"from": "2026-08-01", "to": "2026-10-31", "campaign_id": CAMPAIGN})
    return history, answer


def test_campaign_lift_finds_a_planted_20_percent_spend_effect_within_its_interval(tmp_path):
    history, answer = _lift(effect=0.2, seed=11, tmp_path=tmp_path)
    spend = defaultdict(int)
    for member, day, amount, *_ in history.purchases:
        if date(2026, 9, 1) <= day <= date(2026, 9, 30):
            spend[member] += amount
    groups = {True: [], False: []}
    for member in history.enrolled:
        groups[held_out(CAMPAIGN, member, 20)].append(spend[member])
    treated, control = groups[False], groups[True]
    assert answer["treated"]["members"] == len(treated) and answer["holdout"]["members"] == len(control)
    assert answer["treated"]["spend_per_member_minor"] == pytest.approx(statistics.mean(treated), abs=0.01)
    difference = statistics.mean(treated) - statistics.mean(control)
    a, b = statistics.variance(treated) / len(treated), statistics.variance(control) / len(control)
    df = (a + b) ** 2 / (a * a / (len(treated) - 1) + b * b / (len(control) - 1))
    margin = t_quantile(0.975, df) * (a + b) ** 0.5
    lift = answer["lift"]
    assert lift["spend_per_member_minor"] == pytest.approx(difference, abs=0.01)
    assert lift["ci95_minor"] == pytest.approx([difference - margin, difference + margin], abs=0.01)
    assert lift["ci95_minor"][0] > 0  # the effect is found
    planted = 0.2 * 2750 * 4.5  # what the campaign added per member, in expectation (20% of 4.5 purchases of 2,750)
    assert lift["ci95_minor"][0] <= planted <= lift["ci95_minor"][1]
    points = sum(p for _, day, _, _, p in history.purchases)
    assert answer["points_awarded"] == points and answer["points_cost_minor"] == points * POINT_VALUE
    assert lift["incremental_revenue_per_point_minor"] == pytest.approx(difference * len(treated) / points, rel=1e-3)


def test_campaign_lift_of_a_null_effect_has_an_interval_containing_0(tmp_path):
    _, answer = _lift(effect=0.0, seed=21, tmp_path=tmp_path)
    low, high = answer["lift"]["ci95_minor"]
    assert low < 0 < high


def test_welch_s_interval_covers_a_null_difference_about_95_times_in_100():
    """The interval itself, on many null samples (no store needed): its coverage is near 95%, neither much less
    (a t quantile or variance too small) nor much more (too wide)."""
    rng = random.Random(5)
    covered, trials = 0, 400
    for _ in range(trials):
        treated = [rng.choice([0, 0, rng.randrange(500, 20000)]) for _ in range(rng.randrange(20, 200))]
        control = [rng.choice([0, 0, rng.randrange(500, 20000)]) for _ in range(rng.randrange(10, 60))]
        group = lambda spends: Group(len(spends), 0, 0, sum(spends), float(sum(x * x for x in spends)), 0)  # noqa: E731
        interval = welch(group(treated), group(control))
        covered += interval["low"] < 0 < interval["high"]
    assert 0.92 <= covered / trials <= 0.98


def test_a_campaign_without_holdout_answers_holdout_null_and_no_lift(store):
    frame = CampaignFrame(CAMPAIGN, date(2026, 9, 1), None, 0)
    answer = _run(_insights(store, frame), "campaign_lift", **{"from": "2026-09-01", "to": "2026-09-30", "campaign_id": CAMPAIGN})
    assert answer["holdout"] is None and answer["lift"] is None
    assert answer["treated"]["members"] > 0


def test_an_unknown_campaign_is_a_bad_parameter_and_nothing_is_kept(store):
    insights = _insights(store)
    with pytest.raises(UnknownCampaign):
        insights.submit("campaign_lift", INSIGHTS["campaign_lift"].params.model_validate(
            {"from": "2026-01-01", "to": "2026-01-31", "campaign_id": "nope"}))
    assert insights.store.items == {}
    with pytest.raises(QueryNotFound):
        insights.read("q-" + "0" * 32)


@pytest.mark.parametrize("body", [
    {"insight": "nope", "params": {"from": "2026-01-01", "to": "2026-01-31"}},
    {"insight": "liability", "params": {"from": "2026-02-01", "to": "2026-01-31"}},
    {"insight": "liability", "params": {"from": "2026-01-01"}},
    {"insight": "liability", "params": {"from": "2020-01-01", "to": "2026-01-31"}},
    {"insight": "liability", "params": {"from": "2026-01-01", "to": "2026-01-31", "segment_id": "x"}},
    {"insight": "repeat_purchase", "params": {"from": "2026-01-01", "to": "2026-01-31", "within_days": 0}},
    {"insight": "campaign_lift", "params": {"from": "2026-01-01", "to": "2026-01-31", "campaign_id": "x'; DROP"}},
    {"insight": "campaign_lift", "params": {"from": "2026-01-01", "to": "2026-01-31"}},
    {"insight": "repeat_purchase", "params": {"from": "2999-12-01", "to": "9999-12-31"}},
    {"insight": "liability", "params": {"from": 0, "to": "2026-01-31"}},
])
def test_bad_parameters_are_refused_before_any_query(body):
    with pytest.raises(ValidationError):
        InsightQuery.model_validate(body)


@pytest.mark.parametrize(("df", "table"), [(5, 2.5706), (10, 2.2281), (30, 2.0423), (120, 1.9799)])
def test_the_t_quantile_agrees_with_the_tables(df, table):
    assert t_quantile(0.975, df) == pytest.approx(table, abs=2e-3)


def test_a_store_kept_from_before_returns_and_versions_were_published_still_answers(tmp_path):
    """Files written before `return_id`, `points_unrecovered`, `program_version` and the breakdown lines' version
    joined the schema sort first (older days): the engine reads every file by its own columns, the old ones' new
    fields null, and the insights count old and new rows alike."""
    import duckdb

    from loyalty.insights.schema import DETAIL_FIELDS

    old_fields = [(name, kind) for name, kind, _ in DETAIL_FIELDS
                  if name not in ("return_id", "points_unrecovered", "program_version", "breakdown")]
    old_fields.append(("breakdown", "STRUCT(source VARCHAR, campaign_id VARCHAR, points BIGINT)[]"))
    values = {"event_id": "'old-1'", "member_id": "'m00001'", "points": "120", "amount_minor": "12000",
              "at": "'2025-04-30T10:00:00Z'", "occurred_at": "'2025-04-30T10:00:00Z'",
              "breakdown": f"[{{'source': 'campaign', 'campaign_id': '{CAMPAIGN}', 'points': 20}}]"}
    detail = "struct_pack(" + ", ".join(f'"{name}" := {values.get(name, f"CAST(NULL AS {kind})")}'
                                        for name, kind in old_fields) + ")"
    folder = tmp_path / "events" / "day=2025-04-30"  # the first file DuckDB meets
    folder.mkdir(parents=True)
    connection = duckdb.connect()
    connection.execute(f"COPY (SELECT 'old-1' AS id, 'PointsEarned' AS detail_type, 'loyalty' AS source, "
                       f"'2025-04-30T10:00:00Z' AS time, {detail} AS detail) TO '{folder / 'part-old.parquet'}' "
                       "(FORMAT parquet)")
    connection.close()
    history = History()
    history.enroll("m00001", date(2025, 5, 1))
    history.purchase("m00001", date(2025, 6, 2), 3000, CAMPAIGN, 10)
    history.return_(history.events[-1]["detail"]["member_id"], date(2025, 6, 3),
                    history.events[-1]["detail"]["transaction_id"], 3000, 40)
    deliver(history.events, tmp_path)
    liability = _run(_insights(tmp_path), "liability", **{"from": "2025-06-01", "to": "2025-06-30"})
    assert liability["months"] == [{"month": "2025-06", "outstanding_points": 120 + 40 - 40,
                                    "value_minor": 120 * POINT_VALUE}]
    lift = _run(_insights(tmp_path, CampaignFrame(CAMPAIGN, date(2025, 4, 1), date(2025, 6, 30), 0)), "campaign_lift",
                **{"from": "2025-04-01", "to": "2025-06-30", "campaign_id": CAMPAIGN})
    assert lift["points_awarded"] == 20 + 10
    read = DuckDbEngine(tmp_path).start(
        "SELECT detail_type, detail.return_id IS NOT NULL AS returned, line.program_version AS version "
        "FROM events LEFT JOIN UNNEST(detail.breakdown) AS line (source, campaign_id, points, program_version) ON true "
        "WHERE detail_type IN ('PointsEarned', 'PurchaseReturned') ORDER BY day, version")
    assert read.status == "succeeded", read.error
    assert [(r["detail_type"], r["returned"], r["version"]) for r in read.rows] == [
        ("PointsEarned", False, None), ("PointsEarned", False, 1), ("PointsEarned", False, 1),
        ("PurchaseReturned", True, None)]  # the old file's line has no version; the new ones name theirs
