"""The insights: each one's parameters, its SQL file (in `sql/`, Athena's dialect) and how its rows become the
answer. The SQL does the scanning and grouping; what is left here is small arithmetic on a few rows (shares,
running sums, a median from a histogram, Welch's interval), the same whichever engine ran the query."""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loyalty.api.fields import DateString

SQL_FOLDER = Path(__file__).parent / "sql"
MAX_RANGE_DAYS = 1096  # three years: the widest range an insight reads
CAMPAIGN_ID_PATTERN = r"^[a-z0-9-]{1,64}$"
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)  # what a range may name (the arithmetic stays in dates)


class Params(BaseModel):
    """Every insight's range: `from` and `to`, days of the program's time zone, both included."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    from_: DateString = Field(alias="from", ge=FIRST_DAY, le=LAST_DAY, description="First day (the program's time zone), included.")
    to: DateString = Field(ge=FIRST_DAY, le=LAST_DAY, description="Last day (the program's time zone), included.")

    @model_validator(mode="after")
    def _a_range(self) -> Params:
        if self.to < self.from_:
            raise ValueError("to must not be before from")
        if (self.to - self.from_).days >= MAX_RANGE_DAYS:
            raise ValueError(f"the range may span at most {MAX_RANGE_DAYS} days")
        return self


class RetentionParams(Params):
    pass


class RepeatParams(Params):
    within_days: int = Field(default=30, ge=1, le=365, strict=True,
                             description="A buyer repeats by buying again within this many days of their first purchase.")


class RedemptionParams(Params):
    pass


class ClvParams(Params):
    pass


class LiabilityParams(Params):
    pass


class LiftParams(Params):
    campaign_id: str = Field(pattern=CAMPAIGN_ID_PATTERN, description="The campaign.")


MAX_BACKTEST_DAYS = 366


class BacktestParams(Params):
    """A backtest's range (the campaign is the route's)."""

    @model_validator(mode="after")
    def _at_most_a_year(self) -> BacktestParams:
        if (self.to - self.from_).days >= MAX_BACKTEST_DAYS:
            raise ValueError(f"a backtest spans at most {MAX_BACKTEST_DAYS} days")
        return self


@dataclass(frozen=True)
class CampaignFrame:
    """What the lift needs of a campaign: its first and last days (the program's time zone's; None: open) and its
    holdout percent (0: none)."""

    campaign_id: str
    starts_on: date | None
    ends_on: date | None
    holdout_percent: int


@dataclass(frozen=True)
class Context:
    point_value_minor: int
    campaign: CampaignFrame | None = None  # campaign_lift's
    program: Any = None  # the backtest's: the program's earn rule, time zone and tiers (loyalty.program.Program)
    campaign_document: dict[str, Any] | None = None  # the backtest's campaign


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.:-]*", value):
        return f"'{value}'"
    raise ValueError(f"not a value an insight's SQL takes: {value!r}")


def render(name: str, values: dict[str, Any]) -> str:
    """The insight's SQL with each `:name` replaced by its literal (values are validated; nothing else is
    inlined)."""
    sql = (SQL_FOLDER / f"{name}.sql").read_text()

    def substitute(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"{name}.sql needs :{key}")
        return _literal(values[key])

    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return re.sub(r"(?<![\w:']):([a-z_]+)\b", substitute, body)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _per(total: float, count: int) -> float | None:
    return round(total / count, 2) if count else None


def _last_day(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


# ------------------------------------------------------------------ each insight


def retention_values(params: RetentionParams, _: Context) -> dict[str, Any]:
    return {"from_day": params.from_, "to_day": params.to}


def retention_shape(rows: list[dict], params: RetentionParams, _: Context) -> dict[str, Any]:
    members = {int(r["cohort"]): int(r["members"]) for r in rows if int(r["months_since"]) == -1}
    buyers = {(int(r["cohort"]), int(r["months_since"])): int(r["members"]) for r in rows if int(r["months_since"]) >= 0}
    last = _month_index(params.to)
    cohorts = []
    for cohort in sorted(members):
        size = members[cohort]
        months = [{"months_since": k, "buyers": buyers.get((cohort, k), 0), "share": _share(buyers.get((cohort, k), 0), size)}
                  for k in range(last - cohort + 1)]
        cohorts.append({"cohort": _month_label(cohort), "members": size, "months": months})
    return {"cohorts": cohorts}


def repeat_values(params: RepeatParams, _: Context) -> dict[str, Any]:
    return {"from_day": params.from_, "to_day": params.to, "until_day": params.to + timedelta(days=params.within_days),
            "within_days": params.within_days}


def repeat_shape(rows: list[dict], params: RepeatParams, _: Context) -> dict[str, Any]:
    buyers = int(rows[0]["buyers"] or 0) if rows else 0
    repeat = int(rows[0]["repeat_buyers"] or 0) if rows else 0
    return {"within_days": params.within_days, "buyers": buyers, "repeat_buyers": repeat, "repeat_share": _share(repeat, buyers)}


def redemption_values(params: RedemptionParams, _: Context) -> dict[str, Any]:
    return {"from_day": params.from_, "to_day": params.to}


def _median(histogram: dict[int, int]) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]  # the middle one, or the two middle ones
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        count = histogram[value]
        found += [value for position in wanted if seen <= position < seen + count]
        seen += count
    return (found[0] + found[1]) / 2


def redemption_shape(rows: list[dict], _: RedemptionParams, context: Context) -> dict[str, Any]:
    figures = next((r for r in rows if r["kind"] == "figures"), {})
    issued, redeemed = int(figures.get("issued") or 0), int(figures.get("redeemed") or 0)
    expired, expiring = int(figures.get("expired") or 0), int(figures.get("expiring") or 0)
    histogram = {int(r["issued"]): int(r["redeemed"]) for r in rows if r["kind"] == "days_to_first_redemption"}
    return {"points_issued": issued, "points_redeemed": redeemed, "points_expired": expired,
            "redemption_rate": _share(redeemed, issued), "points_expiring": expiring,
            "breakage": _share(expired, expiring), "median_days_to_first_redemption": _median(histogram),
            "point_value_minor": context.point_value_minor}


def clv_values(params: ClvParams, _: Context) -> dict[str, Any]:
    return {"from_day": params.from_, "to_day": params.to}


HORIZONS = (3, 6, 12)


def clv_shape(rows: list[dict], params: ClvParams, context: Context) -> dict[str, Any]:
    # a horizon is known once its last month is over by `to`
    observed = _month_index(params.to) - (0 if _last_day(params.to) else 1)
    cohorts = []
    for row in sorted(rows, key=lambda r: int(r["cohort"])):
        cohort, members = int(row["cohort"]), int(row["members"])
        horizons = []
        for months in HORIZONS:
            known = cohort + months - 1 <= observed
            horizons.append({
                "months": months,
                "revenue_per_member_minor": _per(int(row[f"revenue_{months}"] or 0), members) if known else None,
                "points_cost_per_member_minor": (_per(int(row[f"points_{months}"] or 0) * context.point_value_minor, members)
                                                 if known else None),
            })
        cohorts.append({"cohort": _month_label(cohort), "members": members, "horizons": horizons})
    return {"cohorts": cohorts, "point_value_minor": context.point_value_minor}


def liability_values(params: LiabilityParams, _: Context) -> dict[str, Any]:
    return {"to_day": params.to}


def liability_shape(rows: list[dict], params: LiabilityParams, context: Context) -> dict[str, Any]:
    net = {str(r["month"]): int(r["net_points"] or 0) for r in rows}
    months = []
    outstanding = sum(points for month, points in net.items() if month < params.from_.isoformat()[:7])
    for index in range(_month_index(params.from_), _month_index(params.to) + 1):
        label = _month_label(index)
        outstanding += net.get(label, 0)
        months.append({"month": label, "outstanding_points": outstanding,
                       "value_minor": outstanding * context.point_value_minor})
    return {"months": months, "point_value_minor": context.point_value_minor}


def lift_window(params: LiftParams, campaign: CampaignFrame) -> tuple[date, date]:
    """The range, within the campaign's dates where it has them."""
    start = max(params.from_, campaign.starts_on) if campaign.starts_on else params.from_
    end = min(params.to, campaign.ends_on) if campaign.ends_on else params.to
    return start, end


