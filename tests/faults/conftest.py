"""Faults injected below the store (loyalty.store.faults) on moto in-process, and handlers called with their headers."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from loyalty.store.faults import FaultInjector, FaultPlan, install
from tests.conftest import LambdaContext, load_function


@pytest.fixture
def inject(tables) -> Iterator[Callable[..., FaultInjector]]:
    """`inject(plan="")` installs an injector in front of moto for every client created afterwards; the handlers a
    test calls through `Handlers` are fresh instances, so their clients are created under it."""
    from moto.core.models import botocore_stubber

    uninstalls = []

    def make(plan: str | FaultPlan = "") -> FaultInjector:
        injector = FaultInjector(plan if isinstance(plan, FaultPlan) else FaultPlan.parse(plan), transport=botocore_stubber)
        uninstalls.append(install(injector))
        return injector

    yield make
    for uninstall in reversed(uninstalls):
        uninstall()


@dataclass
class Answer:
    status: int
    body: dict
    headers: dict[str, str]

    def __getitem__(self, key):
        return self.body[key]


class Handlers:
    """The functions as fresh Lambda instances (their own clients), with extra environment variables."""

    def __init__(self, **env: str) -> None:
        self.env = {"FAULTS_TEST_INSTANCE": uuid.uuid4().hex, **env}

    def call(self, function: str, event: dict) -> Answer:
        response = load_function(function, 0, **self.env).lambda_handler(event, LambdaContext(function_name=function))
        body = response.get("body") or "null"
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
        return Answer(response["statusCode"], json.loads(body), headers)
