"""One botocore client per store: pynamodb gives each model class a connection, session and client of its own."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.connection import Connection
from pynamodb.models import Model


class _SharedClient(Connection):
    """A model's connection that sends through another connection's botocore client."""

    _shares: Connection

    @property
    def client(self):
        return self._shares.client


class _ClientHolder:
    """The connection whose client the models sharing it send through: the first one any of them makes."""

    def __init__(self) -> None:
        self.connection: Connection | None = None


def _connect_sharing(cls: type[Model]):
    """A model's `_get_connection` that sends through the client its holder keeps (made on first use, as pynamodb's)."""
    table = Model._get_connection.__func__(cls)
    holder: _ClientHolder = cls._client_holder
    if holder.connection is None:
        holder.connection = table.connection
    elif table.connection is not holder.connection and not isinstance(table.connection, _SharedClient):
        table.connection.__class__ = _SharedClient
        table.connection._shares = holder.connection
    return table


def share_client(models: Iterable[type[Model]]) -> None:
    """One botocore session and client for all of `models`, created on the first request of any of them.

    pynamodb gives each model class a connection of its own, each with its own session and client, created on its
    first request: a cold start paid a client per model it touched (the earn: the members' and the campaigns').
    Nothing is made here: each model still makes its connection (its table description) when first used, and then
    sends through the client of the first connection made. botocore clients are thread-safe.
    """
    holder = _ClientHolder()
    for model in models:
        if model._connection is not None:  # already connected: it joins as it is
            connection = model._connection.connection
            if holder.connection is None:
                holder.connection = connection
            elif connection is not holder.connection:
                connection.__class__ = _SharedClient
                connection._shares = holder.connection
        model._client_holder = holder
        model._get_connection = classmethod(_connect_sharing)
