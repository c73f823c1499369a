"""What is deployed is what was tested: the layer holds exactly its lock, the tests run the lock's versions, and
every lock agrees with the pins it was made from."""

from __future__ import annotations

import re
import subprocess
import sys
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYER_LOCK = ROOT / "layers" / "loyalty" / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
CHECKOV_LOCK = ROOT / "requirements-checkov.lock"


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(path: Path) -> dict[str, set[str]]:
    """name -> versions (a universal lock may hold one version per Python range), each with its hashes."""
    locked: dict[str, set[str]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)", entry)
        if match:
            assert "--hash=sha256:" in entry, f"{path.name}: {match.group(0)} has no hash"
            locked.setdefault(_name(match.group(1)), set()).add(match.group(2))
    return locked


def _pins(path: Path) -> dict[str, str]:
    """The top-level pins of a requirements file, following -r includes."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(_pins(path.parent / line[3:].strip()))
        elif line:
            name, version = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", line).groups()
            pins[_name(name)] = version
    return pins


@pytest.fixture(scope="module")
def built_layer(tmp_path_factory) -> Path:
    """The layer exactly as `sam build` makes it: build-LoyaltyLayer of the layer's Makefile, run from a scratch
    folder with ARTIFACTS_DIR set (as SAM's makefile builder does). Needs PyPI, or pip's cache."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    scratch = tmp_path_factory.mktemp("scratch")
    subprocess.run(
        ["make", "--no-print-directory", "--makefile", str(ROOT / "layers/loyalty/Makefile"), "build-LoyaltyLayer",
         f"ARTIFACTS_DIR={artifacts}", f"PYTHON={sys.executable}"],
        cwd=scratch, check=True, capture_output=True, text=True, timeout=300,
    )
    return artifacts / "python"


def test_the_layer_holds_exactly_the_locked_packages_and_versions(built_layer):
    shipped = {}
    for info in built_layer.glob("*.dist-info"):
        meta = Parser().parsestr((info / "METADATA").read_text())
        shipped[_name(meta["Name"])] = {meta["Version"]}
    assert shipped == _locked(LAYER_LOCK)
    assert shipped["botocore"] == _locked(DEV_LOCK)["botocore"], "the layer ships the botocore the tests run"


def test_the_layers_wheels_are_for_python313_on_arm64_and_it_carries_the_loyalty_package(built_layer):
    tags = {
        tag
        for info in built_layer.glob("*.dist-info")
        for tag in re.findall(r"^Tag: (\S+)", (info / "WHEEL").read_text(), re.M)
    }
    binary = {tag for tag in tags if not tag.endswith("-none-any")}
    assert binary and all(re.fullmatch(r"cp313-cp313-manylinux(2014|_2_\d+)_aarch64", tag) for tag in binary), binary
    assert (built_layer / "loyalty" / "__init__.py").is_file()
    package = sorted(p.relative_to(built_layer / "loyalty") for p in (built_layer / "loyalty").rglob("*") if p.is_file())
    source = ROOT / "layers" / "loyalty" / "loyalty"
    assert package == sorted(p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert not list(built_layer.rglob("__pycache__")) and not (built_layer / "bin").exists()


def test_the_tests_run_the_versions_the_layer_ships():
    for name, versions in _locked(LAYER_LOCK).items():
        assert {metadata.version(name)} == versions, f"{name}: run `make install`"


def test_the_locks_hold_every_pin_and_agree_with_each_other():
    layer, dev, checkov = _locked(LAYER_LOCK), _locked(DEV_LOCK), _locked(CHECKOV_LOCK)
    for requirements, lock in (
        ("layers/loyalty/requirements.txt", layer), ("requirements-dev.txt", dev), ("requirements-checkov.txt", checkov),
    ):
        for name, version in _pins(ROOT / requirements).items():
            assert lock.get(name) == {version}, f"{requirements} pins {name}=={version}: run `make lock`"
    for name, versions in layer.items():
        assert dev[name] == versions, name
