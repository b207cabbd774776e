"""static/js/token.js run in chromium against docs/TOKEN-SPEC.md's vectors, RFC 6238 and `qr`."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from qr.base45 import b45encode
from qr.issue import PhoneCredential
from tests.helpers.browser import SharedChromium

pytestmark = pytest.mark.timeout(900)  # the first browser test may have to install chromium

VECTORS = json.loads(
    (Path(__file__).parents[2] / "docs" / "token-vectors.json").read_text(encoding="utf-8")
)
# RFC 6238 Appendix B, SHA-1 (the seed is the ASCII "12345678901234567890", 8 digits).
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.fixture(scope="module")
def token_page(chromium: SharedChromium, base_url: str) -> Iterator[Page]:
    """A page of our origin (Web Crypto needs a secure context) with token.js imported, kept
    for the module's tests (they only call its functions)."""
    with chromium.driving():
        context = chromium.browser.new_context()
        page = context.new_page()
        page.goto(f"{base_url}/?pass=none")
        page.evaluate("async () => { window.token = await import('/static/js/token.js'); }")
    yield page
    with chromium.driving():
        context.close()


@pytest.fixture
def page(token_page: Page, chromium: SharedChromium) -> Iterator[Page]:
    with chromium.driving():
        yield token_page


def phone_document(signed: bytes, seed: bytes, period: int = 15) -> dict[str, Any]:
    return {
        "format": "faregate-credential/1",
        "credential": base64.b64encode(signed).decode("ascii"),
        "seed": base64.b32encode(seed).decode("ascii"),
        "period": period,
        "digits": 8,
    }


def test_codes_match_the_token_spec_vectors(page: Page) -> None:
    rows = [
        {"seed": c["seed_hex"], "step": c["step"], "code": c["code"]}
        for c in VECTORS["credentials"]
    ]
    got = page.evaluate(
        """async (rows) => Promise.all(rows.map(async (row) => {
            const seed = Uint8Array.from(row.seed.match(/../g), (h) => parseInt(h, 16));
            return token.hotp(await token.importSeed(seed), row.step);
        }))""",
        rows,
    )
    assert got == [row["code"] for row in rows]
    assert len(got) == 3


def test_tokens_match_the_token_spec_vectors(page: Page) -> None:
    """The whole token text, from the phone credential document, at the vector's instant."""
    cases = [
        {
            "doc": phone_document(
                bytes.fromhex(c["credential_hex"] + c["signature_hex"]),
                bytes.fromhex(c["seed_hex"]),
            ),
            "at": c["at"],
        }
        for c in VECTORS["credentials"]
    ]
    got = page.evaluate(
        """async (cases) => Promise.all(cases.map(async ({doc, at}) => {
            const live = await token.tokenAt(await token.loadCredential(doc), Date.parse(at));
            return [live.token, live.step];
        }))""",
        cases,
    )
    assert got == [[c["token"], c["step"]] for c in VECTORS["credentials"]]


def test_codes_match_rfc_6238_appendix_b(page: Page) -> None:
    got = page.evaluate(
        """async (times) => {
            const key = await token.importSeed(new TextEncoder().encode("12345678901234567890"));
            return Promise.all(times.map((t) => token.hotp(key, token.stepAt(t * 1000, 30))));
        }""",
        [t for t, _ in RFC6238_SHA1],
    )
    assert got == [code for _, code in RFC6238_SHA1]


def test_codes_match_pyotp_across_steps(page: Page, passes: Any) -> None:
    phone: PhoneCredential = passes.live
    seconds = [0, 14, 15, 1_000_000_007, 1_764_000_000, 4_102_444_799]
    got = page.evaluate(
        """async ([doc, seconds]) => {
            const c = await token.loadCredential(doc);
            return Promise.all(seconds.map(async (s) => (await token.tokenAt(c, s * 1000)).token));
        }""",
        [phone.to_json(), seconds],
    )
    assert got == [phone.token_at(datetime.fromtimestamp(s, UTC)) for s in seconds]


def test_base45_and_base32_match_python(page: Page) -> None:
    rng = random.Random(12)
    samples = [bytes(rng.randrange(256) for _ in range(n)) for n in [0, 1, 2, 3, 93, *range(40)]]
    got = page.evaluate(
        """(samples) => samples.map((hex) => {
            const bytes = Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
            return token.base45Encode(bytes);
        })""",
        [s.hex() for s in samples],
    )
    assert got == [b45encode(s) for s in samples]
    decoded = page.evaluate(
        """(texts) => texts.map((t) => Array.from(token.base32Decode(t)))""",
        [base64.b32encode(s).decode("ascii") for s in samples],
    )
    assert decoded == [list(s) for s in samples]


def test_the_largest_token_fits_qr_version_6(page: Page) -> None:
    largest = VECTORS["credentials"][1]
    assert largest["fields"]["credential_id"] == 2**64 - 1
    version = page.evaluate("(text) => token.qrMatrix(text).version", largest["token"])
    assert version == 6
    message = page.evaluate(
        """(text) => {
            try { token.qrMatrix(text); return null; } catch (e) { return e.message; }
        }""",
        largest["token"] + "0" * 10,  # 161 characters: v7-M holds up to 178
    )
    assert message == "the code needs QR version 7; gates read up to 6"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "something/1"}, "not a pass (expected format faregate-credential/1)"),
        ({"seed": None}, "the pass lacks its signed credential or its seed"),
        ({"credential": "***"}, "the pass's signed credential is not base64"),
        ({"credential": "AAAA"}, "the signed credential is 3 bytes, not 93"),
        ({"seed": "not base32!"}, "the pass's seed is not base32"),
        ({"seed": ""}, "the pass has an empty seed"),
        ({"period": 0}, "the pass has a bad code period"),
        ({"period": 1.5}, "the pass has a bad code period"),
        ({"digits": 6}, "the pass asks for 6-digit codes; gates read 8"),
        ({"version": 2}, "the pass holds a malformed credential"),
        ({"category": 9}, "the pass holds a malformed credential"),
    ],
)
def test_a_bad_credential_document_is_refused_with_one_line(
    page: Page, passes: Any, change: dict[str, Any], message: str
) -> None:
    doc = passes.live.to_json()
    signed = bytearray(base64.b64decode(doc["credential"]))
    if "version" in change:
        signed[0] = change.pop("version")
    if "category" in change:
        signed[19] = change.pop("category")
    doc["credential"] = base64.b64encode(bytes(signed)).decode("ascii")
    doc.update(change)
    got = page.evaluate(
        """async (doc) => {
            try { await token.loadCredential(doc); return null; }
            catch (e) { return [e.name, e.message]; }
        }""",
        doc,
    )
    assert got == ["CredentialError", message]
