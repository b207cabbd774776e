"""An example of each device route's request and answer, for /openapi.json (`build_openapi`
puts each in its operation). tests/api/test_openapi_device.py decodes every example with the
route's own models, so an example that drifts from its schema fails there.

The values are those of docs/DEVICE-API.md's worked examples where it has them (the gate
`gate-m2a-01-1` at stop m2a_01, the barrier `bar-vincom-in`), otherwise plausible ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GATE = "gate-m2a-01-1"
AT = "2026-12-07T04:15:00Z"
CREDENTIAL = "9007199254740993"  # above 2**53: a string on the wire

_KEYSET = {
    "format": "faregate-keyset/1",
    "issuer_keys": [
        {
            "kid": 3,
            "alg": "Ed25519",
            "public_key": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "not_before": "2026-06-01T00:00:00Z",
            "not_after": "2027-06-01T00:00:00Z",
        }
    ],
    "liveness_keys": [
        {
            "kid": 7,
            "totp": "sha256",
            "period": 30,
            "not_before": "2026-12-01T00:00:00Z",
            "not_after": "2027-01-01T00:00:00Z",
        }
    ],
}

_CONFIG = {
    "format": "faregate-device-config/1",
    "version": "3f9c2a61d0b7e845",
    "device_id": GATE,
    "kind": "gate",
    "binding": {"stop_id": "m2a_01", "route_id": None, "lot_id": None, "direction": None},
    "place": {"stop_id": "m2a_01", "name": "Cát Linh"},
    "accepted_products": ["PAYG", "PASS"],
    "passback_seconds": 120,
    "totp_window": {"before": 1, "after": 1},
    "max_deny_list_age_seconds": 21600,
    "stale_deny_list": "accept_flagged",
    "upload_interval_seconds": 60,
    "heartbeat_interval_seconds": 60,
    "barrier": None,
}

_SEALED = {
    "format": "faregate-sealed-liveness-keys/1",
    "device_id": GATE,
    "version": "k7-k8.2f1e",
    "key_ids": [7, 8],
    "issued_at": AT,
    "suite": "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305",
    "enc": "9a" * 32,
    "ciphertext": "c4" * 48,
}

# A tap names the credential (a decimal string), never an account: the backend attributes it.
_JOURNAL_RECORD = {
    "device_id": GATE,
    "device_seq": 4711,
    "credential_id": "9007199254740993",
    "at": AT,
    "route_id": "m2a",
    "stop_id": "m2a_01",
    "kind": "entry",
    "step": 59017560,
    "deny_list_version": 812,
    "deny_list_stale": False,
}

_REFUSAL_RECORD = {
    "device_id": GATE,
    "device_seq": 4712,
    "at": AT,
    "reason": "replayed",
    "credential_id": "9007199254740993",
    "route_id": "m2a",
    "stop_id": "m2a_01",
    "step": 59017560,
    "deny_list_version": 812,
    "deny_list_stale": False,
}

_BARRIER_RECORD = {
    "device_id": "bar-vincom-in",
    "seq": 118,
    "lot_id": "hn-vincom",
    "kind": "entry",
    "at": AT,
    "reason": "ok",
    "session_seq": 118,
    "credential_id": "9007199254740993",
    "plate": "30A-123.45",
    "vehicle": "car",
}

# (method, path) -> {"request": body example, "response": answer example}
DEVICE_EXAMPLES: Mapping[tuple[str, str], Mapping[str, Any]] = {
    ("POST", "/device/v1/enrol"): {
        "request": {
            "device_id": GATE,
            "enrolment_code": "MFRG-GZDF-MZTW-Q2LB-MNRW-64TF",
            "public_key": "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
        },
        "response": {
            "device_id": GATE,
            "secret": "5f" * 32,
            "kind": "gate",
            "stop_id": "m2a_01",
            "route_id": None,
            "lot_id": None,
            "direction": None,
            "generation": 1,
            "enrolled_at": AT,
        },
    },
    ("GET", "/device/v1/config"): {"response": _CONFIG},
    ("GET", "/device/v1/liveness-keys"): {"response": _SEALED},
    ("GET", "/device/v1/keyset"): {"response": _KEYSET},
    ("GET", "/device/v1/deny-list"): {
        "response": {
            "format": "faregate-deny-list/1",
            "version": 1042,
            "ids": ["4242", CREDENTIAL],
            "issued_at": AT,
        }
    },
    ("GET", "/device/v1/deny-list/delta"): {
        "response": {
            "format": "faregate-deny-delta/1",
            "from_version": 1040,
            "to_version": 1042,
            "added": [CREDENTIAL],
            "removed": ["17"],
            "issued_at": AT,
        }
    },
    ("GET", "/device/v1/fare-feed"): {
        "response": {
            "version": "b41c09e2",
            "files": {"fare_products.txt": "fare_product_id,fare_product_name,amount,currency\n"},
        }
    },
    ("GET", "/device/v1/clock"): {
        "response": {"now": "2026-12-07T04:15:00.250000Z", "unix_ms": 1796616900250}
    },
    ("POST", "/device/v1/journal"): {
        "request": {"records": [_JOURNAL_RECORD], "refusals": [_REFUSAL_RECORD]},
        "response": {
            "received": 2,
            "new": 2,
            "duplicate": 0,
            "conflicting": [],
            "quarantined": [{"device_seq": 4711, "reason": "unknown-credential"}],
        },
    },
    ("POST", "/device/v1/parking/journal"): {
        "request": {"lot_id": "hn-vincom", "records": [_BARRIER_RECORD]},
        "response": {
            "received": 1,
            "applied": 1,
            "duplicate": 0,
            "last_seq": 118,
            "entries": 1,
            "exits": 0,
            "unable_to_collect": 0,
            "occupancy": {"capacity": 420, "reserved": 20, "occupied": 311},
        },
    },
    ("POST", "/device/v1/heartbeat"): {
        "request": {
            "software_version": "gate-fw 2.4.1",
            "config_version": "3f9c2a61d0b7e845",
            "key_set_version": "k7-k8.2f1e",
            "deny_list_version": 1042,
            "records_waiting": 12,
            "oldest_waiting_seconds": 95,
            "faults": [{"code": "printer.paper_low", "detail": "receipt roll under 10%"}],
            "device_time": AT,
        },
        "response": {
            "device_id": GATE,
            "received_at": "2026-12-07T04:15:00.412000Z",
            "heartbeat_interval_seconds": 60,
        },
    },
}
