"""The program's versions as a warm function knows them: the one collaborator every use case asks for its rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from loyalty.clock import Clock
from loyalty.core.cache import Refreshed
from loyalty.program import Program, ProgramHistory, ProgramVersion

PROGRAM_CACHE_SECONDS = 60  # API.md: a new version reaches every function and job within 60 s of effective_from


class Programs:
    """`load()` (one Query of the versions, seeded with the layer's file when none is stored) kept for at most
    `ttl_seconds` of `clock` time: a version published now is known everywhere within `ttl_seconds`, and since the
    history holds versions that start later, each is in force from its `effective_from` to the second once known.
    The business clock times the cache, so a test (or the local runtime's clock) that moves time refreshes it."""

    def __init__(self, load: Callable[[], ProgramHistory], clock: Clock,
                 ttl_seconds: float = PROGRAM_CACHE_SECONDS) -> None:
        self.clock = clock
        self._load, self._ttl = load, ttl_seconds
        self._cached = Refreshed(load, ttl_seconds, timer=self._timer)

    def _timer(self) -> float:
        return self.clock.now().timestamp()

    @classmethod
    def fixed(cls, program: Program, clock: Clock) -> Programs:
        """One version and no store: a tool, a benchmark or a test that does not publish."""
        history = ProgramHistory.seeded(program)
        return cls(lambda: history, clock)

    def history(self) -> ProgramHistory:
        return self._cached.get()

    def in_force(self) -> ProgramVersion:
        return self.history().at(self.clock.now())

    def current(self) -> Program:
        """The rules in force now."""
        return self.in_force().program

    def newest(self) -> Program:
        """The newest version's rules (the highest number, in force now or from a later effective_from). A version
        never removes a tier, so its ladder names every tier any version has or will have."""
        return self.history().newest.program

    def newest_naming(self, tiers: Iterable[str]) -> Program:
        """`newest()`, read again once when its ladder lacks one of `tiers`: a tier published less than a cache's
        lifetime ago is known at once to the back office that just published it, and only a refused name costs
        the extra Query."""
        program = self.newest()
        known = {tier.name for tier in program.tiers}
        if all(name in known for name in tiers):
            return program
        self._cached = Refreshed(self._load, self._ttl, timer=self._timer)  # stale now: the next get() loads
        return self.newest()
