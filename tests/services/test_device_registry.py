"""The device registry's use cases on both databases: register at a place that exists, enrol
once with an unexpired code, revoke, register and enrol again for a new secret; every refusal
is a DeviceError naming why, and staff actions are in the audit log."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers.devices import TESTS
from ticketing.audit import AuditAction, AuditQuery, TargetKind
from ticketing.device_secrets import SecretBox
from ticketing.devices import (
    Binding,
    DeviceKind,
    Direction,
    Places,
    RegistrationStatus,
    check_public_key,
    code_hash,
    new_enrolment_code,
    normalise_code,
)
from ticketing.errors import (
    DeviceExists,
    DeviceKeyMismatch,
    EnrolmentRefused,
    InvalidDevice,
    UnknownDevice,
    UnknownPlace,
)
from ticketing.services.audit import read_audit
from ticketing.services.devices import (
    RegistryQuery,
    add_device,
    device_key,
    enrol_device,
    get_device,
    list_devices,
    revoke_device,
)
from ticketing.unit_of_work import UnitOfWorkFactory

PLACES = Places(stops={"m2a_01", "m2a_02"}, routes={"bus32"}, lots={"lot-a"})
GATE = Binding(kind=DeviceKind.GATE, stop_id="m2a_01")
BOX = SecretBox(bytes(range(32)))


def public_key() -> bytes:
    key = X25519PrivateKey.generate().public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


async def test_register_enrol_revoke_and_enrol_again(uow_factory: UnitOfWorkFactory) -> None:
    added = await add_device(uow_factory, "gate-1", GATE, places=PLACES, by=TESTS)
    assert added.device.status is RegistrationStatus.PENDING
    assert normalise_code(added.code) is not None
    assert added.expires_at - datetime.now(UTC) > timedelta(hours=23)
    assert (await device_key(uow_factory, "gate-1")).secret_sealed is None  # type: ignore[union-attr]

    enrolled = await enrol_device(uow_factory, "gate-1", added.code, public_key(), box=BOX)
    assert (enrolled.device.status, enrolled.device.generation) == (RegistrationStatus.ACTIVE, 1)
    key = await device_key(uow_factory, "gate-1")
    assert key is not None
    assert key.secret_sealed is not None
    assert enrolled.secret not in key.secret_sealed  # sealed, never in clear
    assert BOX.open("gate-1", 1, key.secret_sealed) == enrolled.secret

    with pytest.raises(EnrolmentRefused, match="enrolled already"):
        await enrol_device(uow_factory, "gate-1", added.code, public_key(), box=BOX)
    with pytest.raises(DeviceExists, match="revoke it"):
        await add_device(uow_factory, "gate-1", GATE, places=PLACES, by=TESTS)

    revoked, changed = await revoke_device(uow_factory, "gate-1", by=TESTS, reason="stolen")
    assert (revoked.status, changed) == (RegistrationStatus.REVOKED, True)
    assert (await device_key(uow_factory, "gate-1")).secret_sealed is None  # type: ignore[union-attr]
    assert (await revoke_device(uow_factory, "gate-1", by=TESTS))[1] is False

    again = await add_device(uow_factory, "gate-1", GATE, places=PLACES, by=TESTS)
    with pytest.raises(EnrolmentRefused, match="not recognised"):  # the first code is dead
        await enrol_device(uow_factory, "gate-1", added.code, public_key(), box=BOX)
    second = await enrol_device(uow_factory, "gate-1", again.code, public_key(), box=BOX)
    assert second.device.generation == 2
    assert second.secret != enrolled.secret

    audit = await read_audit(uow_factory, AuditQuery(target_kind=TargetKind.DEVICE))
    assert [e.action for e in audit.entries] == [
        AuditAction.DEVICE_ADDED, AuditAction.DEVICE_REVOKED, AuditAction.DEVICE_ADDED,
    ]  # fmt: skip
    assert audit.entries[1].reason == "stolen"
    assert (audit.entries[0].before or {}).get("status") == "revoked"


async def test_codes_are_one_device_one_use_and_expire(engine: AsyncEngine) -> None:
    now = [datetime.now(UTC)]
    uows = UnitOfWorkFactory(engine, lambda: now[0])
    first = await add_device(uows, "gate-a", GATE, places=PLACES, by=TESTS)
    second = await add_device(
        uows, "gate-b", GATE, places=PLACES, by=TESTS, valid_for=timedelta(minutes=5)
    )
    for device, code in [("gate-a", second.code), ("gate-a", "AAAA-" * 5 + "AAAA"),
                         ("gate-a", "not a code"), ("nobody", first.code)]:  # fmt: skip
        with pytest.raises(EnrolmentRefused, match="not recognised"):
            await enrol_device(uows, device, code, public_key(), box=BOX)
    # Typed in lower case without dashes, the code still works.
    typed = first.code.replace("-", "").lower()
    assert (await enrol_device(uows, "gate-a", typed, public_key(), box=BOX)).secret
    now[0] += timedelta(minutes=5)
    with pytest.raises(EnrolmentRefused, match="expired at"):
        await enrol_device(uows, "gate-b", second.code, public_key(), box=BOX)
    assert (await get_device(uows, "gate-b")).status is RegistrationStatus.PENDING


async def test_two_enrolments_racing_with_one_code_give_one_secret(
    uow_factory: UnitOfWorkFactory,
) -> None:
    code = (await add_device(uow_factory, "gate-race", GATE, places=PLACES, by=TESTS)).code
    results = await asyncio.gather(
        *(enrol_device(uow_factory, "gate-race", code, public_key(), box=BOX) for _ in range(4)),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1
    assert all(isinstance(r, EnrolmentRefused) for r in results if r not in won)
    key = await device_key(uow_factory, "gate-race")
    assert key is not None
    assert key.secret_sealed is not None
    assert BOX.open("gate-race", key.generation, key.secret_sealed) == won[0].secret


@pytest.mark.parametrize(
    ("device", "binding", "error", "message"),
    [
        ("gate 1", GATE, InvalidDevice, "must be 1-64 of"),
        ("g" * 65, GATE, InvalidDevice, "must be 1-64 of"),
        ("gate-1", Binding(kind=DeviceKind.GATE, stop_id="nowhere"), UnknownPlace,
         "no stop 'nowhere' in the fare feed"),
        ("val-1", Binding(kind=DeviceKind.VALIDATOR, route_id="m9"), UnknownPlace,
         "no route 'm9'"),
        ("bar-1", Binding(kind=DeviceKind.BARRIER, lot_id="lot-z"), UnknownPlace,
         "no lot 'lot-z' in the lots"),
    ],
)  # fmt: skip
async def test_registration_refuses_bad_ids_and_unknown_places(
    uow_factory: UnitOfWorkFactory,
    device: str,
    binding: Binding,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        await add_device(uow_factory, device, binding, places=PLACES, by=TESTS)
    assert await list_devices(uow_factory, RegistryQuery()) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": DeviceKind.GATE}, "a gate is bound to a stop: give --stop"),
        ({"kind": DeviceKind.GATE, "stop_id": "a", "lot_id": "b"}, "a gate has no lot"),
        ({"kind": DeviceKind.VALIDATOR, "stop_id": "a"}, "bound to a route"),
        ({"kind": DeviceKind.GATE, "stop_id": "a", "direction": Direction.ENTRY},
         "only a barrier has a direction"),
        ({"kind": DeviceKind.GATE, "stop_id": "a b"}, "without spaces"),
    ],
)  # fmt: skip
def test_a_binding_names_exactly_its_kinds_place(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidDevice, match=message):
        Binding(**fields)  # type: ignore[arg-type]


async def test_list_filters_and_pages(uow_factory: UnitOfWorkFactory) -> None:
    bindings = {
        "gate-01": GATE, "gate-02": Binding(kind=DeviceKind.GATE, stop_id="m2a_02"),
        "val_10": Binding(kind=DeviceKind.VALIDATOR, route_id="bus32"),
        "bar-in": Binding(kind=DeviceKind.BARRIER, lot_id="lot-a", direction=Direction.ENTRY),
    }  # fmt: skip
    for device, binding in bindings.items():
        await add_device(uow_factory, device, binding, places=PLACES, by=TESTS)
    await revoke_device(uow_factory, "gate-02", by=TESTS)

    async def ids(**query: object) -> list[str]:
        found = await list_devices(uow_factory, RegistryQuery(**query))  # type: ignore[arg-type]
        return [d.device_id for d in found]

    assert await ids() == ["bar-in", "gate-01", "gate-02", "val_10"]
    assert await ids(limit=2) == ["bar-in", "gate-01"]
    assert await ids(limit=2, after="gate-01") == ["gate-02", "val_10"]
    assert await ids(search="GATE") == ["gate-01", "gate-02"]
    assert await ids(search="_1") == ["val_10"]  # LIKE's wildcards are plain characters
    assert await ids(search="%") == []
    assert await ids(kind=DeviceKind.BARRIER) == ["bar-in"]
    assert await ids(status=RegistrationStatus.REVOKED) == ["gate-02"]
    assert await ids(stops={"m2a_01"}) == ["gate-01"]
    assert await ids(lot="lot-a") == ["bar-in"]
    (barrier,) = await list_devices(uow_factory, RegistryQuery(lot="lot-a"))
    assert barrier.binding.direction is Direction.ENTRY


async def test_revoking_a_device_never_registered_is_refused(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with pytest.raises(UnknownDevice, match="no device 'ghost'"):
        await revoke_device(uow_factory, "ghost", by=TESTS)
    assert await device_key(uow_factory, "ghost") is None


def test_sealed_secrets_open_only_with_their_key_device_and_generation() -> None:
    secret = secrets.token_bytes(32)
    sealed = BOX.seal("gate-1", 3, secret)
    assert BOX.open("gate-1", 3, sealed) == secret
    for box, device, generation in [
        (SecretBox(bytes(32)), "gate-1", 3),  # another deployment's key
        (BOX, "gate-2", 3),  # copied onto another device's row
        (BOX, "gate-1", 4),  # an older enrolment's secret
    ]:
        with pytest.raises(DeviceKeyMismatch):
            box.open(device, generation, sealed)
    with pytest.raises(DeviceKeyMismatch, match="not readable"):
        BOX.open("gate-1", 3, b"\x02" + sealed[1:])


def test_enrolment_codes_are_random_and_hashed_per_device() -> None:
    codes = {new_enrolment_code() for _ in range(100)}
    assert len(codes) == 100
    code = codes.pop()
    assert (len(code), code.count("-")) == (29, 5)
    assert code_hash("gate-1", code) != code_hash("gate-2", code)
    assert code_hash("gate-1", code) == code_hash("gate-1", code.lower().replace("-", " "))


def test_public_keys_must_be_usable_x25519_keys() -> None:
    assert check_public_key(public_key())
    for raw, message in [(b"\x00" * 32, "not a usable"), (b"\x01" * 31, "32 bytes")]:
        with pytest.raises(InvalidDevice, match=message):
            check_public_key(raw)