def lift_values(params: LiftParams, context: Context) -> dict[str, Any]:
    assert context.campaign is not None
    start, end = lift_window(params, context.campaign)
    return {"from_day": start, "to_day": end, "campaign_id": params.campaign_id,
            "holdout_percent": context.campaign.holdout_percent}


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile by the Cornish-Fisher expansion around the normal one (Abramowitz and Stegun 26.7.5):
    within 0.001 of the tables from 5 degrees of freedom up, exact as df grows."""
    z = NormalDist().inv_cdf(p)
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(term / df ** (power + 1) for power, term in enumerate(terms))


@dataclass(frozen=True)
class Group:
    members: int
    buyers: int
    purchases: int
    spend: int
    spend_squares: float
    campaign_points: int

    @property
    def mean(self) -> float:
        return self.spend / self.members

    @property
    def variance(self) -> float:
        """The sample variance of spend per member (every member counts, a non-buyer with 0)."""
        n = self.members
        return max(0.0, (self.spend_squares - self.spend * self.spend / n) / (n - 1))

    def view(self) -> dict[str, Any]:
        return {"members": self.members, "buyers": self.buyers,
                "purchases_per_member": _per(self.purchases, self.members),
                "spend_per_member_minor": _per(self.spend, self.members)}


def welch(treated: Group, control: Group, confidence: float = 0.95) -> dict[str, float]:
    """The difference of mean spend per member (treated - held out) with Welch's interval."""
    a, b = treated.variance / treated.members, control.variance / control.members
    difference = treated.mean - control.mean
    se = math.sqrt(a + b)
    if se == 0:
        return {"difference": difference, "low": difference, "high": difference, "df": math.inf}
    df = (a + b) ** 2 / (a * a / (treated.members - 1) + b * b / (control.members - 1))
    margin = t_quantile(0.5 + confidence / 2, df) * se
    return {"difference": difference, "low": difference - margin, "high": difference + margin, "df": df}


