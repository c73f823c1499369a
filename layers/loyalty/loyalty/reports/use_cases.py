"""The reports' use case: the program's figures over a range of days, from the counters alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from loyalty.clock import Clock
from loyalty.domain import calendar, errors, ledger, stats
from loyalty.core.programs import Programs
from loyalty.program import Program
from loyalty.reports.store import ReportStore

MAX_REPORT_DAYS = stats.MAX_REPORT_DAYS


@dataclass
class Reports:
    reports: ReportStore
    clock: Clock
    programs: Programs  # the program's versions, cached

    @property
    def program(self) -> Program:
        """The program version in force now (`programs` caches the versions at most 60 s)."""
        return self.programs.current()

    def program_report(self, start: date, end: date) -> stats.ProgramReport:
        """KPIs for [start, end] (days in the program's time zone) from the counters: no member or ledger read."""
        if end < start:
            raise errors.InvalidRange("`to` is before `from`")
        if (end - start).days + 1 > MAX_REPORT_DAYS:
            raise errors.InvalidRange(f"a report covers at most {MAX_REPORT_DAYS} days")
        totals, first_day, rolled_through = self.reports.report_basis()
        today = calendar.local_day(self.clock.now(), self.program.time_zone)
        report_plan = stats.plan(start, end, today, first_day, self.program.earn.pending_days, rolled_through)
        counters = self.reports.counters(report_plan.buckets())
        return stats.build_report(report_plan, counters, totals, [tier.name for tier in self.program.tiers])

    def roll_up_counters(self, as_of: datetime, most: int = stats.ROLLUP_DAYS_PER_RUN) -> list[date]:
        """Add up the settled days not yet rolled up (at most `most`), each into its cumulative item: returns them.

        Idempotent and resumable: each day's item and the marker move together, from where the marker is, so a
        run that stops part way (or runs twice, or beside another) is taken up by the next from its last day.
        """
        ledger.check_job_time(as_of, self.clock.now())
        _, first_day, rolled_through = self.reports.report_basis()
        done = []
        previous = self.reports.cumulative(rolled_through) if rolled_through else None
        today = calendar.local_day(as_of, self.program.time_zone)
        for day in stats.roll_up_days(rolled_through, first_day, today, most):
            if rolled_through is not None and previous is None:
                raise errors.StoreRejected(f"the roll-up's marker says {rolled_through}, whose figures are missing",
                                           operation="roll_up_counters", cause=None, reason=None)
            figures = stats.rolled(previous or {}, self.reports.day_figures(day))
            if not self.reports.write_cumulative(day, figures, rolled_through):
                break  # another run moved on meanwhile: it goes on from there
            done.append(day)
            previous, rolled_through = figures, day
        return done
