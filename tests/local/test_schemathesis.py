"""Schemathesis against the running local system, one token per role: every answer is documented and no 5xx.

A bounded, deterministic run (same cases every time) of the schemathesis CLI, as a developer would run it
against `make run`. Nothing is left out (CONFIG below).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = 25
CONFIG = """
# Nothing is left out: every operation, every method (TRACE included), every parameter as generated.
[phases.coverage]
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