def _group(row: dict | None) -> Group | None:
    if row is None or not int(row["members"] or 0):
        return None
    return Group(int(row["members"]), int(row["buyers"] or 0), int(row["purchases"] or 0), int(row["spend"] or 0),
                 float(row["spend_squares"] or 0.0), int(row["campaign_points"] or 0))


def lift_shape(rows: list[dict], params: LiftParams, context: Context) -> dict[str, Any]:
    assert context.campaign is not None
    start, end = lift_window(params, context.campaign)
    treated = _group(next((r for r in rows if not r["held_out"]), None))
    control = _group(next((r for r in rows if r["held_out"]), None)) if context.campaign.holdout_percent else None
    points = (treated.campaign_points if treated else 0) + (control.campaign_points if control else 0)
    answer: dict[str, Any] = {
        "campaign_id": params.campaign_id, "from": start.isoformat(), "to": end.isoformat(),
        "holdout_percent": context.campaign.holdout_percent,
        "treated": treated.view() if treated else None, "holdout": control.view() if control else None,
        "points_awarded": points, "points_cost_minor": points * context.point_value_minor, "lift": None,
    }
    if context.campaign.holdout_percent and treated and control and treated.members > 1 and control.members > 1:
        interval = welch(treated, control)
        incremental = interval["difference"] * treated.members
        answer["lift"] = {
            "spend_per_member_minor": round(interval["difference"], 2),
            "ci95_minor": [round(interval["low"], 2), round(interval["high"], 2)],
            "method": "Welch's t interval on spend per member (non-buyers count as 0)",
            "degrees_of_freedom": round(interval["df"], 1) if math.isfinite(interval["df"]) else None,
            "incremental_revenue_minor": round(incremental, 2),
            "incremental_revenue_per_point_minor": round(incremental / points, 4) if points else None,
        }
    return answer


def backtest_values(params: BacktestParams, _: Context) -> dict[str, Any]:
    return {"from_day": params.from_, "to_day": params.to}


def backtest_shape(rows: list[dict], params: BacktestParams, context: Context) -> dict[str, Any]:
    from loyalty.insights.backtest import replay

    return replay(rows, context.campaign_document or {}, context.program, params.from_, params.to)


@dataclass(frozen=True)
class Insight:
    name: str
    params: type[Params]
    values: Any  # (params, context) -> the SQL's values
    shape: Any  # (rows, params, context) -> the answer


INSIGHTS: dict[str, Insight] = {insight.name: insight for insight in (
    Insight("retention_cohorts", RetentionParams, retention_values, retention_shape),
    Insight("repeat_purchase", RepeatParams, repeat_values, repeat_shape),
    Insight("redemption", RedemptionParams, redemption_values, redemption_shape),
    Insight("clv", ClvParams, clv_values, clv_shape),
    Insight("liability", LiabilityParams, liability_values, liability_shape),
    Insight("campaign_lift", LiftParams, lift_values, lift_shape),
    Insight("backtest", BacktestParams, backtest_values, backtest_shape),  # POST /v1/campaigns/{id}/backtest
)}
InsightName = Literal["retention_cohorts", "repeat_purchase", "redemption", "clv", "liability", "campaign_lift"]
