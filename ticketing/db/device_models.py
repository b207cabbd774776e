"""The device registry's table (migration 0012_device_registry): `devices`.

One row per registered gate, validator or barrier: its binding, its registration status, the
SHA-256 of its pending enrolment code (never the code), its secret sealed under the server's
device key (`ticketing.device_secrets`, never in clear) and the X25519 public key it sent at
enrolment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, LargeBinary, String
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
