"""Fixtures for `qr` tests: the fixed vector keys, a verifier over them, and issued credentials."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qr.credential import CredentialFlags, RiderCategory
from qr.issue import PhoneCredential, issue_credential
from qr.keys import KeyMaterial
from qr.vectors import fixed_key_material
from qr.verifier import Verifier, VerifierPolicy
from tests.helpers.qr import NOW, Issue


@pytest.fixture(scope="session")
def material() -> KeyMaterial:
    return fixed_key_material(rotated=False)


@pytest.fixture
def verifier(material: KeyMaterial) -> Verifier:
    return Verifier(material.keyset, material.secure_module(), VerifierPolicy())


@pytest.fixture(scope="session")
def issue(material: KeyMaterial) -> Issue:
    def _issue(
        credential_id: int = 1001,
        product: str = "M2A-DAY",
        category: RiderCategory = RiderCategory.ADULT,
        valid_from: datetime | None = datetime(2025, 6, 1, tzinfo=UTC),
        valid_until: datetime | None = datetime(2025, 6, 2, tzinfo=UTC),
        flags: CredentialFlags = CredentialFlags.NONE,
        keys: KeyMaterial | None = None,
        now: datetime = NOW,
    ) -> PhoneCredential:
        return issue_credential(
            keys or material,
            credential_id=credential_id,
            product=product,
            category=category,
            valid_from=valid_from,
            valid_until=valid_until,
            flags=flags,
            now=now,
        )

    return _issue


@pytest.fixture(scope="session")
def phone(issue: Issue) -> PhoneCredential:
    return issue()


@pytest.fixture(scope="session")
def token(phone: PhoneCredential) -> str:
    return phone.token_at(NOW)
