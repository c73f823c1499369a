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
    """The model whose connection's client (and its configuration: attempts, timeouts) the others send through."""

    def __init__(self, lead: type[Model]) -> None:
        self.lead = lead


def _connect_sharing(cls: type[Model]):
    """A model's `_get_connection` that sends through its lead's client (made on first use, as pynamodb's)."""
    table = Model._get_connection.__func__(cls)
    lead = cls._client_holder.lead
    if cls is not lead and not isinstance(table.connection, _SharedClient):
        table.connection.__class__ = _SharedClient
        table.connection._shares = lead._get_connection().connection
    return table


def share_client(models: Iterable[type[Model]]) -> None:
    """One botocore session and client for all of `models`, the first one's, created on the first request of any.

    pynamodb gives each model class a connection of its own, each with its own session and client, created on its
    first request: a cold start paid a client per model it touched (the earn: the members' and the campaigns').
    Nothing is made here: each model still makes its connection (its table description) when first used, and sends
    through the first model's client, configured as that model is (the store's attempts and timeouts). botocore
    clients are thread-safe.
    """
    models = list(models)
    holder = _ClientHolder(models[0])
    for model in models:
        if model._connection is not None and model is not models[0] and not isinstance(model._connection.connection, _SharedClient):
            model._connection.connection.__class__ = _SharedClient  # already connected: it joins as it is
            model._connection.connection._shares = models[0]._get_connection().connection
        model._client_holder = holder
        model._get_connection = classmethod(_connect_sharing)
