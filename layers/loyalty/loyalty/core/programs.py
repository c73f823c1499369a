"""The program's versions as a warm function knows them: the one collaborator every use case asks for its rules."""

from __future__ import annotations

from collections.abc import Callable

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
        self._cached = Refreshed(load, ttl_seconds, timer=lambda: clock.now().timestamp())

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
