"""Every exception class lives in its package's `errors` module: none in stores, services,
routes or pages, so one place per package lists everything it can raise (and the HTTP error
table in faregate/api/problems.py can be checked against those places)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

PACKAGES = ("qr", "gateways", "ticketing", "parking", "simulators", "faregate")
# Not importable on their own: the CLI entry point runs on import; Alembic's env needs its
# context.
NOT_IMPORTED = ("__main__", "faregate.migrations")


def _modules() -> list[str]:
    names = list(PACKAGES)
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names += [info.name for info in pkgutil.walk_packages(path, f"{package}.")]
    return [n for n in names if not any(part in n for part in NOT_IMPORTED)]


def test_exception_classes_are_defined_only_in_errors_modules() -> None:
    modules = _modules()
    assert "ticketing.services.passengers" in modules  # the walk reaches nested packages
    outside = [
        f"{name}.{attribute}"
        for name in modules
        for attribute, value in vars(importlib.import_module(name)).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == name
        and name.rpartition(".")[2] != "errors"
    ]
    assert outside == []
