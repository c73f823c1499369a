"""The template's functions as worker processes: one per function, started on first use, warm after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from loyalty_local.template import LOCAL_REGION, ROOT, FunctionSpec


INIT_SECONDS = 10  # like Lambda, a cold start's init phase has its own allowance
# No SQS here: a job dispatcher runs its batches itself, so an invoke returns with the job done.
LOCAL_OVERRIDES = {"JOB_QUEUE_URL": "local", "EVENT_BUS_NAME": "local"}


class FunctionTimeout(Exception):
    pass


@dataclass
class FunctionError(Exception):
    """The handler raised: the payload is what Lambda reports."""

    payload: dict[str, Any]


class Worker:
    def __init__(self, spec: FunctionSpec, base_environment: dict[str, str], log) -> None:
        self.spec = spec
        self.base_environment = base_environment
        self.log = log
        self.lock = threading.Lock()  # one invocation at a time, like one Lambda instance
        self.process: subprocess.Popen | None = None

    def _environment(self) -> dict[str, str]:
        module, handler = self.spec.handler.rsplit(".", 1)
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            **self.base_environment,
            **self.spec.environment,
            **{name: value for name, value in LOCAL_OVERRIDES.items() if name in self.spec.environment},
            "PYTHONPATH": os.pathsep.join([str(self.spec.code_dir), str(ROOT / "layers" / "loyalty"), str(ROOT)]),
            "LOCAL_HANDLER": f"{module}.{handler}",
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.logical_id,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.spec.timeout),
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "PYTHONUNBUFFERED": "1",
        }

    def _start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "loyalty_local.worker"], cwd=self.spec.code_dir, env=self._environment(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        threading.Thread(target=self._forward_logs, args=(process,), daemon=True).start()
        return process

    def _forward_logs(self, process: subprocess.Popen) -> None:
        for line in process.stderr:
            self.log(f"[{self.spec.logical_id}] {line.rstrip()}")

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        with self.lock:
            cold = self.process is None or self.process.poll() is not None
            if cold:
                self.process = self._start()
            process = self.process
            process.stdin.write(json.dumps({"event": event, "request_id": request_id}) + "\n")
            process.stdin.flush()
            reply: list[str] = []
            reader = threading.Thread(target=lambda: reply.append(process.stdout.readline()), daemon=True)
            reader.start()
            reader.join(self.spec.timeout + (INIT_SECONDS if cold else 0))
            timed_out, line = reader.is_alive(), reply[0] if reply else ""
            if timed_out or not line:
                self.stop()  # a timed-out function is not reused, as Lambda discards the sandbox
                if timed_out:
                    raise FunctionTimeout(f"{self.spec.logical_id} timed out after {self.spec.timeout} s")
                raise FunctionError({"errorMessage": "the function process exited", "errorType": "Runtime.ExitError"})
        answer = json.loads(line)
        if not answer["ok"]:
            raise FunctionError(answer["error"])
        return answer["result"]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None


class FunctionPool:
    def __init__(self, specs: dict[str, FunctionSpec], base_environment: dict[str, str], log) -> None:
        self.workers = {name: Worker(spec, base_environment, log) for name, spec in specs.items()}

    def __contains__(self, name: str) -> bool:
        return name in self.workers

    def invoke(self, name: str, event: Any, request_id: str | None = None) -> Any:
        return self.workers[name].invoke(event, request_id)

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
