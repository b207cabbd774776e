"""Bad input to every command ends in one `Error:` line and a non-zero exit, never a traceback.

Each row is a command line; `{name}` fields are files the fixture prepares (broken key sets,
deeply nested JSON, binary files, a path under a regular file...). The command runs through
`faregate.cli.main`, the console entry point, so an exception that is not one of our errors
escapes and fails the test with its traceback.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from faregate.cli import cli, main
from tests.helpers.databases import new_schema_name, run_on_server

T0 = "2025-06-01T00:00:00Z"
AT = "2025-06-01T08:30:07+07:00"
NESTED = "[" * 100_000 + "]" * 100_000
PG = "postgresql+asyncpg://postgres@127.0.0.1"

URLS = {
    "unknown driver": "mysql://user@localhost/db",
    "sync sqlite driver": "sqlite:///faregate.db",
    "sync postgres driver": "postgresql://postgres@127.0.0.1/test",
    "garbage": "not a url at all",
    "port not a number": "postgresql+asyncpg://u:secret@127.0.0.1:abc/test",
    "port out of range": "postgresql+asyncpg://u:secret@127.0.0.1:99999999/test",
    "unclosed ipv6 host": "postgresql+asyncpg://u@[::1/test",
    "nul in sqlite path": "sqlite+aiosqlite:///nul\x00byte.db",
    "scheme only": "postgresql+asyncpg://",
    "missing host": "postgresql+asyncpg:///test",
    "missing database": f"{PG}:5432",
    "refused port": f"{PG}:1/test",
    "unresolvable host": "postgresql+asyncpg://postgres@faregate-no-such-host.invalid/test",
    "unknown database": f"{PG}:5432/faregate_no_such_database",
    "sqlite under /proc": "sqlite+aiosqlite:////proc/faregate-none/x.db",
    "sqlite under a file": "sqlite+aiosqlite:///{file}/x.db",
    "sqlite on a directory": "sqlite+aiosqlite:///{dir}",
    "sqlite on a non-database file": "sqlite+aiosqlite:///{binary}",
}

ISSUE = "qr issue --keys {keys} --credential-id 7 --product M2A-DAY --out {tmp}/c.json"
VERIFY = "qr verify --keys {keys} --text {token} --at " + AT
QUOTE = "fares quote --legs"
PARKING = "parking quote --tariff hanoi-car --vehicle car"
CASES: dict[str, str] = {
    # keys
    "init period over 120": "keys init {tmp}/k --period 121",
    "init period 0": "keys init {tmp}/k --period 0",
    "init period not a number": "keys init {tmp}/k --period abc",
    "init at year 1": "keys init {tmp}/k --at 0001-01-01T00:00:00Z",
    "init at year 1 east": "keys init {tmp}/k --at 0001-01-01T00:00:00+14:00",
    "init at year 9999": "keys init {tmp}/k --at 9999-12-31T23:59:59Z",
    "init at year 9999 west": "keys init {tmp}/k --at 9999-12-31T23:59:59-12:00",
    "init before 1970": "keys init {tmp}/k --at 1969-12-31T23:59:59Z",
    "init naive time": "keys init {tmp}/k --at 2025-06-01T00:00:00",
    "init garbage time": "keys init {tmp}/k --at yesterday",
    "init over a file": "keys init {file}",
    "init twice": "keys init {keys}",
    "init lifetime 0": "keys init {tmp}/k --lifetime-days 0",
    "init where nothing can be made": "keys init /proc/faregate-none/k",
    "rotate nested key set": "keys rotate {nested_keys}",
    "rotate inverted key set": "keys rotate {inverted_keys}",
    "rotate binary key set": "keys rotate {binary_keys}",
    "rotate period over 120": "keys rotate {keys} --period 121",
    "rotate at year 9999": "keys rotate {keys} --at 9999-12-31T00:00:00Z",
    "rotate keys ending after 8999": "keys rotate {keys} --at 8999-06-01T00:00:00Z",
    "verify state with an infinite step": VERIFY + " --state {infinite_state}",
    "export nested key set": "keys export {nested_keys}",
    "export inverted key set": "keys export {inverted_keys}",
    "export empty directory": "keys export {dir}",
    "export key set that is a directory": "keys export {dir_keys}",
    "export liveness period 3600": "keys export {slow_keys}",
    # qr issue
    "issue at year 1": ISSUE + " --at 0001-01-01T00:00:00Z",
    "issue at year 9999": ISSUE + " --at 9999-12-31T23:59:59Z",
    "issue valid from year 9999": ISSUE + " --at " + AT + " --valid-from 9999-12-31T00:00:00Z",
    "issue valid until year 1": ISSUE + " --at " + AT + " --valid-until 0001-01-02T00:00:00Z",
    "issue before the keys": ISSUE + " --at 2020-01-01T00:00:00Z",
    "issue out in a missing dir": ISSUE.replace("{tmp}/c.json", "{tmp}/none/c.json"),
    "issue out is a directory": ISSUE.replace("{tmp}/c.json", "{dir}"),
    "issue bad product": ISSUE.replace("M2A-DAY", "m2a day!"),
    "issue unknown category": ISSUE + " --category martian",
    "issue negative id": ISSUE.replace("--credential-id 7", "--credential-id -1"),
    "issue id over 64 bits": ISSUE.replace(
        "--credential-id 7", "--credential-id 18446744073709551616"
    ),
    "issue nested key set": ISSUE.replace("{keys}", "{nested_keys}"),
    "issue inverted key set": ISSUE.replace("{keys}", "{inverted_keys}"),
    "issue without private keys": ISSUE.replace("{keys}", "{public_keys}"),
    # qr token
    "token nested credential": "qr token --credential {nested}",
    "token binary credential": "qr token --credential {binary}",
    "token credential of another kind": "qr token --credential {keys}/keyset.json",
    "token credential period 3600": "qr token --credential {slow_cred}",
    "token at year 1": "qr token --credential {cred} --at 0001-01-01T00:00:00Z",
    "token at year 9999": "qr token --credential {cred} --at 9999-12-31T23:59:59Z",
    "token png in a missing dir": "qr token --credential {cred} --png {tmp}/none/t.png",
    "token svg is a directory": "qr token --credential {cred} --svg {dir}",
    # qr verify
    "verify nested state": VERIFY + " --state {nested}",
    "verify binary state": VERIFY + " --state {binary}",
    "verify state of another kind": VERIFY + " --state {keys}/keyset.json",
    "verify state in a missing dir": VERIFY + " --state {tmp}/none/state.json",
    "verify nested deny list": VERIFY + " --deny {nested}",
    "verify binary deny list": VERIFY + " --deny {binary}",
    "verify at year 1": "qr verify --keys {keys} --text {token} --at 0001-01-01T00:00:00Z",
    "verify at year 9999": "qr verify --keys {keys} --text {token} --at 9999-12-31T23:59:59Z",
    "verify passback nan": VERIFY + " --passback-seconds nan",
    "verify passback inf": VERIFY + " --passback-seconds inf",
    "verify passback negative": VERIFY + " --passback-seconds -1",
    "verify nested key set": VERIFY.replace("{keys}", "{nested_keys}"),
    "verify inverted key set": VERIFY.replace("{keys}", "{inverted_keys}"),
    "verify without liveness keys": VERIFY.replace("{keys}", "{public_keys}"),
    "verify neither text nor image": "qr verify --keys {keys}",
    # qr show
    "show nested credential": "qr show --credential {nested} --iterations 1",
    "show at year 9999": "qr show --credential {cred} --iterations 2 --at 9999-12-31T23:59:59Z",
    "show at year 1": "qr show --credential {cred} --iterations 2 --at 0001-01-01T00:00:00Z",
    # fares quote
    "quote nested legs": QUOTE + " {nested}",
    "quote binary legs": QUOTE + " {binary}",
    "quote leg at year 1": QUOTE + " {legs_year_1}",
    "quote leg at year 9999": QUOTE + " {legs_year_9999}",
    "quote naive leg": QUOTE + " {legs_naive}",
    "quote legs not a list": QUOTE + " {keys}/keyset.json",
    "quote feed is a json file": QUOTE + " {legs_ok} --feed {keys}/keyset.json",
    "quote feed is an empty dir": QUOTE + " {legs_ok} --feed {dir}",
    "quote unknown category": QUOTE + " {legs_ok} --category martian",
    # db upgrade, ledger check, demo: every way a database URL can be wrong
    **{f"db upgrade {k}": f"--database-url {u} db upgrade" for k, u in URLS.items()},
    **{f"ledger check {k}": f"--database-url {u} ledger check" for k, u in URLS.items()},
    **{f"demo {k}": f"--database-url {u} demo --riders 2" for k, u in URLS.items()},
    "db upgrade unknown revision": "--data-dir {tmp}/d db upgrade --revision abc123",
    "db upgrade revision garbage": "--data-dir {tmp}/d db upgrade --revision +-+",
    "db upgrade data dir is a file": "--data-dir {file} db upgrade",
    "ledger check data dir is a file": "--data-dir {file} ledger check",
    "ledger check not migrated": "--database-url sqlite+aiosqlite:///{empty_db} ledger check",
    "demo data dir is a file": "--data-dir {file} demo --riders 2",
    "demo unknown fault": "--data-dir {tmp}/d demo --riders 2 --faults gate_kiled",
    "demo fault dose out of range": "--data-dir {tmp}/d demo --riders 2 --faults gateway_500=2",
    "demo with two passenger counts": "--data-dir {tmp}/d demo --riders 2 --passengers 3",
    "demo on two servers without PostgreSQL": "--data-dir {tmp}/d demo --riders 2 --servers 2",
    "demo on no server": "--data-dir {tmp}/d demo --riders 2 --servers 0",
    "demo's own database URL garbage": "--data-dir {tmp}/d demo --database-url nonsense",
    "db upgrade past the last migration": "--data-dir {tmp}/d db upgrade --revision head+5",
    "db upgrade before the first migration": "--data-dir {tmp}/d db upgrade --revision base+99",
    "db upgrade from a revision past the end": "--data-dir {tmp}/d db upgrade --revision 0003+99",
    # serve: refused before anything starts
    "serve on a port in use": "--data-dir {tmp}/d serve --port {busy_port}",
    "serve on a host that is no address": "--data-dir {tmp}/d serve --host 999.1.1.1",
    "serve on a host with an empty label": "--data-dir {tmp}/d serve --host a..b",
    "serve at a simulated time that is none": "--data-dir {tmp}/d serve --simulated-time noon",
    "serve at a simulated time without offset": (
        "--data-dir {tmp}/d serve --simulated-time 2026-11-24T06:00"
    ),
    # worker
    "worker poll nan": "--data-dir {tmp}/d worker --once --poll nan",
    "worker poll inf": "--data-dir {tmp}/d worker --once --poll inf",
    "worker poll negative": "--data-dir {tmp}/d worker --once --poll -1",
    "worker at a simulated time that is none": "--data-dir {tmp}/d worker --simulated-time noon",
    "worker at a simulated time without offset": (
        "--data-dir {tmp}/d worker --simulated-time 2026-11-24T06:00"
    ),
    # users
    "users sign-out of nobody": "--data-dir {tmp}/d users sign-out nobody",
    # parking quote: instants are kept to 1970..8999 as everywhere
    "parking quote entry at year 1": PARKING + " --entry 0001-01-01T00:00:00Z --exit " + AT,
    "parking quote entry at year 1 east": PARKING
    + " --entry 0001-01-01T00:00:00+14:00 --exit "
    + AT,
    "parking quote entry in 1969": PARKING + " --entry 1969-12-31T23:59:00Z --exit " + AT,
    "parking quote exit in 9000": PARKING + " --entry " + AT + " --exit 9000-01-01T00:00:00Z",
    "parking quote exit at year 9999": PARKING
    + " --entry "
    + AT
    + " --exit 9999-12-31T23:59:59-12:00",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("bad-input")
    keys = base / "keys"
    main_ok("keys", "init", str(keys), "--at", T0)
    cred = base / "phone.json"
    main_ok(
        "qr", "issue", "--keys", str(keys), "--credential-id", "4711", "--product", "M2A-DAY",
        "--at", T0, "--valid-until", "2025-06-02T00:00:00Z", "--out", str(cred),
    )  # fmt: skip
    token = _token(cred)

    def keys_copy(name: str) -> Path:
        copy = base / name
        shutil.copytree(keys, copy)
        return copy

    nested_keys = keys_copy("nested-keys")
    (nested_keys / "keyset.json").write_text(NESTED)
    inverted_keys = keys_copy("inverted-keys")
    doc = json.loads((keys / "keyset.json").read_text())
    doc["issuer_keys"][0]["not_after"] = "2020-01-01T00:00:00Z"
    (inverted_keys / "keyset.json").write_text(json.dumps(doc))
    slow_keys = keys_copy("slow-keys")
    doc = json.loads((keys / "keyset.json").read_text())
    doc["liveness_keys"][0]["period"] = 3600
    (slow_keys / "keyset.json").write_text(json.dumps(doc))
    binary_keys = keys_copy("binary-keys")
    (binary_keys / "keyset.json").write_bytes(b"\xff\xfe\x00\x81")
    dir_keys = base / "dir-keys"
    (dir_keys / "keyset.json").mkdir(parents=True)
    public_keys = base / "public-keys"
    public_keys.mkdir()
    shutil.copy(keys / "keyset.json", public_keys / "keyset.json")
    slow_cred = base / "slow-phone.json"
    doc = json.loads(cred.read_text())
    doc["period"] = 3600
    slow_cred.write_text(json.dumps(doc))

    (base / "nested.json").write_text(NESTED)
    use = {"step": float("inf"), "at": 1, "gate": "G"}  # written as JSON Infinity
    memory = {"format": "faregate-gate-memory/1", "uses": {"1": use}}
    (base / "infinite-state.json").write_text(
        json.dumps({"format": "faregate-gate-state/1", "gates": {"GATE-1": memory}})
    )
    (base / "binary.bin").write_bytes(b"\xff\xfe\x00\x81" * 64)
    (base / "file.txt").write_text("a regular file\n")
    (base / "empty-dir").mkdir()
    (base / "empty.db").write_bytes(b"")
    leg = {"route_id": "m2a", "from_stop_id": "m2a_01", "to_stop_id": "m2a_12"}
    for name, departure in (
        ("ok", "2026-11-24T08:00:00+07:00"),
        ("year_1", "0001-01-01T00:00:00+07:00"),
        ("year_9999", "9999-12-31T23:59:59-05:00"),
        ("naive", "2026-11-24T08:00:00"),
    ):
        (base / f"legs-{name}.json").write_text(json.dumps([{**leg, "departure": departure}]))
    return {
        "tmp": str(base / "work"),
        "keys": str(keys),
        "cred": str(cred),
        "token": token,
        "nested_keys": str(nested_keys),
        "inverted_keys": str(inverted_keys),
        "slow_keys": str(slow_keys),
        "binary_keys": str(binary_keys),
        "dir_keys": str(dir_keys),
        "public_keys": str(public_keys),
        "slow_cred": str(slow_cred),
        "nested": str(base / "nested.json"),
        "infinite_state": str(base / "infinite-state.json"),
        "binary": str(base / "binary.bin"),
        "file": str(base / "file.txt"),
        "dir": str(base / "empty-dir"),
        "empty_db": str(base / "empty.db"),
        **{
            f"legs_{n}": str(base / f"legs-{n}.json")
            for n in ("ok", "year_1", "year_9999", "naive")
        },
    }


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def main_ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _token(cred: Path) -> str:
    return main_ok("qr", "token", "--credential", str(cred), "--at", AT).strip()


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield taken.getsockname()[1]


@pytest.mark.parametrize("template", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_one_error_line(
    template: str,
    files: dict[str, str],
    busy_port: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fields = {**files, "tmp": str(tmp_path), "busy_port": str(busy_port)}
    args = [part.format(**fields) for part in template.split(" ")]
    code, _, err = _run(args, capsys)
    assert code != 0, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert [line for line in lines if line.startswith("Error:")] == [lines[-1]], err


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgresql"])
def test_a_demo_database_user_who_cannot_make_its_schema_is_one_error_line(
    empty_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo makes a schema of its own on PostgreSQL: a user without CREATE on the
    database is told so in one line, before the demo starts."""
    server = make_url(empty_db_url).difference_update_query(["search_path"])
    role = new_schema_name("role")  # a role of this test's own, never another run's
    admin = server.render_as_string(hide_password=False)
    run_on_server(admin, f'CREATE ROLE "{role}" LOGIN')
    try:
        url = server.set(username=role).render_as_string(hide_password=False)
        args = ["--data-dir", str(tmp_path / "d"), "demo", "--riders", "2", "--database-url", url]
        code, _, err = _run(args, capsys)
    finally:
        run_on_server(admin, f'DROP ROLE "{role}"')
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: cannot make the demo's schema faregate_demo_"), err
    assert "permission denied" in lines[-1]
