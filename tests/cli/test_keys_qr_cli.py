"""Acceptance checks of `faregate keys` and `faregate qr`, through click and as a real process."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from faregate.cli import cli
from qr.errors import KeySetError
from qr.issue import PhoneCredential

ROOT = Path(__file__).resolve().parents[2]
FAREGATE = Path(sys.executable).parent / "faregate"
T0 = "2025-06-01T00:00:00Z"
AT = "2025-06-01T08:30:07+07:00"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    keys, cred = tmp_path / "keys", tmp_path / "phone.json"
    assert run("keys", "init", str(keys), "--at", T0).exit_code == 0
    issued = run(
        "qr", "issue", "--keys", str(keys), "--credential-id", "4711", "--product", "M2A-DAY",
        "--category", "student", "--valid-from", T0, "--valid-until", "2025-06-02T00:00:00Z",
        "--at", T0, "--out", str(cred),
    )  # fmt: skip
    assert issued.exit_code == 0, issued.output
    return keys, cred


def token_at(cred: Path, at: str = AT, *extra: str) -> str:
    result = run("qr", "token", "--credential", str(cred), "--at", at, *extra)
    assert result.exit_code == 0
    return result.output


def verify_json(keys: Path, *args: str) -> dict[str, object]:
    result = run("qr", "verify", "--keys", str(keys), "--json", *args)
    assert result.exit_code == 0, result.output
    decision: dict[str, object] = json.loads(result.output)
    return decision


def test_keys_init_writes_private_files_0600_and_keyset(setup: tuple[Path, Path]) -> None:
    keys, _ = setup
    for name in ("issuer-keys.json", "liveness-keys.json"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    keyset = json.loads((keys / "keyset.json").read_text())
    assert [k["kid"] for k in keyset["issuer_keys"]] == [1]
    again = CliRunner().invoke(cli, ["keys", "init", str(keys)])  # main() shows it as one line
    assert isinstance(again.exception, KeySetError)
    assert "already exists" in str(again.exception)


def test_token_prints_only_the_token(setup: tuple[Path, Path], tmp_path: Path) -> None:
    _, cred = setup
    out = token_at(cred, AT, "--png", str(tmp_path / "t.png"), "--svg", str(tmp_path / "t.svg"))
    assert out.endswith("\n")
    assert out.count("\n") == 1
    assert out.startswith("FG1")
    assert len(out.strip()) == 151
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (tmp_path / "t.svg").read_text()


def test_verify_text_then_replay_with_state(setup: tuple[Path, Path], tmp_path: Path) -> None:
    keys, cred = setup
    token = token_at(cred).strip()
    state = str(tmp_path / "state.json")
    first = verify_json(keys, "--text", token, "--at", AT, "--gate", "G1", "--state", state)
    assert (first["accepted"], first["reason"], first["credential_id"]) == (True, "accepted", 4711)
    second = verify_json(keys, "--text", token, "--at", AT, "--gate", "G1", "--state", state)
    assert (second["accepted"], second["reason"]) == (False, "replayed")
    other_gate = verify_json(keys, "--text", token, "--at", AT, "--gate", "G2", "--state", state)
    assert other_gate["accepted"] is True


def test_verify_image_and_garbled_image(setup: tuple[Path, Path], tmp_path: Path) -> None:
    keys, cred = setup
    png = tmp_path / "code.png"
    token_at(cred, AT, "--png", str(png))
    assert verify_json(keys, "--image", str(png), "--at", AT)["accepted"] is True
    garbled = tmp_path / "garbled.png"
    garbled.write_bytes(png.read_bytes()[:300])
    d = verify_json(keys, "--image", str(garbled), "--at", AT)
    assert (d["accepted"], d["reason"], d["credential_id"]) == (False, "malformed", None)


def test_verify_refusals_exit_zero(setup: tuple[Path, Path], tmp_path: Path) -> None:
    keys, cred = setup
    token = token_at(cred).strip()
    assert (
        verify_json(keys, "--text", token, "--at", "2025-06-01T02:00:00Z")["reason"] == "stale_code"
    )
    other_digit = "1" if token[-1] == "0" else "0"
    assert verify_json(keys, "--text", token[:-1] + other_digit, "--at", AT)["accepted"] is False
    assert verify_json(keys, "--text", "garbage", "--at", AT)["reason"] == "malformed"
    deny = tmp_path / "deny.json"
    deny.write_text("[4711]")
    assert verify_json(keys, "--text", token, "--at", AT, "--deny", str(deny))["reason"] == "denied"
    later = token_at(cred, "2025-06-02T00:00:00Z").strip()
    assert verify_json(keys, "--text", later, "--at", "2025-06-02T00:00:00Z")["reason"] == "expired"
    human = run("qr", "verify", "--keys", str(keys), "--text", token, "--at", AT)
    assert (human.exit_code, human.output.split()[0]) == (0, "ACCEPTED")


def test_rotation_through_the_cli(setup: tuple[Path, Path], tmp_path: Path) -> None:
    keys, old = setup
    assert run("keys", "rotate", str(keys), "--at", "2025-06-01T01:00:00Z").exit_code == 0
    new = tmp_path / "new.json"
    assert run(
        "qr", "issue", "--keys", str(keys), "--credential-id", "9", "--product", "BUS-ALL",
        "--at", "2025-06-01T01:00:00Z", "--out", str(new),
    ).exit_code == 0  # fmt: skip
    assert json.loads(new.read_text())["credential_id"] == 9
    for cred in (old, new):
        assert verify_json(keys, "--text", token_at(cred).strip(), "--at", AT)["accepted"] is True
    exported = json.loads(run("keys", "export", str(keys)).output)
    assert [k["kid"] for k in exported["issuer_keys"]] == [1, 2]


@pytest.mark.parametrize(
    "args",
    [
        ["qr", "verify", "--keys", "{keys}"],  # neither --text nor --image
        ["qr", "verify", "--keys", "{keys}", "--text", "x", "--image", "{cred}"],
        ["qr", "verify", "--keys", "{keys}", "--text", "x", "--at", "2025-06-01T08:00:00"],  # naive
        ["qr", "token", "--credential", "{cred}", "--at", "yesterday"],
        [
            "qr",
            "issue",
            "--keys",
            "{keys}",
            "--credential-id",
            "-1",
            "--product",
            "X",
            "--out",
            "o",
        ],
    ],
)
def test_usage_errors_exit_non_zero(setup: tuple[Path, Path], args: list[str]) -> None:
    keys, cred = setup
    result = CliRunner().invoke(cli, [a.format(keys=keys, cred=cred) for a in args])
    assert result.exit_code == 2
    assert "Usage" in result.output


def test_show_draws_successive_codes(setup: tuple[Path, Path]) -> None:
    _, cred = setup
    result = run("qr", "show", "--credential", str(cred), "--iterations", "2", "--at", AT)
    assert result.exit_code == 0
    assert "credential 4711" in result.output
    assert "▄" in result.output or "▀" in result.output
    # Off a terminal only the last frame is printed: the second one, at the next step boundary.
    phone = PhoneCredential.load(cred)
    start = int(datetime.fromisoformat(AT).timestamp())
    boundary = datetime.fromtimestamp((start // phone.period + 1) * phone.period, UTC)
    assert f"code {phone.code_at(boundary)} · next in {phone.period:2d} s" in result.output


def test_real_process_round_trip(tmp_path: Path) -> None:
    """The console script as a real process: a decision read off a PNG, and an error as one
    line without a traceback. (Making the keys, the credential and the PNG is what the
    CliRunner tests above cover; each real process costs the CLI's start-up.)"""

    def faregate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FAREGATE), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )

    keys, cred, png = tmp_path / "k", tmp_path / "c.json", tmp_path / "c.png"
    assert run("keys", "init", str(keys), "--at", T0).exit_code == 0
    assert run("qr", "issue", "--keys", str(keys), "--credential-id", "1", "--product", "M3-DAY",
               "--at", T0, "--out", str(cred)).exit_code == 0  # fmt: skip
    assert token_at(cred, AT, "--png", str(png)).strip().startswith("FG1")
    verified = faregate("qr", "verify", "--keys", "k", "--image", "c.png", "--at", AT, "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["accepted"] is True
    broken = faregate("qr", "token", "--credential", "k/keyset.json")
    assert broken.returncode == 1
    assert broken.stderr.startswith("Error: ")
    assert "Traceback" not in broken.stderr
    missing = run("qr", "issue", "--keys", "missing", "--credential-id", "1", "--product", "X",
                  "--out", str(tmp_path / "o"))  # fmt: skip
    assert missing.exit_code != 0
