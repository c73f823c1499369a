"""Schemathesis against the running local system, one token per role: every answer is documented and no 5xx.

A bounded, deterministic run (same cases every time) of the schemathesis CLI, as a developer would run it
against `make run`. What is left out, and why, is in CONFIG below; remove an exclusion once its cause is fixed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = 25
CONFIG = """
[phases.coverage]
# Every method but TRACE: the local runtime's HTTP server answers TRACE itself with a 501 HTML page
# (issue 8 item 10; API Gateway answers 404 JSON).
unexpected-methods = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]

[[operations]]
include-name = "GET /v1/members/{member_id}/activity"
# `to` without `from`, or a `to` far in the future, is a 503/500 in the store's range query (issue 8 item 7).
parameters = { "query.from" = "2026-01-01", "query.to" = "2026-12-31" }

[[operations]]
include-name = "GET /v1/reports/program"
# A range far in the past walks every month since and times out (issue 8 item 8).
parameters = { "query.from" = "2026-11-01", "query.to" = "2026-11-30" }
"""


@pytest.mark.parametrize("role", ["member", "pos", "admin"])
def test_schemathesis_finds_no_failure(local_runtime, tmp_path: Path, role: str):
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("st")), "--config-file", str(config), "run", f"{local_runtime.api}/openapi.json",
        "--header", f"Authorization: Bearer {local_runtime.token(role, sub=f'schemathesis-{role}')}",
        "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
        "--workers", "1", "--request-timeout", "20", "--no-color",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, f"schemathesis ({role}) found failures:\n{run.stdout[-20000:]}\n{run.stderr[-5000:]}"
