"""The score of the last `make mutation` run and its surviving mutants, by file and line.

Run in the directory mutmut ran in (.mutation/, where `make mutation` puts it). Fails when fewer
than TARGET of domain/'s mutants were killed.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files
from mutmut.utils.format_utils import orig_function_and_class_names_from_key

TARGET = 0.80  # of domain/'s mutants killed
COUNTED = ("killed", "survived", "timeout", "no tests", "suspicious", "not checked")


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


def score(counts: Counter) -> float:
    decided = counts["killed"] + counts["timeout"] + counts["survived"] + counts["no tests"]
    return (counts["killed"] + counts["timeout"]) / decided if decided else 0.0


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

    print(f"{'file':<28} " + " ".join(f"{status:>11}" for status in COUNTED) + f" {'killed %':>9}")
    domain, everything = Counter(), Counter()
    for path, counts in sorted(by_file.items()):
        print(f"{str(path).removeprefix('src/'):<28} " + " ".join(f"{counts[s]:>11}" for s in COUNTED) + f" {score(counts):>9.1%}")
        everything.update(counts)
        if "/domain/" in str(path):
            domain.update(counts)
    for label, counts in (("domain/", domain), ("all", everything)):
        print(f"{label:<28} " + " ".join(f"{counts[s]:>11}" for s in COUNTED) + f" {score(counts):>9.1%}")
    print(f"\nSurviving mutants ({len(survivors)}): file:line, the original and the mutated code")
    for file, line, before, after in sorted(survivors):
        print(f"  {file}:{line}\n      - {before}\n      + {after}")
    if score(domain) < TARGET:
        print(f"\nMISSED: {score(domain):.1%} of domain/'s mutants killed (target {TARGET:.0%})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
