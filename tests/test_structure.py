"""The shipped package's shape, read from its source (no import is run): modules of at most 400 lines, an import
graph without a circle, and imports that point down the layers only (docs/architecture.md draws them):

    features  members/ earning/ rewards/ campaigns/ reports/ privacy/ jobs/ events/ seed.py (and every new folder)
    core      core/: what the use cases of every feature share (retry, the ledger's commit, "me", caches, composition)
    base      store/ (tables, transaction, keys, the ledger's one write), api/ (resolver, shared fields)
    kernel    domain/ (pure), program.py, settings.py, clock.py

Every import counts: at module level, inside a function, or under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "layers" / "loyalty" / "loyalty"
MAX_LINES = 400
KERNEL, BASE, CORE, FEATURE = 0, 1, 2, 3
LAYERS = {"domain": KERNEL, "program": KERNEL, "settings": KERNEL, "clock": KERNEL,
          "store": BASE, "api": BASE, "core": CORE}  # any other top-level module or folder is a feature
NAMES = {KERNEL: "kernel", BASE: "base", CORE: "core", FEATURE: "feature"}
IMPURE = ("boto3", "botocore", "pynamodb", "aws_lambda_powertools")  # what the domain never imports


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that `path` (module `name`) imports: `from a.b import c` is a.b.c when that is a
    module, else a.b; relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:  # `import loyalty.domain.ledger.x` -> the module that exists
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    found = modules(package)
    return {name: imported(path, name, set(found)) for name, path in found.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], FEATURE) if len(parts) > 1 else KERNEL


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), and modules importing themselves."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def upward(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{source} ({NAMES[layer(source)]}) -> {target} ({NAMES[layer(target)]})"
                  for source, targets in edges.items() for target in targets if layer(target) > layer(source))


def test_no_module_of_the_package_is_over_400_lines():
    long = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: lines for name, lines in long.items() if lines > MAX_LINES} == {}


def test_the_package_has_no_import_circle():
    assert circles(graph()) == []


def test_imports_point_down_the_layers_only():
    assert upward(graph()) == []


def test_the_domain_is_pure_and_the_package_knows_no_handler_nor_the_local_runtime():
    outside = defaultdict(set)
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                roots = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for root in roots:
                    top = root.split(".")[0]
                    if top in ("loyalty_local", "functions", "tests", "benchmarks", "ops") or (
                            layer(name) == KERNEL and name.startswith("loyalty.domain") and top in IMPURE):
                        outside[name].add(root)
    assert dict(outside) == {}


def local_mode_tests(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Where the package would tell local mode apart: a comparison with "local", a LOCAL_* variable, a name LOCAL."""
    found = defaultdict(set)
    for name, path in modules(package).items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                found[name].update(repr(side.value) for side in [node.left, *node.comparators]
                                   if isinstance(side, ast.Constant) and str(side.value).strip().lower() == "local")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("LOCAL_"):
                found[name].add(repr(node.value))
            elif isinstance(node, ast.Name) and node.id == "LOCAL" or isinstance(node, ast.alias) and (
                    node.asname or node.name).split(".")[-1] == "LOCAL":
                found[name].add("LOCAL")
    return {module: places for module, places in found.items() if places}


def test_the_package_never_tests_for_local_mode():
    """The local runtime injects its clock, job queue and event sink (core/platform.py, loyalty_local/local_platform.py)."""
    assert local_mode_tests() == {}


# The checks themselves, on small packages written here: each must see what it is there to see.

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = tmp_path / "loyalty" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "loyalty"


def test_the_graph_sees_every_kind_of_import(tmp_path):
    package = _package(tmp_path, {
        "__init__.py": "", "domain/__init__.py": "", "domain/a.py": "", "domain/b.py": "X = 1\n",
        "domain/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from loyalty.domain.a import Y\n",
        "domain/d.py": "def f():\n    from . import b\n    import loyalty.domain.c\n",
        "domain/e.py": "from loyalty.domain import a, b\nfrom .b import X\n",
    })
    edges = graph(package)
    assert edges["loyalty.domain.c"] == {"loyalty.domain.a"}
    assert edges["loyalty.domain.d"] == {"loyalty.domain.b", "loyalty.domain.c"}
    assert edges["loyalty.domain.e"] == {"loyalty.domain.a", "loyalty.domain.b"}


@pytest.mark.parametrize(("edges", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),  # the circle the domain had
    ({"a": {"a"}}, [["a"]]),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
])
def test_circles_are_found(edges, expected):
    assert sorted(circles(edges)) == expected


def test_a_test_for_local_mode_is_found(tmp_path):
    package = _package(tmp_path, {
        "__init__.py": "", "a.py": 'if bus == "local":\n    pass\n', "b.py": "import os\nos.environ.get('LOCAL_CLOCK_FILE')\n",
        "c.py": "from loyalty.settings import LOCAL\n", "d.py": "where, local = {'local': 1}, 2\n",
    })
    assert local_mode_tests(package) == {"loyalty.a": {"'local'"}, "loyalty.b": {"'LOCAL_CLOCK_FILE'"},
                                         "loyalty.c": {"LOCAL"}}


def test_an_import_up_the_layers_is_named():
    edges = {"loyalty.domain.ledger": {"loyalty.store.keys"}, "loyalty.store.ledger": {"loyalty.domain.ledger"},
             "loyalty.core.retry": {"loyalty.earning.store"}, "loyalty.earning.store": {"loyalty.insights.x"}}
    assert upward(edges) == ["loyalty.core.retry (core) -> loyalty.earning.store (feature)",
                             "loyalty.domain.ledger (kernel) -> loyalty.store.keys (base)"]
