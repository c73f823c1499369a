"""The operations the OpenAPI document tests run over, listed from the committed openapi.json.

Collection must not run the resolver: mutmut ties a function to the tests that ran it, and code run while
collecting belongs to no test. The document the tests check is built from the code inside a fixture
(`built_openapi`, tests/conftest.py), so the resolver's route and response code runs under the test that checks it;
a test compares it with the committed file, as `make check-openapi` does.
"""

from __future__ import annotations

import json

from loyalty_local.template import ROOT

OPERATION_KEYS = [(method.upper(), path) for path, item in json.loads((ROOT / "openapi.json").read_text())["paths"].items()
                  for method in item]


def operation_of(document: dict, method: str, path: str) -> dict:
    return document["paths"][path][method.lower()]
