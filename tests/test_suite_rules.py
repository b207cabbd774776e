"""Rules of the test suite itself, read from its source.

- Helpers live in plain modules (tests/helpers/, tests/wallets.py): no test module imports a
  conftest or another test module, so a fixture file or a test can change without breaking
  tests elsewhere.
- No test sleeps a guessed time to wait for something to happen or not happen: it waits on an
  event, or polls a condition with a deadline (`tests.helpers.waiting`, the one module that
  pauses between two looks).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
POLLING = TESTS / "helpers" / "waiting.py"


def _modules() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if "fixtures" not in path.parts)


def forbidden_imports(source: str) -> list[str]:
    """The conftest and test modules `source` imports from."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names += [module, *(f"{module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    ours = [name for name in names if name.startswith((".", "tests."))]
    return [
        name
        for name in ours
        if any(part == "conftest" or part.startswith("test_") for part in name.split("."))
    ]


def _is_sleep(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "sleep"
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr in ("sleep", "wait_for_timeout"):
        return True
    # threading.Event().wait(t): waiting on an event nobody can set is a sleep.
    made = func.value
    return (
        func.attr == "wait"
        and isinstance(made, ast.Call)
        and ast.unparse(made.func).split(".")[-1] == "Event"
    )


def sleeps(source: str) -> list[int]:
    """Lines of `source` that sleep: time.sleep, asyncio.sleep, a bare imported sleep, a
    page's wait_for_timeout, a wait on a new threading.Event."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and _is_sleep(node)
    ]


def test_the_checks_find_what_they_forbid() -> None:
    assert forbidden_imports("from .conftest import Device\nimport tests.api.test_x as x\n") == [
        ".conftest",
        ".conftest.Device",
        "tests.api.test_x",
    ]
    assert forbidden_imports("from tests.helpers import api\nfrom . import synthetic\n") == []
    assert forbidden_imports("from aiohttp.test_utils import TestClient\n") == []
    source = "import time, asyncio\ntime.sleep(1)\nasync def f():\n    await asyncio.sleep(0)\n"
    assert sleeps(source) == [2, 4]
    assert sleeps("threading.Event().wait(0.01)\nenough.wait(60)\n") == [1]
    assert sleeps("page.wait_for_function('1')\n") == []


def test_no_module_imports_a_conftest_or_a_test_module() -> None:
    found = {
        str(path.relative_to(TESTS)): names
        for path in _modules()
        if (names := forbidden_imports(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_nothing_sleeps_but_the_polling_helpers() -> None:
    found = {
        str(path.relative_to(TESTS)): lines
        for path in _modules()
        if path != POLLING and (lines := sleeps(path.read_text(encoding="utf-8")))
    }
    assert found == {}
    assert sleeps(POLLING.read_text(encoding="utf-8"))  # the pause between two looks
