"""The operations the OpenAPI document tests run over, and the document they check.

The operations are listed from the committed openapi.json (collection must not run the resolver: mutmut ties a
function to the tests that ran it, and code run while collecting belongs to no test). The document itself is built
from the code inside a fixture, so the resolver's route and response code runs under the test that checks it.
`make check-openapi` keeps the two the same.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("get", "put", "post", "delete", "patch")

OPERATION_KEYS = [(method.upper(), path) for path, item in json.loads((ROOT / "openapi.json").read_text())["paths"].items()
                  for method in item if method in METHODS]


def operation_of(document: dict, method: str, path: str) -> dict:
    return document["paths"][path][method.lower()]
