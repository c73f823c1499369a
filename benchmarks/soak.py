"""Soak of the local runtime: its memory stays flat under steady traffic and SIGTERM stops it promptly.

Starts `python -m loyalty_local serve` on free ports and sends 20,000 mixed requests from a few
keep-alive clients, each a store terminal serving its own customer: a repeated enrolment (a cancelled
transaction), a new purchase and its replay, a redemption replayed, a profile change, the member view,
the activity, the program, the catalog and an unknown route. Each round adds one ledger entry (the
purchase): the data grows by that, the runtime by nothing else. It reads the resident memory of the
runtime and all its processes (its function workers included) after a warm-up of 1,000 requests, after
the first half of the rest and after the second, then sends SIGTERM and times the exit.

Targets (issues 13 and 21): memory after the second half at most 1.2x memory after the warm-up (it was
2.2x while moto kept every item image and stream record it made); stopped within 5 s; no 5xx.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = int(os.environ.get("SOAK_REQUESTS", "20000"))
FIRST = 1000
CLIENTS = 4
MAX_GROWTH = 1.2
STOP_SECONDS = 5.0
START_TIMEOUT = 60
SECRET = "soak-secret-soak-secret-soak-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree_rss(root_pid: int) -> int:
    """Resident bytes of `root_pid` and every descendant, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it exited meanwhile
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    total, pending = 0, [root_pid]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


class Client:
    """One store terminal on a keep-alive connection, serving its own customer round after round."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers = port, headers
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.email = f"soak-{uuid.uuid4().hex}@example.com"
        status, body = self.call("POST", "/v1/members", {"email": self.email, "name": "Soak"})
        self.member = json.loads(body)["member_id"] if status == 201 else "m-unknown"
        self.redemption_key = uuid.uuid4().hex
        self.rounds = 0

    def call(self, method: str, path: str, body: dict | None = None, **headers: str) -> tuple[int, bytes]:
        try:
            self.connection.request(method, path, body=json.dumps(body) if body is not None else None,
                                    headers={**self.headers, **headers})
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return 0, b""

    def round(self) -> list[int]:
        """Ten requests: writes (one new ledger entry), a cancelled transaction, replays, reads and a refusal."""
        member, self.rounds = self.member, self.rounds + 1
        purchase = {"transaction_id": f"soak:{uuid.uuid4().hex}", "amount_minor": 15_000, "currency": "EUR", "store_id": "7"}
        return [
            self.call("POST", "/v1/members", {"email": self.email})[0],  # already enrolled: a cancelled transaction
            self.call("POST", f"/v1/members/{member}/earn", purchase)[0],
            self.call("POST", f"/v1/members/{member}/earn", purchase)[0],  # replay
            self.call("POST", f"/v1/members/{member}/redemptions", {"reward_id": "coffee-any-size"},
                      **{"Idempotency-Key": self.redemption_key})[0],  # redeemed once, then replayed
            self.call("PATCH", f"/v1/members/{member}", {"name": f"Soak {self.rounds % 2}"})[0],  # the member rewritten
            self.call("GET", f"/v1/members/{member}")[0],
            self.call("GET", f"/v1/members/{member}/activity?limit=5")[0],
            self.call("GET", "/v1/program")[0],
            self.call("GET", "/v1/rewards")[0],
            self.call("GET", "/v2/nowhere")[0],
        ]


class Soak:
    def __init__(self, scratch: Path) -> None:
        sys.path[:0] = [str(ROOT / "layers" / "loyalty"), str(ROOT)]
        from loyalty_local.apigw import make_token

        self.api_port = _free_port()
        env = {**os.environ, "API_PORT": str(self.api_port), "LAMBDA_PORT": str(_free_port()),
               "DYNAMODB_PORT": str(_free_port()), "LOCAL_JWT_SECRET": SECRET,
               "LOCAL_EVENTS_FILE": str(scratch / "events.jsonl"),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "loyalty"), str(ROOT)])}
        env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        self.log = open(scratch / "runtime.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "loyalty_local", "serve"], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.headers = {"authorization": f"Bearer {make_token('pos', SECRET)}", "content-type": "application/json"}
        self.statuses: Counter[int] = Counter()
        self.sent = 0
        self.lock = threading.Lock()

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the runtime exited with {self.process.returncode}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.api_port)) == 0:
                    status = Client(self.api_port, self.headers).call("GET", "/openapi.json")[0]
                    if status == 200:
                        return
            time.sleep(0.1)
        raise RuntimeError(f"the runtime was not ready within {START_TIMEOUT} s")

    def send(self, until: int) -> None:
        """Send rounds from CLIENTS threads until `until` requests in all have been answered."""

        def client() -> None:
            terminal = Client(self.api_port, self.headers)
            while True:
                with self.lock:
                    if self.sent >= until:
                        return
                    self.sent += 10
                statuses = terminal.round()
                with self.lock:
                    self.statuses.update(statuses)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self) -> float:
        """SIGTERM to the runtime; seconds until it exited (SIGKILL to its group after 30 s)."""
        began = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()
        return time.perf_counter() - began


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        soak = Soak(Path(scratch))
        try:
            soak.wait_until_ready()
            began = time.perf_counter()
            soak.send(FIRST)
            first = process_tree_rss(soak.process.pid)
            soak.send(FIRST + (REQUESTS - FIRST) // 2)
            half = process_tree_rss(soak.process.pid)
            soak.send(REQUESTS)
            elapsed = time.perf_counter() - began
            last = process_tree_rss(soak.process.pid)
        finally:
            stop_seconds = soak.stop()
            if stop_seconds > STOP_SECONDS:  # what it was doing meanwhile
                print("".join((Path(scratch) / "runtime.log").read_text().splitlines(keepends=True)[-15:]))
    growth = last / first
    errors = sum(count for status, count in soak.statuses.items() if status == 0 or status >= 500)
    print(f"{soak.sent} mixed requests from {CLIENTS} clients in {elapsed:.0f} s ({soak.sent / elapsed:.0f}/s); "
          f"statuses {dict(sorted(soak.statuses.items()))}")
    print(f"memory of the runtime and its workers: {first / 2**20:.0f} MB after a warm-up of {FIRST:,} requests, "
          f"{half / 2**20:.0f} MB after the first half, {last / 2**20:.0f} MB after {soak.sent:,}: {growth:.2f}x "
          f"(target <= {MAX_GROWTH}x)")
    print(f"SIGTERM to exit: {stop_seconds:.2f} s (target <= {STOP_SECONDS:.0f} s)")
    missed = [name for name, ok in (("memory", growth <= MAX_GROWTH), ("stop", stop_seconds <= STOP_SECONDS),
                                    ("server errors", errors == 0)) if not ok]
    if missed:
        print(f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
