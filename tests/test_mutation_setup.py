"""`make mutation` still starts: its copy of the repository holds what the tests import, mutmut's own copy step
works in it, mutmut's configuration mutates domain/, store/, api/, core/ and the features' use cases and stores, and the tests of the mutation run
(the stateful and property-based ones included) are collected where mutmut runs them. The mutants themselves are
`make mutation`'s job: far too slow for `make test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.mutation_score import prepare

ROOT = Path(__file__).resolve().parent.parent
MUTMUT_SEES = """
import json
from mutmut.configuration import config
from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, walk_mutatable_files
copy_src_dir()
copy_also_copy_files()
print(json.dumps({"selection": config().pytest_add_cli_args_test_selection,
                  "mutated": sorted(str(path) for path in walk_mutatable_files())}))
"""


def _clean_environment() -> dict[str, str]:
    """As `make mutation` runs mutmut: without the repository's PYTHONPATH, so only the copy can be imported."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


def test_the_mutation_run_starts_from_its_copy_and_collects_every_selected_test(tmp_path):
    copy = tmp_path / "mutation"
    entries = prepare(ROOT, copy)
    assert {"ops/", "tests/", "functions/", "loyalty_local/", "template.yaml"} <= set(entries)
    assert (copy / "src" / "loyalty" / "core" / "ledger.py").exists() and not (copy / "layers" / "loyalty" / "loyalty").exists()
    assert not (copy / ".venv").exists(), "ignored files stay out of the copy"

    seen = subprocess.run([sys.executable, "-c", MUTMUT_SEES], cwd=copy, env=_clean_environment(),
                          capture_output=True, text=True, timeout=300)
    assert seen.returncode == 0, seen.stderr
    mutmut = json.loads(seen.stdout.splitlines()[-1])
    packages = {Path(path).relative_to("src/loyalty").parts[0] for path in mutmut["mutated"]}
    assert {"domain", "store", "api", "core", "members", "earning", "rewards", "privacy", "reports", "jobs"} <= packages
    assert "-k" not in mutmut["selection"], "no test is left out of the mutation run"

    mutants = copy / "mutants"
    assert (mutants / "ops" / "reapply_erasures.py").exists() and (mutants / "src" / "loyalty" / "earning" / "use_cases.py").exists()
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *mutmut["selection"]],
        cwd=mutants, env={**_clean_environment(), "PYTHONPATH": str(mutants / "src")},
        capture_output=True, text=True, timeout=600)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    tests = collected.stdout
    assert "test_ledger_stateful.py::TestLedger" in tests and "test_truth_check" in tests and "test_privacy.py" in tests
    assert "error" not in tests.splitlines()[-1].lower(), tests.splitlines()[-1]


def test_the_interval_of_a_score_is_wilsons():
    from collections import Counter

    from benchmarks.mutation_score import interval, score

    # 80 killed of 100: Wilson's 95% interval, worked by hand from p = 0.8, n = 100, z = 1.96:
    # centre = (0.8 + 0.019208) / 1.038416 = 0.788902; half = 1.96 * sqrt(0.0016 + 0.00009604) / 1.038416 = 0.077733
    counts = Counter({"killed": 70, "timeout": 10, "survived": 15, "no tests": 5, "not checked": 400})
    assert score(counts) == 0.8
    low, high = interval(counts)
    assert abs(low - 0.711169) < 1e-5 and abs(high - 0.866634) < 1e-5
    assert interval(Counter({"not checked": 3})) == (0.0, 1.0)


def test_a_sample_draws_the_same_mutants_from_each_package_with_a_target(tmp_path, monkeypatch):
    from benchmarks.mutation_score import TARGETS, sample

    copy = tmp_path / "mutation"
    prepare(ROOT, copy)
    monkeypatch.chdir(copy)  # mutmut reads its configuration from the working directory
    drawn = sample(5)
    assert drawn == sample(5), "the seed is fixed: a sample can be run again"
    by_package = {}
    for name in drawn:
        assert name.startswith("loyalty.") and "__mutmut_" in name
        by_package.setdefault(name.split(".")[1], []).append(name)
    assert set(by_package) == set(TARGETS) and all(len(names) == 5 for names in by_package.values())


def test_no_test_of_the_mutation_run_starts_the_local_runtime():
    """The local runtime runs the functions in processes of its own, where no mutant is switched on and, in the
    copy, the package is not where the runtime looks: such a test belongs in tests/local, outside the selection."""
    import re
    import tomllib

    selection = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]["pytest_add_cli_args_test_selection"]
    starts_it = re.compile(r"def test_\w+\([^)]*\blocal_runtime\b|import local_runtime")
    offenders = [str(path.relative_to(ROOT)) for folder in selection for path in sorted((ROOT / folder).rglob("*.py"))
                 if starts_it.search(path.read_text())]
    assert not offenders, offenders
