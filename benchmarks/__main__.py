"""Run every benchmark, each in its own interpreter, and fail after the last table if any missed a target.

Each benchmark prints its tables and exits 0 when it met every target. Its own process keeps what
one leaves behind (moto's state, clients bound to a stopped endpoint, environment) from skewing
the next. `python -m benchmarks api cost` runs some of them.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

MODULES = ["api", "cold_start", "cost", "report", "campaigns", "segments", "local_runtime", "jobs", "insights", "soak", "chaos", "webhooks"]
OPTIONAL = {"soak"}  # written separately; run when present
CRASHED = 2
RUN = """
import importlib, sys, traceback
try:
    status = importlib.import_module("benchmarks.{name}").main()
except Exception:
    traceback.print_exc()
    status = {crashed}
sys.exit(status or 0)
"""


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or MODULES
    failed = []
    for name in names:
        module = f"benchmarks.{name}"
        if name in OPTIONAL and importlib.util.find_spec(module) is None:
            continue
        print(f"\n=== {module} ===", flush=True)
        status = subprocess.run([sys.executable, "-c", RUN.format(name=name, crashed=CRASHED)]).returncode
        if status != 0:
            failed.append(f"{name} ({'missed a target' if status == 1 else 'crashed'})")
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}")
        return 1
    print("\nevery benchmark met its targets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
