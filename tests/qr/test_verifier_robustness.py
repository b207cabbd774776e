"""The verifier returns a decision for every signed token, whatever its fields say.

Two tokens used to raise: a `valid_from` past year 9999 (the 32-bit minute field reaches year
10136), and a key in force at 1970 shown a wrong code in the first TOTP period (the window
reached step -1). The property test signs credentials with arbitrary field values and checks
them at arbitrary times against keys in force from arbitrary dates, for any lifetime that ends
within the years a key set can hold (1970..8999, `KeyMaterial.rotated` refuses others).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from qr.credential import MAX_CREDENTIAL_ID, MAX_MINUTES, Credential, RiderCategory
from qr.decision import Reason
from qr.errors import KeySetError, PolicyError
from qr.keys import EMPTY, KeyMaterial, KeySet
from qr.liveness import TotpWindow, derive_seed, totp_code
from qr.memory import GateMemory
from qr.timeutil import LATEST
from qr.token import build_token
from qr.verifier import GateContext, Verifier, VerifierPolicy

GATE = GateContext("G1")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ISSUER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _material(start: datetime, lifetime: timedelta = timedelta(days=3650)) -> KeyMaterial:
    return EMPTY.rotated(start, lifetime, 15, issuer_key=ISSUER, liveness_master=b"m" * 32)


def _token(credential: Credential, code: str = "00000000") -> str:
    return build_token(credential.sign(ISSUER), code)


def _credential(**fields: object) -> Credential:
    values: dict[str, object] = {
        "issuer_kid": 1,
        "liveness_kid": 1,
        "credential_id": 42,
        "product": "M2A-DAY",
        "category": RiderCategory.ADULT,
        "valid_from_minute": 0,
        "valid_until_minute": MAX_MINUTES,
    }
    values.update(fields)
    return Credential(**values)  # type: ignore[arg-type]


def test_valid_from_past_year_9999_is_not_yet_valid() -> None:
    material = _material(datetime(2025, 1, 1, tzinfo=UTC))
    verifier = Verifier(material.keyset, material.secure_module())
    credential = _credential(valid_from_minute=MAX_MINUTES - 1, valid_until_minute=MAX_MINUTES)
    decision = verifier.verify(
        _token(credential), at=datetime(2025, 6, 1, tzinfo=UTC), gate=GATE, memory=GateMemory()
    )
    assert decision.reason is Reason.NOT_YET_VALID
    assert "beyond year 9999" in decision.detail


def test_wrong_code_in_the_first_period_of_1970_is_a_stale_code() -> None:
    material = _material(EPOCH)
    verifier = Verifier(material.keyset, material.secure_module())
    seed = derive_seed(material.liveness_masters[1].master, 42)
    wrong = next(c for c in ("00000000", "11111111") if c != totp_code(seed, 0))
    decision = verifier.verify(
        _token(_credential(), wrong), at=EPOCH + timedelta(seconds=5), gate=GATE
    )
    assert decision.reason is Reason.STALE_CODE


def test_right_code_in_the_first_period_of_1970_is_accepted() -> None:
    material = _material(EPOCH)
    verifier = Verifier(material.keyset, material.secure_module())
    seed = derive_seed(material.liveness_masters[1].master, 42)
    token = _token(_credential(), totp_code(seed, 0))
    decision = verifier.verify(token, at=EPOCH + timedelta(seconds=5), gate=GATE)
    assert decision.reason is Reason.ACCEPTED, decision.detail


@pytest.mark.parametrize("passback", [math.nan, math.inf, -1.0])
def test_a_passback_time_that_is_no_time_is_refused(passback: float) -> None:
    with pytest.raises(PolicyError):
        VerifierPolicy(passback_seconds=passback)


def test_a_key_set_whose_keys_end_before_they_start_does_not_load() -> None:
    doc = _material(datetime(2025, 1, 1, tzinfo=UTC)).keyset.to_json()
    doc["liveness_keys"][0]["not_after"] = "2024-01-01T00:00:00Z"
    with pytest.raises(KeySetError, match="not after"):
        KeySet.from_json(doc)


def test_a_key_period_pyotp_cannot_generate_is_refused() -> None:
    with pytest.raises(KeySetError, match="period"):
        EMPTY.rotated(datetime(2025, 1, 1, tzinfo=UTC), timedelta(days=1), 121)


_MINUTES = st.integers(0, MAX_MINUTES)


@st.composite
def _credentials(draw: st.DrawFn) -> Credential:
    start, end = sorted(draw(st.lists(_MINUTES, min_size=2, max_size=2, unique=True)))
    return _credential(
        issuer_kid=draw(st.sampled_from([1, 1, 1, 2, 255])),
        liveness_kid=draw(st.sampled_from([1, 1, 1, 2, 255])),
        credential_id=draw(st.integers(0, MAX_CREDENTIAL_ID)),
        product=draw(st.from_regex(r"[A-Z0-9_-]{1,8}", fullmatch=True)),
        category=draw(st.sampled_from(list(RiderCategory))),
        valid_from_minute=start,
        valid_until_minute=end,
    )


_INSTANTS = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(8999, 12, 31), timezones=st.just(UTC)
)
# The first TOTP periods after the epoch, where a window reaches below step 0.
_NEAR_EPOCH = st.integers(0, 60).map(lambda s: EPOCH + timedelta(seconds=s))
_LIFETIMES = st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=3650))


@st.composite
def _key_windows(draw: st.DrawFn) -> tuple[datetime, timedelta]:
    """A start and a lifetime that `KeyMaterial.rotated` accepts: from 1970 on, ending before
    LATEST (year 9000). The first and the last possible start are drawn often."""
    lifetime = draw(_LIFETIMES)
    last_start = LATEST - lifetime - timedelta(microseconds=1)
    anywhere = st.datetimes(
        min_value=EPOCH.replace(tzinfo=None),
        max_value=last_start.replace(tzinfo=None),
        timezones=st.just(UTC),
    )
    return draw(st.one_of(st.just(EPOCH), st.just(last_start), anywhere)), lifetime


@settings(max_examples=300, deadline=None)
@given(
    credential=_credentials(),
    code=st.from_regex(r"[0-9]{8}", fullmatch=True),
    keys=_key_windows(),
    at=st.one_of(_NEAR_EPOCH, _INSTANTS),
    window=st.tuples(st.integers(0, 10), st.integers(0, 10)),
)
def test_every_signed_token_gets_a_decision(
    credential: Credential,
    code: str,
    keys: tuple[datetime, timedelta],
    at: datetime,
    window: tuple[int, int],
) -> None:
    material = _material(*keys)
    policy = VerifierPolicy(window=TotpWindow(*window))
    verifier = Verifier(material.keyset, material.secure_module(), policy)
    memory = GateMemory()
    token = _token(credential, code)
    # The second look goes through the replay memory.
    first, second = (verifier.verify(token, at=at, gate=GATE, memory=memory) for _ in range(2))
    for decision in (first, second):
        assert decision.accepted == (decision.reason is Reason.ACCEPTED)
        assert decision.reason is not Reason.MALFORMED  # a signed token always parses
        assert decision.credential_id == credential.credential_id
        assert decision.to_json()["reason"] == decision.reason.value
    assert not (first.accepted and second.accepted)  # one code, one passage
