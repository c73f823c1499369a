"""The program's versions: list them, publish one.

A publish reads the versions (one consistent Query), checks the new document against the newest (no tier removed,
the same time zone and currency, not starting in the past nor before the newest starts) and writes it under the next
number, conditionally: a lost race reads again and takes the number after. Before anything is published the store
holds nothing and every function runs the layer's program file as version 1; the first publish writes that seed
as version 1 (conditionally, so two first publishes write it once) and itself as version 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from loyalty.clock import Clock
from loyalty.core.retry import RetryPolicy
from loyalty.domain.access import Caller
from loyalty.domain.errors import DomainError
from loyalty.program import Program, ProgramHistory, ProgramVersion, successor_errors
from loyalty.programs.store import ProgramVersionStore, VersionTaken


class InvalidProgramVersion(DomainError):
    """The new version may not follow the newest; `details.errors` lists every `{field, message}`. Nothing is written."""

    status, code = 422, "VALIDATION_ERROR"


def version_errors(history: ProgramHistory, proposed: Program, effective_from: datetime, now: datetime) -> list[dict[str, str]]:
    """Every reason `proposed`, starting at `effective_from`, may not be published `now` after `history`."""
    newest = history.newest
    problems = [{"field": name, "message": message} for name, message in successor_errors(newest.program, proposed)]
    if effective_from < now:
        problems.append({"field": "effective_from", "message": f"must be now or later, not before {now.isoformat()}"})
    elif effective_from < newest.effective_from:
        problems.append({"field": "effective_from", "message": f"must not be before version {newest.version}'s "
                                                               f"effective_from ({newest.effective_from.isoformat()})"})
    return problems


@dataclass
class ProgramVersions:
    store: ProgramVersionStore
    clock: Clock
    seed: Program  # the layer's program file: version 1 until something is published
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def history(self) -> ProgramHistory:
        return self.store.history(self.seed, consistent=True)

    def newest_first(self) -> list[ProgramVersion]:
        return sorted(self.history().versions, key=lambda version: version.version, reverse=True)

    def publish(self, caller: Caller, program: Program, effective_from: datetime | None, note: str | None) -> ProgramVersion:
        """Publish `program` from `effective_from` (None: now), by the caller: the new version."""

        def attempt() -> ProgramVersion:
            stored = self.store.versions(consistent=True)
            now = self.clock.now()  # after the read: a version another publish stored meanwhile started before it
            starts = effective_from or now
            history = ProgramHistory(tuple(stored)) if stored else ProgramHistory.seeded(self.seed)
            problems = version_errors(history, program, starts, now)
            if problems:
                raise InvalidProgramVersion(f"this version may not be published: {problems[0]['field']}: "
                                            f"{problems[0]['message']}", errors=problems)
            if not stored:
                try:
                    self.store.add(history.newest)
                except VersionTaken:
                    pass  # another first publish wrote the seed: the same document
            version = ProgramVersion(history.newest.version + 1, starts, program, now, caller.actor, note)
            self.store.add(version)
            return version

        return self.retry.run(attempt, exhausted="other versions are being published; nothing was written, please retry")
