"""Make moto's DynamoDB as atomic as DynamoDB, in bounded memory.

moto checks a transaction's conditions and then applies its writes with no lock, so under
concurrent requests two transactions can both pass the same `version` condition: a lost update
real DynamoDB never allows (it serialises them or cancels one); and a query iterating a table
while a write adds an item fails ("dictionary changed size during iteration"). Holding one lock
around each item, query and transaction operation restores the guarantees the ledger relies on,
for the local runtime and for the race tests.

moto also makes every transaction undoable by deep-copying each table it touches, streams
included, and puts the copy in the table's place if the transaction is cancelled. That costs time
and memory in proportion to the table (a long run reached gigabytes) and orphans the stream a
reader was following. Here a transaction instead keeps the items it touches as they were and, if
it is cancelled, writes them back and drops the stream records it made: all-or-nothing at the
cost of the items it names. `trim_stream` lets a stream reader drop the records it has consumed.

Last, moto keeps every model object it ever made (each item image, stream record and shard iterator)
in its class's `instances_tracked` list, for its dashboard: under steady traffic that list, not the
tables, was what grew (about 10 KB a request). Its DynamoDB models stop tracking here.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

# Reads too: a query or scan iterates a table's items, which a concurrent write may resize mid-way.
_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_get_items",
               "transact_write_items")  # moto's batch operations are made of these
_lock = threading.RLock()


class _Untracked(list):
    """An `instances_tracked` that keeps nothing: moto appends every new model object to it."""

    def append(self, instance: Any) -> None:
        pass


def stop_tracking_instances() -> None:
    """moto's DynamoDB and DynamoDB Streams models stop keeping every object they made (until a moto reset)."""
    import moto.dynamodb.models  # noqa: F401 - their model classes register on import
    import moto.dynamodbstreams.models  # noqa: F401
    from moto.core.model_instances import model_data

    for service in ("dynamodb", "dynamodbstreams"):
        for model in model_data.get(service, {}).values():
            if not isinstance(model.instances_tracked, _Untracked):
                model.instances_tracked = _Untracked()


def make_dynamodb_atomic() -> None:
    stop_tracking_instances()
    if getattr(DynamoDBBackend.transact_write_items, "_atomic", False):
        return
    DynamoDBBackend.transact_write_items = _transact_write_items
    for name in _OPERATIONS:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(*args, __original=original, **kwargs):
            with _lock:
                return __original(*args, **kwargs)

        locked._atomic = True
        setattr(DynamoDBBackend, name, locked)


def _transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, cancellation reasons included, undone item by item."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    touched: list[tuple[str, dict[str, Any], Any]] = []  # (table, key, the item before), in order
    streams = {name: len(table.stream_shard.items) for name, table in backend.tables.items() if table.stream_shard}
    reasons: list[tuple[Any, Any, Any]] = []
    try:
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            (kind, op), = item.items()
            reasons.append(_apply(backend, kind, op, touched))
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
    except BaseException:
        for table_name, key, before in reversed(touched):
            if before is None:
                backend.delete_item(table_name, key)
            else:
                backend.put_item(table_name, before.to_json()["Attributes"])
        for name, length in streams.items():
            del backend.tables[name].stream_shard.items[length:]  # the undone writes were never seen
        raise


def _apply(backend: DynamoDBBackend, kind: str, op: dict[str, Any], touched: list) -> tuple[Any, Any, Any]:
    """One write of the transaction; its cancellation reason, (None, None, None) if it succeeded."""
    table_name = op.get("TableName")
    current = None
    try:
        if kind not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table = backend.get_table(table_name)
        key = op["Key"] if kind != "Put" else {
            name: op["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name is not None}
        if any(name == table_name and done == key for name, done, _ in touched):
            raise MultipleTransactionsException()
        current = backend.get_item(table_name, key)
        touched.append((table_name, key, copy.deepcopy(current)))
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if op.get("ConditionExpression") and not get_filter_expression(op["ConditionExpression"], names, values).expr(current):
            raise ConditionalCheckFailed()
        if kind == "Put":
            backend.put_item(table_name, op["Item"])
        elif kind == "Delete":
            backend.delete_item(table_name, key)
        elif kind == "Update":
            backend.update_item(table_name, key, op["UpdateExpression"], names, values)
    except ConditionalCheckFailed as failed:
        wanted = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None
        return "ConditionalCheckFailed", failed.message, current.to_json()["Attributes"] if wanted else None
    except (MultipleTransactionsException, MockValidationException):
        raise  # the whole request is invalid: no reasons, as moto and DynamoDB answer
    except Exception as error:  # noqa: BLE001 - moto reports any other failure as the write's reason
        return type(error).__name__, str(error), None
    return None, None, None


def trim_stream(table_name: str, last_sequence_number: int, account: str, region: str) -> None:
    """Drop a table's stream records up to `last_sequence_number` once its only reader has them."""
    from moto.dynamodb.models import dynamodb_backends

    with _lock:
        table = dynamodb_backends[account][region].tables.get(table_name)
        if table is None or table.stream_shard is None:  # moto is not in this process: nothing to free here
            return
        shard = table.stream_shard
        consumed = min(max(0, last_sequence_number + 1 - shard.starting_sequence_number), len(shard.items))
        del shard.items[:consumed]
        shard.starting_sequence_number += consumed  # new records keep numbering on from there


def forget_shard_iterator(iterator: str, account: str, region: str) -> None:
    """moto keeps every shard iterator it hands out; its reader moved on to the next one."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    dynamodbstreams_backends[account][region].shard_iterators.pop(iterator, None)
