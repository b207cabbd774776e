"""`faregate qr`: issue credentials, print tokens, verify as an offline gate, show live codes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from faregate.cli._common import INSTANT, finite
from qr.credential import MAX_CREDENTIAL_ID, CredentialFlags, RiderCategory
from qr.decision import Decision
from qr.decode import verify_image
from qr.denylist import DenyList
from qr.issue import PhoneCredential, issue_credential
from qr.keys import load_keys, load_keyset, load_secure_module
from qr.liveness import TotpWindow
from qr.memory import GateMemory, GateStateFile
from qr.render import terminal_text, write_png, write_svg
from qr.timeutil import isoformat_z, utc_now
from qr.verifier import MAX_PASSBACK_SECONDS, GateContext, Verifier, VerifierPolicy

KEY_DIR = click.Path(file_okay=False, exists=True, path_type=Path)


@click.group(name="qr")
def qr() -> None:
    """Credential and token commands: issue, token, verify, show."""


@qr.command()
@click.option(
    "--keys", "key_dir", type=KEY_DIR, required=True, help="Key directory (from `keys init`)."
)
@click.option(
    "--credential-id",
    type=click.IntRange(0, MAX_CREDENTIAL_ID),
    required=True,
    help="64-bit credential id.",
)
@click.option("--product", required=True, help="Product code: 1-8 of A-Z 0-9 - _ (e.g. M2A-DAY).")
@click.option(
    "--category",
    default="adult",
    show_default=True,
    help="Rider category: " + ", ".join(c.name.lower() for c in RiderCategory) + ".",
)
@click.option(
    "--valid-from", type=INSTANT, help="Start of validity (default: now). Cut to the minute."
)
@click.option(
    "--valid-until",
    type=INSTANT,
    help="End of validity, exclusive (default: 30 days, or the keys' end if sooner).",
)
@click.option("--postpaid", is_flag=True, help="Set the POSTPAID flag (daily card charge).")
@click.option("--at", "issued_at", type=INSTANT, help="Issue as of this time (default: now).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Credential file to write.",
)
def issue(
    key_dir: Path,
    credential_id: int,
    product: str,
    category: str,
    valid_from: datetime | None,
    valid_until: datetime | None,
    postpaid: bool,
    issued_at: datetime | None,
    out: Path,
) -> None:
    """Issue a signed credential and write the phone's credential file (credential + its seed)."""
    phone = issue_credential(
        load_keys(key_dir),
        credential_id=credential_id,
        product=product,
        category=RiderCategory.from_code(category),
        valid_from=valid_from,
        valid_until=valid_until,
        flags=CredentialFlags.POSTPAID if postpaid else CredentialFlags.NONE,
        now=issued_at or utc_now(),
    )
    phone.save(out)
    c = phone.credential
    click.echo(
        f"credential {c.credential_id} ({c.product}, {c.category.name.lower()}) valid "
        f"{isoformat_z(c.valid_from)} .. {isoformat_z(c.valid_until)} -> {out}"
    )


CREDENTIAL_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


@qr.command()
@click.option(
    "--credential", "credential_file", type=CREDENTIAL_FILE, required=True, help="Credential file."
)
@click.option("--at", type=INSTANT, help="Moment the token is for (default: now).")
@click.option(
    "--png", type=click.Path(dir_okay=False, path_type=Path), help="Also write the QR code as PNG."
)
@click.option(
    "--svg", type=click.Path(dir_okay=False, path_type=Path), help="Also write the QR code as SVG."
)
def token(credential_file: Path, at: datetime | None, png: Path | None, svg: Path | None) -> None:
    """Print the token text valid at that moment, and nothing else, on standard output."""
    text = PhoneCredential.load(credential_file).token_at(at or utc_now())
    if png is not None:
        write_png(text, png)
    if svg is not None:
        write_svg(text, svg)
    click.echo(text)


