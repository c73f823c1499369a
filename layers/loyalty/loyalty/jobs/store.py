"""The jobs' store operations: their sparse, sharded indexes on the members table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import (
    QueryError,
)

from loyalty.settings import DispatcherSettings
from loyalty.store import keys
from loyalty.store.transaction import RequestHook, busy, hook_requests
from loyalty.store.models import MemberModel, bind_members

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    pass

class JobIndex:
    """The jobs' sparse, sharded indexes on the members table: who is due, without a scan."""

    def __init__(self, members: type[MemberModel], job_shards: int) -> None:
        self.members, self.shards = members, job_shards

    @classmethod
    def from_settings(cls, settings: DispatcherSettings) -> JobIndex:
        members = bind_members(settings.members_table, settings.aws_region, settings.aws_endpoint_url_dynamodb)
        return cls(members, settings.job_shards)

    def on_request(self, hook: RequestHook) -> None:
        """Call `hook(operation, params)` before each DynamoDB request of the index (tests count them)."""
        hook_requests([self.members], hook)

    def due_member_ids(self, shard: int, now: datetime) -> Iterator[str]:
        """Members of one shard for whom the expiry job has something due at `now`."""
        return self._member_ids(self.members.by_due, keys.due_index_shard(shard), self.members.next_due <= keys.due_key(now))

    def unreviewed_member_ids(self, shard: int, month: str) -> Iterator[str]:
        """Members of one shard above the base tier whose tier was not reviewed in `month`."""
        return self._member_ids(self.members.by_review, keys.review_index_shard(shard), self.members.review_month < month)

    def birthday_member_ids(self, shard: int, month_day: str) -> Iterator[str]:
        """Members of one shard whose birthday is `month_day` ("MM-DD")."""
        return self._member_ids(self.members.by_birthday, keys.birthday_index_shard(month_day, shard), None)

    @staticmethod
    def _member_ids(index, shard_key: str, condition) -> Iterator[str]:
        try:
            for record in index.query(shard_key, condition):
                yield keys.member_id_of(record.pk)
        except QueryError as error:
            raise busy(error) from error
