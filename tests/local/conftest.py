"""The local runtime as a real process on free loopback ports, for the whole session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-local-secret-for-the-e2e-suite"
START_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalRuntime:
    api: str
    lambda_endpoint: str
    secret: str
    log_path: Path

    def token(self, role: str, sub: str | None = None) -> str:
        from loyalty_local.apigw import make_token

        return make_token(role, self.secret, sub)

    def headers(self, role: str, sub: str | None = None, **extra: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(role, sub)}", **extra}


@pytest.fixture(scope="session")
def local_runtime(tmp_path_factory):
    api_port, lambda_port, dynamodb_port = _free_port(), _free_port(), _free_port()
    log_path = tmp_path_factory.mktemp("local") / "runtime.log"
    env = {
        **os.environ, "API_PORT": str(api_port), "LAMBDA_PORT": str(lambda_port), "DYNAMODB_PORT": str(dynamodb_port),
        "LOCAL_JWT_SECRET": SECRET, "PYTHONPATH": f"{ROOT / 'layers' / 'loyalty'}{os.pathsep}{ROOT}",
    }
    env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "loyalty_local", "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the local runtime exited:\n{log_path.read_text()}")
        try:
            if requests.get(f"{api}/openapi.json", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"the local runtime did not start in {START_TIMEOUT} s:\n{log_path.read_text()}")
    yield LocalRuntime(api, f"http://127.0.0.1:{lambda_port}", SECRET, log_path)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
