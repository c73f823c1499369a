"""Run every benchmark in one process run, so ratios are measured on the same machine state.

Each benchmark prints its tables and returns 0 when it met every target; this run fails after the
last table if any missed a target or crashed. `python -m benchmarks api cost` runs some of them.
"""

from __future__ import annotations

import importlib
import sys
import traceback

MODULES = ["api", "cold_start", "cost", "report", "local_runtime", "jobs", "soak"]
OPTIONAL = {"soak"}  # written separately; run when present


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or MODULES
    failed = []
    for name in names:
        module_name = f"benchmarks.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as missing:
            if missing.name == module_name and name in OPTIONAL:
                continue
            raise
        print(f"\n=== {module_name} ===", flush=True)
        try:
            status = module.main()
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' tables
            traceback.print_exc()
            status = "crashed"
        if status not in (None, 0):
            failed.append(f"{name} ({'crashed' if status == 'crashed' else 'missed a target'})")
        sys.stdout.flush()
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
