"""Mutation testing: the copy mutmut runs in, and the score of the last run by package, file and line.

`python -m benchmarks.mutation_score prepare .mutation` builds the copy (run from the repository):
every file git knows of (tracked, or new and not ignored), with the layer's package moved to
src/loyalty, because mutmut names a mutant after its file's path (minus "src."), which must be the
module the tests import. mutmut copies only what `also_copy` names into its mutants/ folder, so
the copy's pyproject.toml gets every top-level entry of the copy there: whatever the tests import
(ops/, loyalty_local/, ...) comes along without a list to keep.

`python -m benchmarks.mutation_score sample N` (in the copy) prints the names of N mutants drawn at
random (seed fixed) from each package with a target, for `mutmut run NAMES...`: a whole run is hours
on 2 cores, a sample of a few hundred gives each package's score within a stated interval.

`python -m benchmarks.mutation_score` (in the directory mutmut ran in) prints the score per
package and file (with a 95% Wilson interval: exact for a whole run, an estimate for a sample) and
every surviving mutant; it fails when a package misses its TARGETS.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.mutation.file_mutation import mutate_file_contents
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files
from mutmut.utils.format_utils import get_mutant_name, orig_function_and_class_names_from_key

TARGETS = {"domain": 0.85, "store": 0.70, "api": 0.70}  # share of a package's mutants killed
PACKAGE = "layers/loyalty/loyalty"  # in the repository; src/loyalty in the copy
COUNTED = ("killed", "survived", "timeout", "no tests", "suspicious", "not checked")


def files_to_copy(root: Path) -> list[str]:
    """The repository's files as git sees them (tracked or new, never ignored), that exist on disk."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            check=True, capture_output=True).stdout.decode().split("\0")
    return sorted(name for name in listed if name and (root / name).is_file())


def prepare(root: Path, target: Path) -> list[str]:
    """Build the copy mutmut runs in; answers the top-level entries it lists in `also_copy`."""
    shutil.rmtree(target, ignore_errors=True)
    for name in files_to_copy(root):
        destination = target / ("src/loyalty" + name.removeprefix(PACKAGE) if name.startswith(PACKAGE + "/") else name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, destination)
    entries = sorted(entry.name + ("/" if entry.is_dir() else "") for entry in target.iterdir() if entry.name != "src")
    config = target / "pyproject.toml"
    text, count = re.subn(r"(?m)^also_copy = \[.*\]$", f"also_copy = {json.dumps(entries)}", config.read_text())
    assert count == 1, "pyproject.toml's [tool.mutmut] needs one `also_copy = [...]` line to fill in"
    config.write_text(text)
    return entries


def package_of(path: Path) -> str:
    """domain, store, api or a module's name (service): what the score is given for."""
    parts = path.relative_to("src/loyalty").parts
    return parts[0] if len(parts) > 1 else path.stem


def where(path: Path, mutant: str) -> tuple[int, str, str]:
    """(line, original text, mutated text) of a mutant's first changed line."""
    diff = get_diff_for_mutant(mutant, path=path).splitlines()[3:]
    removed = next((line[1:] for line in diff if line.startswith("-")), "")
    added = next((line[1:] for line in diff if line.startswith("+")), "")
    if len([line for line in diff if line.startswith("-")]) > len([line for line in diff if line.startswith("+")]):
        added = "(line deleted)"  # e.g. an argument dropped from a call written over several lines
    function, _ = orig_function_and_class_names_from_key(mutant)
    source = path.read_text().splitlines()
    start = next((n for n, text in enumerate(source) if text.lstrip().startswith(f"def {function}(")), 0)
    line = next((n for n in range(start, len(source)) if source[n].strip() == removed.strip()), start)
    return line + 1, removed.strip(), added.strip()


def decided(counts: Counter) -> int:
    return counts["killed"] + counts["timeout"] + counts["survived"] + counts["no tests"]


def score(counts: Counter) -> float:
    return (counts["killed"] + counts["timeout"]) / decided(counts) if decided(counts) else 0.0


def interval(counts: Counter, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of the share killed, as if the decided mutants were drawn at random."""
    n = decided(counts)
    if not n:
        return 0.0, 1.0
    p = score(counts)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def sample(per_package: int, seed: int = 20) -> list[str]:
    """`per_package` mutant names drawn at random from each package with a target (all of a smaller one)."""
    names: dict[str, list[str]] = {}
    for path in sorted(walk_mutatable_files()):
        if package_of(path) in TARGETS:
            mutants = mutate_file_contents(str(path), path.read_text()).mutant_names
            names.setdefault(package_of(path), []).extend(get_mutant_name(path, name) for name in mutants)
    chosen = random.Random(seed)
    return sorted(name for package in sorted(names) for name in
                  chosen.sample(names[package], min(per_package, len(names[package]))))


def main() -> int:
    by_file: dict[Path, Counter] = {}
    survivors: list[tuple[str, int, str, str]] = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        counts = Counter(status_by_exit_code[code] for code in data.exit_code_by_key.values())
        if not counts:
            continue
        by_file[path] = counts
        for mutant, code in data.exit_code_by_key.items():
            if status_by_exit_code[code] in ("survived", "no tests"):
                line, before, after = where(path, mutant)
                survivors.append((str(path).removeprefix("src/"), line, before, after))
    if not by_file:
        print("no mutation results here: run `make mutation`")
        return 1

    print(f"{'file':<32} " + " ".join(f"{status:>11}" for status in COUNTED) + f" {'killed %':>9} {'95% interval':>14}")
    by_package: dict[str, Counter] = {}
    everything = Counter()
    for path, counts in sorted(by_file.items()):
        print(f"{str(path).removeprefix('src/'):<32} " + " ".join(f"{counts[s]:>11}" for s in COUNTED) + f" {score(counts):>9.1%}")
        everything.update(counts)
        by_package.setdefault(package_of(path), Counter()).update(counts)
    print()
    for label, counts in [*sorted(by_package.items()), ("all", everything)]:
        low, high = interval(counts)
        print(f"{label:<32} " + " ".join(f"{counts[s]:>11}" for s in COUNTED) + f" {score(counts):>9.1%}"
              f" {low:>6.0%}-{high:<6.0%}")
    print(f"\nSurviving mutants ({len(survivors)}): file:line, the original and the mutated code")
    for file, line, before, after in sorted(survivors):
        print(f"  {file}:{line}\n      - {before}\n      + {after}")
    missed = [f"{package}/: {score(by_package[package]):.1%} of its mutants killed (target {target:.0%})"
              for package, target in TARGETS.items() if package in by_package and score(by_package[package]) < target]
    for line in missed:
        print(f"MISSED: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"]:
        print("copied; also_copy =", prepare(Path.cwd(), Path(sys.argv[2])))
        sys.exit(0)
    if sys.argv[1:2] == ["sample"]:
        print("\n".join(sample(int(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
