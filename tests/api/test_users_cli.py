"""`faregate users add` / `sign-out`: staff users from the command line; bad input is one
`Error:` line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faregate.cli import main
from faregate.config import Settings
from faregate.database import open_database
from ticketing.services.users import sign_in, user_for_token
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import ApiUser, UserRole

PASSWORD = "a long enough password"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


async def _sign_in(data_dir: Path, username: str, password: str) -> ApiUser | None:
    engine = await open_database(Settings(data_dir=data_dir))
    try:
        uows = UnitOfWorkFactory(engine)
        session = await sign_in(uows, username, password)
        return await user_for_token(uows, session.token)
    finally:
        await engine.dispose()


async def _hashed_at(data_dir: Path, username: str) -> int:
    """The scrypt work factor (n) of the user's stored password hash."""
    engine = await open_database(Settings(data_dir=data_dir))
    try:
        async with UnitOfWorkFactory(engine)() as uow:
            stored = await uow.users.get(username)
    finally:
        await engine.dispose()
    assert stored is not None
    return int(stored.password_hash.split("$")[1])


def test_add_from_a_password_file_then_sign_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "var"
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    code, out, _ = run(
        ["--data-dir", str(data), "users", "add", "alice", "--role", "finance",
         "--password-file", str(secret)],
        capsys,
    )  # fmt: skip
    assert (code, out) == (0, "created finance user alice\n")
    assert asyncio.run(_sign_in(data, "alice", PASSWORD)) == ApiUser("alice", UserRole.FINANCE)
    assert asyncio.run(_hashed_at(data, "alice")) == 2**14  # the production cost by default
    code, out, _ = run(["--data-dir", str(data), "users", "sign-out", "alice"], capsys)
    assert (code, out) == (0, "revoked 1 token(s) of alice\n")


def test_add_prompts_for_the_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from faregate.cli import cli

    data = tmp_path / "var"
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(data), "users", "add", "ops", "--role", "operator"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert asyncio.run(_sign_in(data, "ops", PASSWORD)) == ApiUser("ops", UserRole.OPERATOR)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad name", "--role", "finance"], "Error: username 'bad name' must be"),
        (["fin", "--role", "finance", "--password-file", "{short}"], "Error: a password has 10"),
        (["fin", "--role", "finance", "--password-file", "{missing}"], "Error: cannot read"),
        (["fin", "--role", "finance", "--password-file", "{empty}"], "Error: the password file"),
        (["fin", "--role", "passenger", "--password-file", "{ok}"], "Invalid value for '--role'"),
        (["taken", "--role", "operator", "--password-file", "{ok}"], "Error: user 'taken' exists"),
    ],
)
def test_bad_input_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    data = tmp_path / "var"
    files = {name: tmp_path / name for name in ("short", "missing", "empty", "ok")}
    files["short"].write_text("short\n")
    files["empty"].write_text("\n")
    files["ok"].write_text(PASSWORD)
    base = ["--data-dir", str(data), "users", "add"]
    assert (
        run([*base, "taken", "--role", "finance", "--password-file", str(files["ok"])], capsys)[0]
        == 0
    )
    if args[0] == "bad name":
        args = [*args, "--password-file", str(files["ok"])]
    code, _, err = run([*base, *(a.format(**files) for a in args)], capsys)
    assert code != 0
    assert message in err
    assert "Traceback" not in err


def test_the_scrypt_cost_is_configured_by_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, secret = tmp_path / "var", tmp_path / "pw"
    secret.write_text(PASSWORD)
    add = ["--data-dir", str(data), "users", "add", "bob", "--role", "operator"]
    monkeypatch.setenv("FAREGATE_SCRYPT_N", "256")
    assert run([*add, "--password-file", str(secret)], capsys)[0] == 0
    assert asyncio.run(_hashed_at(data, "bob")) == 256
    assert asyncio.run(_sign_in(data, "bob", PASSWORD)) == ApiUser("bob", UserRole.OPERATOR)
    for bad in ("1000", "1", "65536", "many"):
        monkeypatch.setenv("FAREGATE_SCRYPT_N", bad)
        code, _, err = run([*add, "--password-file", str(secret)], capsys)
        assert code == 2
        assert "Invalid value for '--scrypt-n'" in err
        assert "Traceback" not in err
