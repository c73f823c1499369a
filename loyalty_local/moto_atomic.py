"""Make moto's DynamoDB as atomic as DynamoDB.

moto checks a transaction's conditions and then applies its writes with no lock, so under
concurrent requests two transactions can both pass the same `version` condition: a lost update
real DynamoDB never allows (it serialises them or cancels one). Holding one lock around each
item and transaction operation restores the guarantee the ledger relies on, for the local
runtime and for the race tests.
"""

from __future__ import annotations

import functools
import threading

from moto.dynamodb.models import DynamoDBBackend

_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "transact_get_items", "transact_write_items")
_lock = threading.RLock()


def make_dynamodb_atomic() -> None:
    for name in _OPERATIONS:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_atomic", False):
            continue

        @functools.wraps(original)
        def locked(*args, __original=original, **kwargs):
            with _lock:
                return __original(*args, **kwargs)

        locked._atomic = True
        setattr(DynamoDBBackend, name, locked)
