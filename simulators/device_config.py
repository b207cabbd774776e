"""A device's configuration (`GET /device/v1/config`, `faregate-device-config/1` in
docs/DEVICE-API.md) read into what the simulated gates and barriers decide with.

    settings = DeviceSettings.from_json(await client.configuration(None))
    gate.apply_settings(settings)          # products, TOTP window, passback, deny-list age
    barrier.apply_settings(settings)       # ... and the lot and its tariff versions
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from parking.barrier_config import BarrierConfiguration
from parking.errors import ParkingError
from qr.errors import QRError
from qr.liveness import TotpWindow
from qr.verifier import StaleDenyListAction, VerifierPolicy
from simulators.errors import ConfigurationError


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSettings:
    """What one configuration document says, in the verifier's terms."""

    version: str
    device_id: str
    accepted_products: frozenset[str]
    policy: VerifierPolicy
    upload_interval: timedelta
    heartbeat_interval: timedelta
    barrier: BarrierConfiguration | None

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> DeviceSettings:
        """Read a configuration document; ConfigurationError names what is wrong."""
        try:
            window = document["totp_window"]
            barrier = document["barrier"]
            return cls(
                version=str(document["version"]),
                device_id=str(document["device_id"]),
                accepted_products=frozenset(str(p) for p in document["accepted_products"]),
                policy=VerifierPolicy(
                    window=TotpWindow(int(window["before"]), int(window["after"])),
                    passback_seconds=float(document["passback_seconds"]),
                    max_deny_list_age=timedelta(seconds=int(document["max_deny_list_age_seconds"])),
                    stale_deny_list=StaleDenyListAction(document["stale_deny_list"]),
                ),
                upload_interval=timedelta(seconds=int(document["upload_interval_seconds"])),
                heartbeat_interval=timedelta(seconds=int(document["heartbeat_interval_seconds"])),
                barrier=None if barrier is None else BarrierConfiguration.from_json(barrier),
            )
        except (KeyError, TypeError, ValueError, QRError, ParkingError) as error:
            raise ConfigurationError(f"not a device configuration: {error!r}") from None
