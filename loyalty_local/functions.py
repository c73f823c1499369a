"""The template's functions as worker processes: one per function, started on first use, warm after."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable

from loyalty_local.template import LOCAL_REGION, ROOT, FunctionSpec

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
INIT_SECONDS = 10  # like Lambda, a cold start's init phase has its own allowance
STOP_SECONDS = 5
# Deployed functions read their e-mail hash key from this SSM parameter; locally the runtime gives the key itself.
NOT_LOCAL = {"EMAIL_HASH_KEY_PARAMETER", "UNSUBSCRIBE_KEY_PARAMETER"}
# No SQS here: a job dispatcher runs its batches itself, so it needs the job worker's tables too.
LOCAL_DISPATCHER_TABLES = {"LEDGER_TABLE": "LedgerTable", "STATS_TABLE": "StatsTable",
                           "CATALOG_TABLE": "CatalogTable"}  # the program versions the jobs apply


class FunctionError(Exception):
    """The invocation failed: `payload` is what Lambda reports (errorMessage, errorType, stackTrace)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


class FunctionTimeout(FunctionError):
    """The function ran past the template's Timeout; its worker was discarded."""


class Worker:
    """One function's warm process, serving one invocation at a time like one Lambda instance."""

    def __init__(self, spec: FunctionSpec, base_environment: dict[str, str], log: Callable[[str], None]) -> None:
        self.spec = spec
        self.base_environment = base_environment
        self.log = log
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None

    def environment(self) -> dict[str, str]:
        """The function's own environment from the template, then the runtime's local values; of the
        runtime's own environment only PATH and HOME."""
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            **{name: value for name, value in self.spec.environment.items() if name not in NOT_LOCAL},
            **(LOCAL_DISPATCHER_TABLES if "JOB_QUEUE_URL" in self.spec.environment else {}),
            **self.base_environment,  # local values win: no SQS queue, no event bus, no SSM here
            "PYTHONPATH": os.pathsep.join([str(self.spec.code_dir), str(ROOT / "layers" / "loyalty")]),
            "LOCAL_HANDLER": self.spec.handler,
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.logical_id,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.spec.timeout),
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "PYTHONUNBUFFERED": "1",
        }

    def _start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT)], cwd=self.spec.code_dir, env=self.environment(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            process_group=0,  # a terminal's Ctrl-C is for the runtime, which stops its workers itself
        )
        threading.Thread(target=self._forward_logs, args=(process,), daemon=True).start()
        return process

    def _forward_logs(self, process: subprocess.Popen) -> None:
        for line in process.stderr:
            self.log(f"[{self.spec.logical_id}] {line.decode('utf-8', 'replace').rstrip()}")

    def invoke(self, event: Any, request_id: str) -> Any:
        with self.lock:
            cold = self.process is None or self.process.poll() is not None
            if cold:
                self.process = self._start()
            process = self.process
            try:
                process.stdin.write(json.dumps({"event": event, "request_id": request_id}).encode() + b"\n")
                process.stdin.flush()
            except BrokenPipeError:
                pass  # it exited during init; its reply, if it wrote one, is still in the pipe
            allowance = self.spec.timeout + (INIT_SECONDS if cold else 0)
            line = _read_line(process.stdout, allowance)
            if line is None:
                self.stop()  # a timed-out function is not reused, as Lambda discards the sandbox
                raise FunctionTimeout({"errorType": "Sandbox.Timedout",
                                       "errorMessage": f"RequestId: {request_id} Error: Task timed out after {allowance:.2f} seconds"})
            if not line:
                status = self._exit_status(process)
                raise FunctionError({"errorType": "Runtime.ExitError",
                                     "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}"})
            answer = json.loads(line)
            if answer.get("init_failed"):
                self.stop()
        if not answer["ok"]:
            raise FunctionError(answer["error"])
        return answer["result"]

    def _exit_status(self, process: subprocess.Popen) -> int | None:
        try:
            return process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self.stop()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_SECONDS)
        with contextlib.suppress(OSError):  # a request it never read may be left in the pipe
            process.stdin.close()


def _read_line(pipe: BinaryIO, timeout: float) -> bytes | None:
    """The worker's reply line; b"" if it exited first, None if `timeout` passed.

    Waiting on the pipe itself (rather than on a reader thread) keeps a warm call at a few
    hundred microseconds: each extra thread hand-off can cost a scheduler tick.
    """
    deadline = time.monotonic() + timeout
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(pipe, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return None
            chunk = os.read(pipe.fileno(), 1 << 16)
            if not chunk:
                return b""
            line += chunk
    return line


class FunctionPool:
    def __init__(self, specs: dict[str, FunctionSpec], base_environment: dict[str, str], log: Callable[[str], None]) -> None:
        self.workers = {name: Worker(spec, base_environment, log) for name, spec in specs.items()}
        self.stopped = False

    def __contains__(self, name: str) -> bool:
        return name in self.workers

    def invoke(self, name: str, event: Any, request_id: str) -> Any:
        if self.stopped:  # a request still in flight while stopping must not start a worker again
            raise FunctionError({"errorType": "Runtime.Stopping", "errorMessage": "the local runtime is stopping"})
        return self.workers[name].invoke(event, request_id)

    def stop(self) -> None:
        self.stopped = True
        for worker in self.workers.values():
            worker.stop()
