"""Where insight queries are kept: the InsightQueriesTable, one item per query (key `query_id`), gone a week
after its creation by the table's TTL. Its own table rather than a key prefix in the catalog table: queries are
short-lived (a TTL of their own), the catalog's stream feeds the event publisher (a query should not), and the
insights function gets this table alone to write."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.models import Model

from loyalty.store.models import CLIENT_OPTIONS
from loyalty.store.transaction import busy

KEPT_FOR = timedelta(days=7)


@dataclass(frozen=True)
class Query:
    query_id: str
    insight: str
    params: dict[str, Any]
    status: str
    engine: str
    created_at: datetime
    execution_id: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    scanned_bytes: int | None = None
    context: dict[str, Any] | None = None  # what the answer is shaped with (the campaign's frame), kept for the poll

    def with_outcome(self, **changes: Any) -> Query:
        return replace(self, **changes)


class QueryModel(Model):
    class Meta:
        table_name = "InsightQueriesTable"

    query_id = UnicodeAttribute(hash_key=True)
    insight = UnicodeAttribute()
    params = UnicodeAttribute()  # JSON
    status = UnicodeAttribute()
    engine = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    execution_id = UnicodeAttribute(null=True)
    result = UnicodeAttribute(null=True)  # JSON
    error = UnicodeAttribute(null=True)
    scanned_bytes = NumberAttribute(null=True)
    context = UnicodeAttribute(null=True)  # JSON
    expires_at = NumberAttribute()  # epoch seconds: the table's TTL


class QueryStore:
    def __init__(self, model: type[QueryModel]) -> None:
        self.model = model

    @classmethod
    def from_table(cls, table: str, region: str | None = None, host: str | None = None) -> QueryStore:
        options = {"table_name": table, **({"region": region} if region else {}), **({"host": host} if host else {}),
                   **CLIENT_OPTIONS}
        meta = type("Meta", (), options)
        return cls(type("QueryModel", (QueryModel,), {"Meta": meta, "__module__": __name__}))

    def put(self, query: Query) -> None:
        record = self.model(
            query.query_id, insight=query.insight, params=json.dumps(query.params, sort_keys=True), status=query.status,
            engine=query.engine, created_at=query.created_at, execution_id=query.execution_id,
            result=json.dumps(query.result) if query.result is not None else None, error=query.error,
            scanned_bytes=query.scanned_bytes, context=json.dumps(query.context) if query.context is not None else None,
            expires_at=int((query.created_at + KEPT_FOR).timestamp()))
        try:
            record.save()
        except PynamoDBException as error:
            raise busy(error) from error

    def get(self, query_id: str) -> Query | None:
        try:
            record = self.model.get(query_id, consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as error:
            raise busy(error) from error
        return Query(
            query_id=record.query_id, insight=record.insight, params=json.loads(record.params), status=record.status,
            engine=record.engine, created_at=record.created_at, execution_id=record.execution_id,
            result=json.loads(record.result) if record.result is not None else None, error=record.error,
            scanned_bytes=int(record.scanned_bytes) if record.scanned_bytes is not None else None,
            context=json.loads(record.context) if record.context is not None else None)
