"""The worked examples in docs/DEVICE-API.md and docs/TOKEN-SPEC.md §9 are what the code
makes, the server verifies the signed examples, and the sealed example opens with an
independent RFC 9180 implementation and the device's key only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from faregate.api.device_auth import signature, string_to_sign
from qr.sealed import SUITE, hpke_info, keys_for_device, plaintext
from qr.vectors import fixed_key_material
from simulators.device_vectors import (
    DEVICE_ID,
    NONCE,
    SEALED_AT,
    SIGNED_AT,
    blocks,
    device_key,
    device_secret,
    enrolment_example,
    other_device_key,
    sealed_example,
    signed_example,
)
from simulators.errors import SealedKeysError
from simulators.secure_module import DeviceSecureModule, open_sealed
from ticketing.devices import check_public_key, normalise_code

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _documented(name: str) -> str:
    docs = ("DEVICE-API.md", "TOKEN-SPEC.md")
    text = "\n".join((DOCS / doc).read_text(encoding="utf-8") for doc in docs)
    found = re.search(
        f"<!-- device-vectors:{name} begin -->\n(.*?)\n<!-- device-vectors:{name} end -->",
        text,
        re.S,
    )
    assert found is not None, f"no {name} block in the docs"
    return found.group(1)


@pytest.mark.parametrize("name", ["enrolment", "signed-get", "sealed"])
def test_the_documents_hold_what_the_code_renders(name: str) -> None:
    assert _documented(name) == blocks()[name], "regenerate: python -m simulators.device_vectors"


def test_the_server_verifies_the_signed_example() -> None:
    example = signed_example("GET", "/device/v1/config")
    message = string_to_sign(
        DEVICE_ID, "GET", "/device/v1/config", int(SIGNED_AT.timestamp()), NONCE, b""
    )
    assert message.decode() == example["string_to_sign"]
    assert example["headers"]["X-Faregate-Signature"] == signature(device_secret(), message)


def test_the_enrolment_example_is_a_request_the_server_takes() -> None:
    body = json.loads(enrolment_example()["body"])
    assert set(body) == {"device_id", "enrolment_code", "public_key"}
    assert normalise_code(body["enrolment_code"]) is not None
    assert check_public_key(bytes.fromhex(body["public_key"]))


def _box(example: dict[str, str]) -> bytes:
    return bytes.fromhex(example["enc"]) + bytes.fromhex(example["ciphertext"])


def test_the_sealed_example_opens_with_rfc_9180_and_the_devices_key() -> None:
    example = sealed_example()
    material = fixed_key_material(rotated=True)
    keys = keys_for_device(material.keyset, material.liveness_masters, SEALED_AT)
    assert example["plaintext"].encode() == plaintext(DEVICE_ID, keys, SEALED_AT)
    opened = SUITE.decrypt(_box(example), device_key(), info=hpke_info(DEVICE_ID))
    assert opened.decode() == example["plaintext"]
    masters = {k["kid"]: k["master"] for k in json.loads(opened)["keys"]}
    assert masters == {kid: m.master.hex() for kid, m in material.liveness_masters.items()}


def test_the_sealed_example_does_not_open_for_another_device() -> None:
    example = sealed_example()
    with pytest.raises(InvalidTag):
        SUITE.decrypt(_box(example), other_device_key(), info=hpke_info(DEVICE_ID))
    with pytest.raises(InvalidTag):  # the right key, but the box names another device
        SUITE.decrypt(_box(example), device_key(), info=hpke_info("gate-m2a-03-2"))
    sealed = {
        "format": "faregate-sealed-liveness-keys/1", "device_id": DEVICE_ID,
        "version": "v", "enc": example["enc"], "ciphertext": example["ciphertext"],
    }  # fmt: skip
    assert open_sealed(sealed, device_key())["device_id"] == DEVICE_ID
    with pytest.raises(SealedKeysError, match="do not open"):
        DeviceSecureModule(other_device_key()).load(sealed)
    altered = {**sealed, "ciphertext": "00" + example["ciphertext"][2:]}
    with pytest.raises(SealedKeysError, match="do not open"):
        DeviceSecureModule(device_key()).load(altered)
    module = DeviceSecureModule(device_key())
    assert module.load(sealed) == (1, 2)
    assert module.knows(2)
    assert not module.knows(3)
