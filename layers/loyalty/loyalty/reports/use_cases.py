"""The reports' use case: the program's figures over a range of days, from the counters alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from loyalty.clock import Clock
from loyalty.domain import calendar, errors, stats
from loyalty.program import Program
from loyalty.reports.store import ReportStore

MAX_REPORT_DAYS = stats.MAX_REPORT_DAYS


@dataclass
class Reports:
    reports: ReportStore
    clock: Clock
    program: Program

    def program_report(self, start: date, end: date) -> stats.ProgramReport:
        """KPIs for [start, end] (days in the program's time zone) from the counters: no member or ledger read."""
        if end < start:
            raise errors.InvalidRange("`to` is before `from`")
        if (end - start).days + 1 > MAX_REPORT_DAYS:
            raise errors.InvalidRange(f"a report covers at most {MAX_REPORT_DAYS} days")
        totals, first_day = self.reports.totals()
        today = calendar.local_day(self.clock.now(), self.program.time_zone)
        report_plan = stats.plan(start, end, today, first_day, self.program.earn.pending_days)
        counters = self.reports.counters(report_plan.buckets())
        return stats.build_report(report_plan, counters, totals, [tier.name for tier in self.program.tiers])
