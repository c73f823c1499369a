"""Run every benchmark in one process run, so ratios are measured on the same machine state."""

from __future__ import annotations

import importlib
import sys

MODULES = ["benchmarks.api", "benchmarks.report", "benchmarks.local_runtime", "benchmarks.jobs"]


def main() -> int:
    failed = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name != name:
                raise
            continue
        print(f"\n=== {name} ===", flush=True)
        if module.main() not in (None, 0):
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
