"""The import contracts in pyproject.toml hold for the tree, and each one can fail.

For every forbidden-import contract a throw-away tree of empty packages gets one module that
breaks it; `lint-imports` with the project's own contracts must then exit non-zero and name
that contract BROKEN. Without this a misspelt package name would keep the check green.
"""

from __future__ import annotations

import os
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
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONFIG['contracts'])} kept, 0 broken" in result.stdout


FORBIDDEN = [c for c in CONFIG["contracts"] if c["type"] == "forbidden"]


def _broken_tree(tmp_path: Path, source: str, imported: str) -> subprocess.CompletedProcess[str]:
    """lint-imports, with the project's contracts, on empty packages plus one offending import."""
    for package in CONFIG["root_packages"]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / source / "offender.py").write_text(f"import {imported}\n", encoding="utf-8")
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")
    return _lint_imports(tmp_path, pythonpath=tmp_path)


@pytest.mark.parametrize("contract", FORBIDDEN, ids=[c["name"] for c in FORBIDDEN])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, contract: dict[str, Any]) -> None:
    source, forbidden = contract["source_modules"][0], contract["forbidden_modules"][0]
    result = _broken_tree(tmp_path, source, forbidden)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract['name']} BROKEN" in result.stdout
    assert f"{source}.offender -> {forbidden}" in result.stdout


def test_qr_importing_gateways_breaks_their_independence(tmp_path: Path) -> None:
    result = _broken_tree(tmp_path, "qr", "gateways")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "qr and gateways do not import each other BROKEN" in result.stdout
    assert f"{len(CONFIG['contracts']) - 1} kept, 1 broken" in result.stdout
