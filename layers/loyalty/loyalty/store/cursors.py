"""Page cursors of the tables read with plain boto3 (webhooks, messages): a partition's LastEvaluatedKey, opaque to
the client, refused unless it is one this partition's list gave. No pynamodb here: those functions do not load it."""

from __future__ import annotations

import base64
import json

from loyalty.domain import errors


def page_cursor(key: dict | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def page_start(cursor: str | None, pk: str) -> dict | None:
    """The ExclusiveStartKey a cursor stands for, in partition `pk` (None: the first page)."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if set(key) != {"pk", "sk"} or key["pk"] != {"S": pk} or set(key["sk"]) != {"S"}:
            raise ValueError(cursor)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise errors.InvalidCursor("cursor is not one this list gave") from error
    return key
