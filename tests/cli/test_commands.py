"""The `faregate` group finds each command by its name and imports only that command's module:
a `faregate qr` or `faregate parking` process does not load the backend."""

from __future__ import annotations

import subprocess
import sys

import click

from faregate.cli import COMMANDS, cli


def test_each_command_is_found_by_its_name_and_listed() -> None:
    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert isinstance(command, click.Command)
        assert command.name == name
    assert cli.get_command(context, "nonsense") is None
    assert cli.list_commands(context) == sorted(COMMANDS)


def test_a_light_command_leaves_the_backend_unimported() -> None:
    code = (
        "import sys; from faregate.cli import cli; "
        "cli(['parking', 'tariffs'], standalone_mode=False); "
        "print(sorted(m for m in ('sqlalchemy', 'aiohttp', 'faregate.api') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "hanoi-car" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"
