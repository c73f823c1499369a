"""The program versions' request and response bodies: the program document (loyalty.program) plus its version's
dates and audit fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field

from loyalty.api.fields import Text, Timestamp, View
from loyalty.campaigns.api import ProgramView
from loyalty.program import Program, ProgramVersion

Note = Annotated[Text, Field(min_length=1, max_length=500)]


class PublishVersion(Program):
    """A new version: the whole program document (what `GET /v1/program` answers; its `version`, `effective_from`,
    `campaigns` and other unknown fields are ignored), from when it applies, and why."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True, defer_build=True)

    effective_from: Timestamp | None = Field(
        default=None, description="When it comes into force: now or later, not before the newest version's (absent: now).")
    note: Note | None = Field(default=None, description="Why: shown in the versions' list.")

    def program(self) -> Program:
        return Program.model_validate(self.model_dump(exclude={"effective_from", "note"}))


class ProgramVersionView(Program):
    """A published version: its number, when it is in force from, who published it, when, and why."""

    model_config = ConfigDict(defer_build=True)

    version: int = Field(description="1 is the program as first deployed; each publish takes the next number.")
    effective_from: datetime = Field(description="In force from then until the next version's effective_from.")
    published_at: datetime
    published_by: str = Field(description="The publishing token's sub (else its client_id); `seed` for version 1.")
    note: str | None = None

    @classmethod
    def of(cls, version: ProgramVersion) -> ProgramVersionView:
        fields = {name: getattr(version.program, name) for name in Program.model_fields}
        return cls.model_construct(**fields, version=version.version, effective_from=version.effective_from,
                                   published_at=version.published_at, published_by=version.published_by, note=version.note)


class ProgramVersionPage(View):
    """The versions, newest first."""

    items: list[ProgramVersionView]
    next_cursor: str | None = Field(default=None, description="Always null: every version is on one page.")


class ProgramInForceView(ProgramView):
    """`GET /v1/program`: the version in force now (every field a version carries, so that a client can publish the
    next by changing what it read), its number and since when, and the campaigns that apply now or will."""

    version: int = Field(description="The version in force now.")
    effective_from: datetime = Field(description="Since when it is in force.")

    @classmethod
    def of_version(cls, version: ProgramVersion, active: list, now: datetime, segments=()) -> ProgramInForceView:
        """`segments`: those the active campaigns' audiences name (their names only are published)."""
        view = ProgramView.of(version.program, active, now, segments)
        return cls.model_construct(**{name: getattr(view, name) for name in ProgramView.model_fields},
                                   version=version.version, effective_from=version.effective_from)
