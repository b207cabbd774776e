"""The import contracts in pyproject.toml hold for the tree, and each one can fail.

A copy of the tree's modules gets one offending module per contract (an import that breaks
it); `lint-imports` with the project's own contracts must then name every contract BROKEN,
each for its offender. Without this a misspelt module name, or a layer list that no longer
matches the packages, would keep the check green.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
    "tool"
]["importlinter"]
CONTRACTS: dict[str, dict[str, Any]] = {c["name"]: c for c in CONFIG["contracts"]}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SOURCES = {package: ROOT / package for package in CONFIG["root_packages"]}
SOURCES["faregate_data"] = ROOT / "data"  # setup.py maps data/ onto faregate_data


def _lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # one line per contract name in the report
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in result.stdout


def _only_python(directory: str, names: list[str]) -> set[str]:
    return {
        name
        for name in names
        if name == "__pycache__"
        or (not name.endswith(".py") and not (Path(directory) / name).is_dir())
    }


def _offence(contract: dict[str, Any]) -> tuple[str, str, str]:
    """(module to add to, the import it gets, what the report then names) that break
    `contract`. Offences go into existing modules (package `__init__`s, a bottom layer), so
    that no contract but its own, and those it implies, sees a new module."""
    kind = contract["type"]
    if kind in ("forbidden", "independence"):
        source, target = (
            (contract["source_modules"][0], contract["forbidden_modules"][0])
            if kind == "forbidden"
            else contract["modules"][:2]
        )
        return f"{source}.__init__", f"import {target}\n", f"{source} -> {target}"
    if kind == "acyclic_siblings":
        # a cycle made only for type checking counts: grimp sees those imports too
        return (
            "qr.cycle_a",
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import qr.cycle_b\n",
            "No cycles are allowed in qr.",
        )
    assert kind == "layers", contract
    container = contract["containers"][0]
    if container == "parking":  # a module given no layer: an exhaustive contract refuses it
        return "parking.newcomer", "", "- parking.newcomer"
    top, bottom = contract["layers"][0], contract["layers"][-1].split(" | ")[0]
    return (
        f"{container}.{bottom}",
        f"import {container}.{top}\n",
        f"{container}.{bottom} -> {container}.{top}",
    )


def test_each_contract_breaks_on_its_offending_import(tmp_path: Path) -> None:
    for package, source in SOURCES.items():
        shutil.copytree(source, tmp_path / package, ignore=_only_python)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "qr" / "cycle_b.py").write_text("import qr.cycle_a\n", encoding="utf-8")
    expected = {}
    for name, contract in CONTRACTS.items():
        module, text, named = _offence(contract)
        path = tmp_path.joinpath(*module.split(".")).with_suffix(".py")
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(before + text, encoding="utf-8")
        expected[name] = named

    result = _lint_imports(tmp_path, pythonpath=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"0 kept, {len(CONTRACTS)} broken" in result.stdout, result.stdout
    report = result.stdout.split("Broken contracts")[1]
    names = list(CONTRACTS)
    starts = [report.index(f"\n{name}\n-") for name in names]
    for name, start, end in zip(names, starts, [*starts[1:], len(report)], strict=True):
        assert expected[name] in report[start:end], (name, report[start:end])


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_every_contract_has_a_name_that_says_what_it_keeps(name: str) -> None:
    assert len(name) <= 72, name  # with " BROKEN" after it, one line of an 80-column log