@qr.command()
@click.option(
    "--keys",
    "key_dir",
    type=KEY_DIR,
    required=True,
    help="Key directory (key set + liveness keys).",
)
@click.option("--text", "token_text", help="Token text to verify.")
@click.option(
    "--image", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="PNG to scan."
)
@click.option("--at", type=INSTANT, help="Gate time (default: now).")
@click.option(
    "--gate",
    "gate_id",
    default="GATE-1",
    show_default=True,
    help="Gate id (replay memory is per gate).",
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file keeping gates' replay/passback memory between calls.",
)
@click.option(
    "--deny",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Deny list: a JSON list of credential ids or a deny-list document.",
)
@click.option(
    "--product",
    "products",
    multiple=True,
    help="Product accepted here (repeatable; PREFIX* allowed). Default: any.",
)
@click.option(
    "--window-before",
    type=click.IntRange(0, 10),
    default=1,
    show_default=True,
    help="TOTP steps accepted before now.",
)
@click.option(
    "--window-after",
    type=click.IntRange(0, 10),
    default=1,
    show_default=True,
    help="TOTP steps accepted after now.",
)
@click.option(
    "--passback-seconds",
    type=click.FloatRange(0, MAX_PASSBACK_SECONDS),
    callback=finite,
    default=120.0,
    show_default=True,
    help="Re-entry refused within this time.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as one JSON object.")
def verify(
    key_dir: Path,
    token_text: str | None,
    image: Path | None,
    at: datetime | None,
    gate_id: str,
    state: Path | None,
    deny: Path | None,
    products: tuple[str, ...],
    window_before: int,
    window_after: int,
    passback_seconds: float,
    as_json: bool,
) -> None:
    """Decide on a token as an offline gate would. Exit code 0 whether accepted or refused."""
    if (token_text is None) == (image is None):
        raise click.UsageError("give exactly one of --text TOKEN or --image PNG")
    policy = VerifierPolicy(
        window=TotpWindow(window_before, window_after), passback_seconds=passback_seconds
    )
    verifier = Verifier(
        load_keyset(key_dir),
        load_secure_module(key_dir),
        policy,
        deny_list=DenyList.load(deny) if deny is not None else None,
    )
    gate = GateContext(gate_id, frozenset(products) if products else None)
    when = at or utc_now()

    def decide(memory: GateMemory | None) -> Decision:
        if image is not None:
            return verify_image(verifier, image, at=when, gate=gate, memory=memory)
        # A shell or a scanner may add a line ending; a token never starts or ends with space.
        return verifier.verify((token_text or "").strip(), at=when, gate=gate, memory=memory)

    if state is None:
        decision = decide(None)
    else:
        # Read, decide and save under the state's lock: concurrent gates take turns.
        with GateStateFile.locked(state) as state_file:
            memory = state_file.memory(gate_id)
            decision = decide(memory)
            memory.prune(when.timestamp(), verifier.keep_seconds())
            state_file.save()
    if as_json:
        click.echo(json.dumps(decision.to_json()))
    else:
        click.echo(_describe(decision))


def _describe(d: Decision) -> str:
    verdict = "ACCEPTED" if d.accepted else f"REFUSED {d.reason.value}"
    who = (
        ""
        if d.credential_id is None
        else f" credential {d.credential_id} ({d.product}, {d.category})"
    )
    detail = f": {d.detail}" if d.detail else ""
    return f"{verdict}{who} at {d.gate_id}{detail}"


@qr.command()
@click.option(
    "--credential", "credential_file", type=CREDENTIAL_FILE, required=True, help="Credential file."
)
@click.option(
    "--iterations",
    type=click.IntRange(0),
    default=0,
    help="Show this many codes, then stop (default: until Ctrl-C).",
)
@click.option(
    "--at",
    type=INSTANT,
    help="Simulated start time: codes for successive periods are shown without waiting.",
)
def show(credential_file: Path, iterations: int, at: datetime | None) -> None:
    """Show a live rotating QR code in the terminal, refreshed every TOTP period."""
    phone = PhoneCredential.load(credential_file)
    period = phone.period
    console = Console()

    def next_step(moment: datetime) -> int:
        """Unix second at which the code shown at `moment` is replaced."""
        return (int(moment.timestamp()) // period + 1) * period

    def frame(moment: datetime) -> Group:
        left = next_step(moment) - int(moment.timestamp())
        c = phone.credential
        caption = Text(
            f"credential {c.credential_id} · {c.product} · {c.category.name.lower()} · "
            f"code {phone.code_at(moment)} · next in {left:2d} s"
        )
        return Group(Text(terminal_text(phone.token_at(moment))), caption)

    shown = 0
    moment = at or utc_now()
    with Live(frame(moment), console=console, auto_refresh=False) as live:
        while True:
            shown += 1
            if iterations and shown >= iterations:
                break
            step_end = next_step(moment)
            if at is None:
                time.sleep(max(0.0, step_end - time.time()))
                moment = utc_now()
            else:
                moment = datetime.fromtimestamp(step_end, UTC)
            live.update(frame(moment), refresh=True)
