"""The program's versions in the catalog table, all under pk "PROGRAM", sorted by number.

Why the catalog table: it is the table of the program's published documents (rewards, campaigns) that every
function already reads and caches; the versions are a handful of small items read with one Query, written by the
back office only, and its stream already carries document changes to the event publisher.

A version is written once, with `attribute_not_exists(sk)`: two publishes that read the same newest version both
try the next number, one wins, the other reads again and takes the number after (the use case's retry).
"""

from __future__ import annotations

import json

from pynamodb.exceptions import PutError, QueryError

from loyalty.clock import Clock
from loyalty.core.programs import Programs
from loyalty.program import Program, ProgramHistory, ProgramVersion, load_program
from loyalty.settings import ProgramVersionsSettings
from loyalty.store import keys
from loyalty.store.clients import share_client
from loyalty.store.models import ProgramVersionModel, bind_program_versions
from loyalty.store.transaction import LostRace, busy, response_code

CONDITION_FAILED = "ConditionalCheckFailedException"


def document_of(program: Program) -> str:
    return json.dumps(program.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def _from_record(record: ProgramVersionModel) -> ProgramVersion:
    return ProgramVersion(
        version=int(record.version), effective_from=record.effective_from,
        program=Program.model_validate(json.loads(record.document)), published_at=record.published_at,
        published_by=record.published_by, note=record.note,
    )


class VersionTaken(LostRace):
    """Another publish took this version number first: read again and take the next."""


class ProgramVersionStore:
    """The versions of one catalog table."""

    def __init__(self, model: type[ProgramVersionModel]) -> None:
        self.model = model

    @classmethod
    def from_table(cls, catalog_table: str, region: str | None = None, endpoint_url: str | None = None) -> ProgramVersionStore:
        model = bind_program_versions(catalog_table, region, endpoint_url)
        share_client([model])
        return cls(model)

    def versions(self, consistent: bool = False) -> list[ProgramVersion]:
        """Every stored version, oldest number first: one Query (a page holds hundreds of versions)."""
        try:
            return [_from_record(record) for record in
                    self.model.query(keys.PROGRAM_VERSIONS, consistent_read=consistent)]
        except QueryError as error:
            raise busy(error) from error

    def history(self, seed: Program, consistent: bool = False) -> ProgramHistory:
        """The stored versions; none stored yet: the seed (the layer's program file) as version 1."""
        stored = self.versions(consistent)
        return ProgramHistory(tuple(stored)) if stored else ProgramHistory.seeded(seed)

    def add(self, version: ProgramVersion) -> None:
        """Write a new version; `VersionTaken` when its number is taken."""
        record = self.model(
            keys.PROGRAM_VERSIONS, keys.program_version_key(version.version), version=version.version,
            document=document_of(version.program), effective_from=version.effective_from,
            published_at=version.published_at, published_by=version.published_by, note=version.note,
        )
        try:
            record.save(condition=self.model.sk.does_not_exist())
        except PutError as error:
            if response_code(error) == CONDITION_FAILED:
                raise VersionTaken(f"version {version.version} exists already") from None
            raise busy(error) from error


def cached_programs(settings: ProgramVersionsSettings, clock: Clock) -> tuple[ProgramVersionStore, Programs]:
    """A function's program versions: their store, and the cache its use cases are given (one Query when stale)."""
    store = ProgramVersionStore.from_table(settings.catalog_table, settings.aws_region, settings.aws_endpoint_url_dynamodb)
    seed = load_program(settings.program_file)
    return store, Programs(lambda: store.history(seed), clock, settings.program_cache_seconds)
