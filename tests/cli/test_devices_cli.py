"""`faregate devices add / list / revoke`: the registry at the command line; the code the JSON
form prints enrols the device; bad input is one `Error:` line and a non-zero exit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from faregate.cli import main
from faregate.config import Settings
from faregate.database import open_database
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.parking import lot_config, open_lot
from ticketing.audit import AuditQuery, TargetKind
from ticketing.device_secrets import SecretBox
from ticketing.services.audit import read_audit
from ticketing.services.devices import enrol_device
from ticketing.unit_of_work import UnitOfWorkFactory

KEY = bytes(range(32))
PUBLIC = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


async def _in_database(data: Path, work: str, *args: object) -> object:
    engine = await open_database(Settings(data_dir=data))
    try:
        uows = ParkingUnitOfWorkFactory(engine)
        if work == "lot":
            (lot_id,) = args
            await open_lot(uows, lot_config(str(lot_id), capacity=5))
            return None
        if work == "enrol":
            device, code = args
            return await enrol_device(uows, str(device), str(code), PUBLIC, box=SecretBox(KEY))
        query = AuditQuery(target_kind=TargetKind.DEVICE)
        return await read_audit(UnitOfWorkFactory(engine), query)
    finally:
        await engine.dispose()


def test_add_enrol_list_and_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path / "var")]
    code, out, err = run([*data, "devices", "add", "gate-1", "--kind", "gate", "--stop",
                          "m2a_03", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    added = json.loads(out)
    assert {"device_id", "kind", "enrolment_code", "expires_at"} <= set(added)
    assert (added["device_id"], added["kind"], added["stop_id"], added["status"]) == (
        "gate-1", "gate", "m2a_03", "pending",
    )  # fmt: skip
    assert added["expires_at"].endswith("Z")

    code, out, _ = run([*data, "devices", "add", "val-1", "--kind", "validator", "--route",
                        "bus32", "--valid-hours", "2"], capsys)  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "registered validator val-1 at route bus32"
    assert lines[1].startswith("enrolment code: ")
    asyncio.run(_in_database(tmp_path / "var", "lot", "lot-a"))
    code, out, _ = run([*data, "devices", "add", "bar-1", "--kind", "barrier", "--lot", "lot-a",
                        "--direction", "entry"], capsys)  # fmt: skip
    assert out.startswith("registered barrier bar-1 at lot lot-a (entry)")

    enrolled = asyncio.run(
        _in_database(tmp_path / "var", "enrol", "gate-1", added["enrolment_code"])
    )
    assert enrolled.device.status.value == "active"  # type: ignore[attr-defined]

    code, out, _ = run([*data, "devices", "list", "--json"], capsys)
    listed = json.loads(out)
    assert [(d["device_id"], d["status"]) for d in listed] == [
        ("bar-1", "pending"), ("gate-1", "active"), ("val-1", "pending"),
    ]  # fmt: skip
    code, out, _ = run([*data, "devices", "list", "--station", "m2a_03"], capsys)
    assert out.startswith("gate-1  gate  stop m2a_03  active since ")
    code, out, _ = run([*data, "devices", "list", "--kind", "barrier", "--json"], capsys)
    assert [d["direction"] for d in json.loads(out)] == ["entry"]

    code, out, _ = run([*data, "devices", "revoke", "gate-1", "--reason", "stolen"], capsys)
    assert (code, out) == (0, "revoked gate-1\n")
    code, out, _ = run([*data, "devices", "revoke", "gate-1"], capsys)
    assert (code, out) == (0, "gate-1 was revoked already\n")
    code, out, _ = run([*data, "devices", "list", "--status", "revoked"], capsys)
    assert out.startswith("gate-1  gate  stop m2a_03  revoked since ")

    audit = asyncio.run(_in_database(tmp_path / "var", "audit"))
    actions = [(e.action.value, e.target.id) for e in audit.entries]  # type: ignore[attr-defined]
    assert actions == [
        ("device-revoked", "gate-1"), ("device-added", "bar-1"), ("device-added", "val-1"),
        ("device-added", "gate-1"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "gate 1", "--kind", "gate", "--stop", "m2a_01"], "Error: device id 'gate 1'"),
        (["add", "g1", "--kind", "tram", "--stop", "m2a_01"], "Invalid value for '--kind'"),
        (["add", "g1", "--kind", "gate"], "Error: a gate is bound to a stop: give --stop"),
        (["add", "g1", "--kind", "gate", "--stop", "nowhere"],
         "Error: no stop 'nowhere' in the fare feed"),
        (["add", "g1", "--kind", "gate", "--stop", "m2a_01", "--route", "m2a"],
         "Error: a gate has no route (--route is for a validator)"),
        (["add", "b1", "--kind", "barrier", "--lot", "no-lot"], "Error: no lot 'no-lot'"),
        (["add", "g1", "--kind", "gate", "--stop", "m2a_01", "--direction", "up"],
         "Invalid value for '--direction'"),
        (["add", "g1", "--kind", "gate", "--stop", "m2a_01", "--valid-hours", "0"],
         "Invalid value for '--valid-hours'"),
        (["add", "g1", "--kind", "gate", "--stop", "m2a_01", "--fare-feed", "/nonexistent"],
         "Invalid value for '--fare-feed'"),
        (["revoke", "ghost"], "Error: no device 'ghost' is registered"),
        (["revoke", "ghost", "--reason", ""], "Error: no device 'ghost' is registered"),
        (["list", "--status", "lost"], "Invalid value for '--status'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(["--data-dir", str(tmp_path / "var"), "devices", *args], capsys)
    assert code != 0
    assert message in err
    assert "Traceback" not in err
    assert out == ""


def test_an_enrolled_device_must_be_revoked_before_it_is_added_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "var")]
    add = [*data, "devices", "add", "g1", "--kind", "gate", "--stop", "m2a_01", "--json"]
    code = json.loads(run(add, capsys)[1])["enrolment_code"]
    asyncio.run(_in_database(tmp_path / "var", "enrol", "g1", code))
    exit_code, _, err = run(add, capsys)
    assert exit_code == 1
    assert err == "Error: device g1 is enrolled; revoke it before registering it again\n"
