"""The device registry's tables: `devices` (migration 0012_device_registry), the latest
heartbeat of each, `device_heartbeats` (0017_device_heartbeats), and the records each sent
again with another body, `device_conflicts` (0023_device_conflicts).

One row per registered gate, validator or barrier: its binding, its registration status, the
SHA-256 of its pending enrolment code (never the code), its secret sealed under the server's
device key (`ticketing.device_secrets`, never in clear) and the X25519 public key it sent at
enrolment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models import Base, _enum
from ticketing.devices import DeviceKind, RegistrationStatus

PLACE = 100  # stop, route and lot ids


class DeviceRow(Base):
    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'gate') = (stop_id IS NOT NULL)"
            " AND (kind = 'validator') = (route_id IS NOT NULL)"
            " AND (kind = 'barrier') = (lot_id IS NOT NULL)",
            name="one_place",
        ),
        CheckConstraint(
            "(status = 'active') = (secret_sealed IS NOT NULL)", name="secret_iff_active"
        ),
        CheckConstraint("(status = 'pending') = (code_hash IS NOT NULL)", name="code_iff_pending"),
        Index("ix_devices_stop_id", "stop_id"),
        Index("ix_devices_lot_id", "lot_id"),
    )

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[DeviceKind] = mapped_column(_enum(DeviceKind))
    stop_id: Mapped[str | None] = mapped_column(String(PLACE))
    route_id: Mapped[str | None] = mapped_column(String(PLACE))
    lot_id: Mapped[str | None] = mapped_column(String(PLACE))
    direction: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[RegistrationStatus] = mapped_column(_enum(RegistrationStatus))
    generation: Mapped[int]
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None]
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    added_at: Mapped[datetime]
    enrolled_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DeviceHeartbeatRow(Base):
    """The latest heartbeat of each device (migration 0017_device_heartbeats): one row per
    device, replaced by each heartbeat; its faults as a JSON list."""

    __tablename__ = "device_heartbeats"

    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("devices.device_id", ondelete="CASCADE"), primary_key=True
    )
    received_at: Mapped[datetime]
    device_time: Mapped[datetime | None]
    software_version: Mapped[str] = mapped_column(String(64))
    config_version: Mapped[str | None] = mapped_column(String(64))
    key_set_version: Mapped[str | None] = mapped_column(String(64))
    deny_list_version: Mapped[int | None] = mapped_column(BigInteger)
    records_waiting: Mapped[int] = mapped_column(BigInteger)
    oldest_waiting_seconds: Mapped[int | None] = mapped_column(BigInteger)
    faults: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class DeviceConflictRow(Base):
    """How many journal records a device sent again with another body than the one stored
    (the first stays), and the last such upload (migration 0023_device_conflicts): what the
    conflicting-records alarm reads. One row per device that ever sent one."""

    __tablename__ = "device_conflicts"

    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("devices.device_id", ondelete="CASCADE"), primary_key=True
    )
    records: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[datetime]
