"""No import cycles in our packages, counting imports made only under TYPE_CHECKING.

Two levels: no module imports itself through others, and no package's children import each
other in a circle (e.g. `ticketing.db` reaching up into `ticketing.services`, which uses it).
The graph is grimp's (the library import-linter is built on).
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

PACKAGES = ("qr", "ticketing", "parking", "gateways", "simulators", "faregate")
# None left: journeys moved into `ticketing.fares` (ticketing.fares.journeys), which they read
# the feed of and which prices them. Any package-level cycle fails the test.
KNOWN_PACKAGE_CYCLES: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=False)


def module_cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One shortest cycle through each import that closes one, each cycle reported once."""
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                found.setdefault(frozenset(back), (importer, *back))
    return sorted(found.values())


def package_cycles(graph: grimp.ImportGraph) -> set[tuple[str, str]]:
    """Imports whose removal would leave the children of every package acyclic."""
    breakers: set[tuple[str, str]] = set()
    for top in PACKAGES:
        for package in sorted({top, *graph.find_descendants(top)}):
            if graph.find_children(package):
                breakers |= graph.nominate_cycle_breakers(package)
    return breakers


def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    assert module_cycles(graph) == []


def test_no_sibling_packages_import_each_other_in_a_circle(graph: grimp.ImportGraph) -> None:
    assert package_cycles(graph) - KNOWN_PACKAGE_CYCLES == set()


def test_the_checks_see_a_cycle_made_only_under_type_checking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package whose two subpackages import each other, one side only for type checking."""
    root = tmp_path / "cyclic"
    for package in (root, root / "db", root / "services"):
        package.mkdir()
        (package / "__init__.py").write_text("")
    (root / "db" / "uow.py").write_text("from cyclic.services.taps import TapStore\n")
    (root / "services" / "taps.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from cyclic.db.uow import UnitOfWork\n"
        "class TapStore: ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic", include_external_packages=False, cache_dir=None)
    assert module_cycles(graph) == [("cyclic.db.uow", "cyclic.services.taps", "cyclic.db.uow")]
    assert graph.nominate_cycle_breakers("cyclic")


# ticketing's layers, top first (docs/ARCHITECTURE.md): each may use those below it, never above.
TICKETING_LAYERS = (
    "ticketing.services",
    "ticketing.payments",
    "ticketing.unit_of_work",
    "ticketing.stores",
    "ticketing.db",
    "ticketing.postings",
)
PURE_RULES = ("ticketing.ledger", "ticketing.fares", "ticketing.riders", "ticketing.taps")


def test_ticketing_layers_point_down(graph: grimp.ImportGraph) -> None:
    upward = [
        (lower, upper)
        for n, upper in enumerate(TICKETING_LAYERS)
        for lower in (*TICKETING_LAYERS[n + 1 :], *PURE_RULES)
        if graph.chain_exists(importer=lower, imported=upper, as_packages=True)
    ]
    assert upward == []
