"""`GET /device/v1/liveness-keys`: the liveness keys reach a gate sealed to the key it enrolled
with, never in clear, with the keys coming into force soon; another device cannot open them;
a gate's secure module loaded this way checks real codes; a revoked device gets nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from faregate.api.context import UOWS, ApiConfig
from qr.issue import issue_credential
from qr.keys import load_keys, rotate_keys
from qr.memory import GateMemory
from qr.verifier import GateContext, Verifier
from simulators.device_client import DeviceClient
from simulators.errors import SealedKeysError
from simulators.secure_module import DeviceSecureModule
from tests.helpers.api import Client
from tests.helpers.devices import TESTS, device_id, enrolled_client, gate
from tests.helpers.http import loopback
from ticketing.services.devices import revoke_device

KEYS = "/device/v1/liveness-keys"


async def _gate(client: Client) -> DeviceClient:
    http = loopback(str(client.make_url("")))
    return await enrolled_client(client.server.app[UOWS], "", device_id(), gate(), http=http)


async def test_a_gate_opens_its_keys_and_checks_codes_with_them(
    client: Client, api_config: ApiConfig
) -> None:
    gate_client = await _gate(client)
    try:
        answer = await gate_client.get(KEYS)
        assert answer.status_code == 200
        sealed = answer.json()
        material = load_keys(api_config.keys_dir)
        master = material.liveness_masters[1].master
        assert master.hex() not in answer.text  # never in clear
        assert (sealed["format"], sealed["device_id"], sealed["key_ids"]) == (
            "faregate-sealed-liveness-keys/1", gate_client.device_id, [1],
        )  # fmt: skip
        assert answer.headers["ETag"] == f'"{sealed["version"]}"'
        assert gate_client.key is not None
        module = DeviceSecureModule(gate_client.key)
        assert module.load(sealed) == (1,)

        now = datetime.now(UTC)
        phone = issue_credential(material, credential_id=77, product="PAYG", now=now)
        verifier = Verifier(material.keyset, module)
        decision = verifier.verify(
            phone.token_at(now), at=now, gate=GateContext(gate_client.device_id),
            memory=GateMemory(),
        )  # fmt: skip
        assert decision.accepted, decision

        again = await gate_client.get(KEYS)
        assert again.json()["version"] == sealed["version"]
        assert again.json()["ciphertext"] != sealed["ciphertext"]  # a fresh ephemeral key
        current = await gate_client.liveness_keys(module.version)
        assert current is None  # 304
    finally:
        await gate_client.aclose()


async def test_keys_fetched_by_one_device_cannot_be_read_by_another(client: Client) -> None:
    first, second = await _gate(client), await _gate(client)
    try:
        sealed = await first.liveness_keys(None)
        assert sealed is not None
        assert second.key is not None
        with pytest.raises(SealedKeysError):
            DeviceSecureModule(second.key).load(sealed)
        # Relabelled as the second device's, it opens for neither: the box names its device.
        relabelled: dict[str, Any] = {**sealed, "device_id": second.device_id}
        for key in (first.key, second.key):
            assert key is not None
            with pytest.raises(SealedKeysError):
                DeviceSecureModule(key).load(relabelled)
        own = await second.liveness_keys(None)
        assert own is not None
        assert DeviceSecureModule(second.key).load(own) == (1,)
    finally:
        await first.aclose()
        await second.aclose()


async def test_keys_coming_into_force_soon_are_sent_before_they_apply(
    client: Client, api_config: ApiConfig
) -> None:
    gate_client = await _gate(client)
    try:
        held = await gate_client.liveness_keys(None)
        assert held is not None
        now = datetime.now(UTC)
        rotate_keys(api_config.keys_dir, now + timedelta(days=2))  # key 2, in force in 2 days
        rotate_keys(api_config.keys_dir, now + timedelta(days=30))  # key 3: not yet sent
        fresh = await gate_client.liveness_keys(held["version"])
        assert fresh is not None  # not a 304: the set changed
        assert fresh["key_ids"] == [1, 2]
        assert gate_client.key is not None
        module = DeviceSecureModule(gate_client.key)
        assert module.load(fresh) == (1, 2)
        assert not module.knows(3)
    finally:
        await gate_client.aclose()


async def test_a_revoked_device_gets_no_keys(client: Client) -> None:
    gate_client = await _gate(client)
    try:
        assert (await gate_client.get(KEYS)).status_code == 200
        await revoke_device(client.server.app[UOWS], gate_client.device_id, by=TESTS)
        refused = await gate_client.get(KEYS)
        assert refused.status_code == 401
        assert "ciphertext" not in refused.text
    finally:
        await gate_client.aclose()
