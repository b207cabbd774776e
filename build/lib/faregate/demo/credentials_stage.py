"""Demo stage 1: credentials issued, rendered to PNG, scanned and decided at an offline gate.

Shows the everyday accept and the attacks the design stops: a replayed screenshot, a code
shown after its window, a tampered code, a denied credential and a pass used where it is not
valid. Every image goes through `qrcode` and back through `zxing-cpp`.
"""

from __future__ import annotations

import pathlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rich.console import Console
from rich.table import Table

from qr.credential import RiderCategory
from qr.denylist import DenyList
from qr.issue import PhoneCredential, issue_credential
from qr.keys import init_keys
from qr.render import write_png
from qr.token import PREFIX, build_token, parse_token
from simulators.gate import OfflineGate

GATE_ID = "M2A-CATLINH-G1"
METRO_PRODUCTS = frozenset({"M2A*", "M3*", "NET*"})


@dataclass(frozen=True, slots=True)
class Presentation:
    passenger: str
    scene: str
    image: pathlib.Path
    expected: str
    reason: str


@dataclass
class CredentialStageResult:
    """Decisions of the stage, counted: accepted, and refused by reason."""

    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    presentations: list[Presentation] = field(default_factory=list)

    @property
    def as_expected(self) -> bool:
        return bool(self.presentations) and all(p.reason == p.expected for p in self.presentations)


def _tampered(token: str) -> str:
    """The same token with its product code edited (M2A-DAY -> M2A-MON), signature kept."""
    parsed = parse_token(token)
    assert parsed is not None
    body = bytearray(parsed.body)
    body[11:19] = b"M2A-MON\0"
    return build_token(bytes(body) + parsed.signature, parsed.code)


def run_credentials_stage(
    workdir: pathlib.Path, console: Console, now: datetime
) -> CredentialStageResult:
    workdir.mkdir(parents=True, exist_ok=True)
    keys = init_keys(workdir / "keys", now - timedelta(hours=1))

    def issue(cid: int, product: str, category: RiderCategory) -> PhoneCredential:
        return issue_credential(
            keys,
            credential_id=cid,
            product=product,
            category=category,
            now=now,
            valid_until=now + timedelta(days=1),
        )

    an = issue(100_001, "M2A-DAY", RiderCategory.ADULT)
    binh = issue(100_002, "NET-MON", RiderCategory.STUDENT)
    chi = issue(100_003, "M2A-DAY", RiderCategory.SENIOR)
    dung = issue(100_004, "M2A-DAY", RiderCategory.ADULT)
    em = issue(100_005, "BUS-ALL", RiderCategory.PRIORITY)

    deny_list = DenyList(1, frozenset({dung.credential.credential_id}), issued_at=now)
    gate = OfflineGate(
        GATE_ID,
        keys.keyset,
        keys.secure_module(),
        workdir / f"{GATE_ID}.sqlite",
        deny_list=deny_list,
        accepted_products=METRO_PRODUCTS,
        clock=lambda: now,
    )
    t0 = now + timedelta(seconds=30)

    def png(name: str, token: str) -> pathlib.Path:
        assert token.startswith(PREFIX)
        path = workdir / f"{name}.png"
        write_png(token, path)
        return path

    def live(
        name: str, phone: PhoneCredential, seconds: int, edit: Callable[[str], str] = str
    ) -> tuple[pathlib.Path, datetime]:
        """The code the phone shows `seconds` after t0 (maybe edited), shown to the gate then."""
        at = t0 + timedelta(seconds=seconds)
        return png(name, edit(phone.token_at(at))), at

    an_shot = png("an", an.token_at(t0))
    binh_shot = png("binh-screenshot", binh.token_at(t0))
    scenes = [
        ("An", "day pass, shows the live code", an_shot, t0, "accepted"),
        ("Binh", "student monthly, live code", *live("binh", binh, 2), "accepted"),
        ("Chi", "senior day pass, live code", *live("chi", chi, 4), "accepted"),
        (
            "An's friend",
            "shows a screenshot of An's code",
            an_shot,
            t0 + timedelta(seconds=6),
            "replayed",
        ),
        (
            "Binh's friend",
            "screenshot shown 90 s later",
            binh_shot,
            t0 + timedelta(seconds=92),
            "stale_code",
        ),
        (
            "Chi",
            "code edited to a monthly pass",
            *live("chi-tampered", chi, 8, _tampered),
            "bad_signature",
        ),
        ("Dung", "phone reported lost", *live("dung", dung, 10), "denied"),
        ("Em", "bus pass at a metro gate", *live("em", em, 12), "not_entitled"),
    ]

    result = CredentialStageResult()
    refused: Counter[str] = Counter()
    table = Table(title=f"Offline gate {GATE_ID} (deny list v{deny_list.version})")
    for column in ("passenger", "what happens", "image", "decision", "reason"):
        table.add_column(column)
    try:
        for passenger, scene, image, at, expected in scenes:
            decision = gate.present_image(image, at)
            if decision.accepted:
                result.accepted += 1
            else:
                refused[decision.reason.value] += 1
            result.presentations.append(
                Presentation(passenger, scene, image, expected, decision.reason.value)
            )
            table.add_row(
                passenger,
                scene,
                image.name,
                "[green]OPEN[/green]" if decision.accepted else "[red]REFUSED[/red]",
                decision.reason.value,
            )
        journaled = len(gate.journal.records())
    finally:
        gate.close()
    result.refused = dict(refused)
    console.print(table)
    console.print(
        f"{result.accepted} accepted, {sum(refused.values())} refused; "
        f"{journaled} decisions journaled in {GATE_ID}.sqlite"
    )
    return result
