"""The local runtime as a real process on free loopback ports, for the whole session."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from loyalty_local.apigw import make_token

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-local-secret-for-the-e2e-suite"
START_SECONDS = 60
STOP_SECONDS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalRuntime:
    process: subprocess.Popen
    api_port: int
    lambda_port: int
    log_path: Path
    secret: str = SECRET

    @property
    def events_path(self) -> Path:
        return _events_path(self.log_path)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def lambda_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.lambda_port}"

    def token(self, role: str, sub: str | None = None, email: str | None = None) -> str:
        """`email`: the verified e-mail claim a member token needs to enroll that e-mail."""
        return make_token(role, self.secret, sub, email=email)

    def headers(self, role: str, sub: str | None = None, email: str | None = None, **extra: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(role, sub, email)}", **extra}

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, whole_group: bool = False) -> int:
        """Signal it (or its whole process group, as Ctrl-C in a terminal does); its exit status."""
        if whole_group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """It and whatever is left of its process group (it leads its own)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_SECONDS)


def _events_path(log_path: Path) -> Path:
    """Where the runtime's functions append the domain events they publish: not the repository's `.local/`."""
    return log_path.with_name("events.jsonl")


def start_runtime(log_path: Path, **settings: str) -> LocalRuntime:
    """`python -m loyalty_local serve` in its own process group, once /openapi.json answers; `settings` add to its environment."""
    api_port, lambda_port, dynamodb_port = free_port(), free_port(), free_port()
    env = {
        **os.environ, "API_PORT": str(api_port), "LAMBDA_PORT": str(lambda_port), "DYNAMODB_PORT": str(dynamodb_port),
        "LOCAL_JWT_SECRET": SECRET, "PYTHONPATH": f"{ROOT / 'layers' / 'loyalty'}{os.pathsep}{ROOT}", **settings,
    }
    for inherited in ("AWS_ENDPOINT_URL_DYNAMODB", "PROGRAM_FILE", "LOCAL_JWT_ISSUER", "LOCAL_JWT_AUDIENCE"):
        if inherited not in settings:  # the runtime points its functions at its own moto; the tests' tokens are the defaults'
            env.pop(inherited, None)
    env["LOCAL_EVENTS_FILE"] = str(_events_path(log_path))
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "loyalty_local", "serve"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    runtime = LocalRuntime(process, api_port, lambda_port, log_path)
    try:
        _wait_until_ready(runtime)
    except BaseException:
        runtime.kill()
        raise
    return runtime


def _wait_until_ready(runtime: LocalRuntime) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if runtime.process.poll() is not None:
            pytest.fail(f"the local runtime exited:\n{runtime.log()}")
        try:
            if requests.get(f"{runtime.api}/openapi.json", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or listening but still starting
            time.sleep(0.2)
    pytest.fail(f"the local runtime did not start in {START_SECONDS} s:\n{runtime.log()}")


@pytest.fixture(scope="session")
def local_runtime(tmp_path_factory):
    # The template's limits, except the reports class's (5 a second): schemathesis calls the report and the export
    # faster than that, and a 429 there would test nothing (tests/local/test_throttling.py tests the limits).
    runtime = start_runtime(tmp_path_factory.mktemp("local") / "runtime.log",
                            LOCAL_PARAMETER_OVERRIDES="ReportsRateLimit=1000 ReportsBurstLimit=1000")
    yield runtime
    assert runtime.stop() == 0, f"SIGTERM did not stop the runtime cleanly:\n{runtime.log()}"
