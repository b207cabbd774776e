"""The offline verifier: the gate's brain. Pure: a token, a time and the gate's state in, a
Decision out. It never raises on a token and accepts only a token that passes every rule.

Order of checks (the first failure is the reason):
malformed -> unknown_key -> bad_signature -> not_yet_valid / expired -> denied / deny_list_stale
-> stale_code -> replayed / passback -> not_entitled. Only an accepted use is recorded in the
gate's memory.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from qr.decision import Decision, Reason
from qr.denylist import DenyList
from qr.errors import PolicyError
from qr.keys import KeySet
from qr.liveness import SecureModule, TotpWindow
from qr.memory import GateMemory
from qr.timeutil import describe_minute, require_aware
from qr.token import parse_token

MAX_PASSBACK_SECONDS = 86_400.0  # a day; longer would refuse a rider's next day's first trip


class StaleDenyListAction(enum.StrEnum):
    """The offline risk policy once the deny list is older than `max_deny_list_age`."""

    ACCEPT_FLAGGED = "accept_flagged"  # accept, with `deny_list_stale` set in the decision
    REFUSE = "refuse"  # refuse as `deny_list_stale`


@dataclass(frozen=True, slots=True)
class VerifierPolicy:
    window: TotpWindow = field(default_factory=TotpWindow)
    passback_seconds: float = 120.0
    max_deny_list_age: timedelta | None = None  # None: a list never goes stale
    stale_deny_list: StaleDenyListAction = StaleDenyListAction.ACCEPT_FLAGGED

    def __post_init__(self) -> None:
        # NaN compares false with everything, so a NaN passback time would switch passback off.
        if not 0 <= self.passback_seconds <= MAX_PASSBACK_SECONDS:
            raise PolicyError(
                f"passback time must be 0..{MAX_PASSBACK_SECONDS} seconds, "
                f"got {self.passback_seconds!r}"
            )
        if self.max_deny_list_age is not None and self.max_deny_list_age < timedelta(0):
            raise PolicyError(f"max deny-list age cannot be negative: {self.max_deny_list_age}")


@dataclass(frozen=True, slots=True)
class GateContext:
    """Where the token is shown. `accepted_products` of None accepts every product; an entry
    ending in `*` accepts every product code that starts with what precedes it."""

    gate_id: str
    accepted_products: frozenset[str] | None = None

    def entitles(self, product: str) -> bool:
        if self.accepted_products is None or product in self.accepted_products:
            return True
        return any(p.endswith("*") and product.startswith(p[:-1]) for p in self.accepted_products)


@dataclass(frozen=True, slots=True)
class _LivenessEntry:
    period: int
    not_before: float
    not_after: float


@dataclass(frozen=True, slots=True)
class _IssuerEntry:
    public_key: Ed25519PublicKey
    not_before: float
    not_after: float


class Verifier:
    """Holds the compiled key set, the secure module, the policy and the current deny list."""

    def __init__(
        self,
        keyset: KeySet,
        secure_module: SecureModule,
        policy: VerifierPolicy | None = None,
        deny_list: DenyList | None = None,
    ) -> None:
        # Public key objects are built once: parsing keys per token would cost more than the
        # rest of the checks together.
        self._issuers = {
            k.kid: _IssuerEntry(
                Ed25519PublicKey.from_public_bytes(k.public_key),
                k.not_before.timestamp(),
                k.not_after.timestamp(),
            )
            for k in keyset.issuer_keys
        }
        self._liveness = {
            k.kid: _LivenessEntry(k.period, k.not_before.timestamp(), k.not_after.timestamp())
            for k in keyset.liveness_keys
        }
        self._module = secure_module
        self._policy = policy or VerifierPolicy()
        self.deny_list = deny_list

    @property
    def policy(self) -> VerifierPolicy:
        return self._policy

    @property
    def deny_list(self) -> DenyList | None:
        return self._deny_list

    @deny_list.setter
    def deny_list(self, deny_list: DenyList | None) -> None:
        """Swap in a newer list (after a sync); its staleness deadline is worked out once here."""
        self._deny_list = deny_list
        limit = self._policy.max_deny_list_age
        if limit is None:
            self._stale_after: float | None = None
        elif deny_list is None or deny_list.issued_at is None:
            self._stale_after = float("-inf")  # a list of unknown age cannot be shown to be fresh
        else:
            self._stale_after = (deny_list.issued_at + limit).timestamp()

    def verify(
        self,
        token: str | bytes,
        *,
        at: datetime,
        gate: GateContext,
        memory: GateMemory | None = None,
    ) -> Decision:
        """Decide on `token` shown at `gate` at `at`; record the use in `memory` if accepted.

        Without a memory no replay/passback check is made (for tools that only inspect).
        """
        if at.utcoffset() is None:
            require_aware(at, "verification time")  # raises NaiveTimeError
        now = at.timestamp()
        parsed = parse_token(token)
        if parsed is None:
            return Decision(False, Reason.MALFORMED, "not a Faregate token", gate_id=gate.gate_id)
        c = parsed.fields
        deny = self._deny_list
        stale_list = False
        step: int | None = None
        offset: int | None = None

        def decide(reason: Reason, detail: str = "") -> Decision:
            return Decision(
                reason is Reason.ACCEPTED,
                reason,
                detail,
                c,
                step,
                offset,
                gate.gate_id,
                None if deny is None else deny.version,
                stale_list,
            )

        issuer = self._issuers.get(c.issuer_kid)
        if issuer is None:
            return decide(Reason.UNKNOWN_KEY, f"issuer key {c.issuer_kid} unknown")
        if not issuer.not_before <= now < issuer.not_after:
            return decide(Reason.UNKNOWN_KEY, f"issuer key {c.issuer_kid} not in force")
        liveness = self._liveness.get(c.liveness_kid)
        if liveness is None or not self._module.knows(c.liveness_kid):
            return decide(Reason.UNKNOWN_KEY, f"liveness key {c.liveness_kid} unknown")
        if not liveness.not_before <= now < liveness.not_after:
            return decide(Reason.UNKNOWN_KEY, f"liveness key {c.liveness_kid} not in force")

        try:
            issuer.public_key.verify(parsed.signature, parsed.body)
        except InvalidSignature:
            return decide(Reason.BAD_SIGNATURE, "signature does not verify")

        if now < c.valid_from_minute * 60:
            return decide(
                Reason.NOT_YET_VALID, f"valid from {describe_minute(c.valid_from_minute)}"
            )
        if now >= c.valid_until_minute * 60:
            return decide(Reason.EXPIRED, f"valid until {describe_minute(c.valid_until_minute)}")

        policy = self._policy
        stale_after = self._stale_after
        stale_list = stale_after is not None and now > stale_after
        if deny is not None and c.credential_id in deny.ids:
            return decide(Reason.DENIED, f"on deny list version {deny.version}")
        if stale_list and policy.stale_deny_list is StaleDenyListAction.REFUSE:
            return decide(Reason.DENY_LIST_STALE, "deny list too old; offline policy: refuse")

        step = self._module.matches(
            c.credential_id, c.liveness_kid, parsed.code, now, policy.window
        )
        if step is None:
            return decide(Reason.STALE_CODE, "code matches no step in the window")
        offset = step - int(now // liveness.period)

        if memory is not None:
            refusal = memory.refusal(c.credential_id, step, now, policy.passback_seconds)
            if refusal is Reason.REPLAYED:
                return decide(refusal, "this code (or a later one) was already used here")
            if refusal is not None:
                return decide(refusal, "this credential passed here moments ago")

        if not gate.entitles(c.product):
            return decide(Reason.NOT_ENTITLED, f"product {c.product} not valid at {gate.gate_id}")

        if memory is not None:
            memory.record(c.credential_id, step, now, gate.gate_id)
        return decide(
            Reason.ACCEPTED, "deny list stale; offline policy: accept" if stale_list else ""
        )

    def keep_seconds(self) -> float:
        """How long a memory entry matters (the `keep_seconds` for GateMemory.prune)."""
        longest = max((k.period for k in self._liveness.values()), default=0)
        return max(self.policy.passback_seconds, (self.policy.window.before + 2) * longest)
