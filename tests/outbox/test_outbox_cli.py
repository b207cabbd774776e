"""`faregate outbox`: the configured outbox's messages for the demo and tests, as text or JSON;
a bad setting or file is one `Error:` line."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from faregate.cli import main
from ticketing.money import Money
from ticketing.outbox import announcements
from ticketing.outbox.file import FileOutbox

AT = datetime(2026, 11, 24, 14, 5, tzinfo=UTC)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def fill(path: Path) -> None:
    async def send() -> None:
        outbox = FileOutbox(path)
        for account in ("r1", "r2"):
            day, amount = date(2026, 11, 24), Money(48_000, "VND")
            await outbox.send(announcements.charge_declined(account, day, amount, at=AT))

    asyncio.run(send())


def test_lists_the_messages_of_the_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(tmp_path / "outbox.jsonl")
    code, out, _ = run(["--data-dir", str(tmp_path), "outbox", "--account", "r2"], capsys)
    assert code == 0
    assert out == (
        "2026-11-24 21:05  sms    r2  charge-declined\n"
        "    Faregate: thẻ của bạn bị từ chối khi trừ 48.000\xa0₫ tiền vé ngày 24 thg 11 2026. "
        "Hãy nạp tiền vào ví hoặc lưu thẻ khác để thanh toán; tiền vé chưa trả có thể khiến vé "
        "bị chặn tại cổng.\n"
    )
    args = ["--data-dir", str(tmp_path), "outbox", "--account", "r2", "--lang", "en"]
    code, out, _ = run(args, capsys)
    assert out == (
        "2026-11-24 21:05  sms    r2  charge-declined\n"
        "    Faregate: your card was declined for 48.000\xa0₫ of fares on 24 Nov 2026. Top up "
        "your wallet or save another card to pay it; unpaid fares can block your pass at the "
        "gates.\n"
    )
    code, out, _ = run(["--data-dir", str(tmp_path), "outbox", "--json", "--lang", "en"], capsys)
    listed = json.loads(out)
    assert [m["account_id"] for m in listed] == ["r1", "r2"]
    assert listed[0]["template"] == "charge-declined"
    assert listed[0]["parameters"] == {"day": "2026-11-24", "amount": 48_000, "currency": "VND"}
    assert listed[0]["text"].startswith("Faregate: your card was declined")


def test_another_outbox_file_and_an_empty_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    fill(elsewhere)
    code, out, _ = run(["--outbox", f"file:{elsewhere}", "outbox", "--json"], capsys)
    assert (code, len(json.loads(out))) == (0, 2)
    monkeypatch.setenv("FAREGATE_OUTBOX", f"file:{elsewhere}")
    code, out, _ = run(["outbox", "--account", "r1", "--json"], capsys)
    assert [m["account_id"] for m in json.loads(out)] == ["r1"]
    monkeypatch.delenv("FAREGATE_OUTBOX")
    code, out, _ = run(["--data-dir", str(tmp_path / "empty"), "outbox"], capsys)
    assert code == 0
    assert out.startswith("no messages in ")


@pytest.mark.parametrize(
    ("setting", "content", "error"),
    [
        ("smtp://mail.example", None, "Error: outbox 'smtp://mail.example' is not one"),
        ("file:", None, "is not one Faregate has; use file:PATH"),
        (None, "not json\n", "outbox.jsonl: line 1 is not a message"),
    ],
)
def test_a_bad_setting_or_file_is_one_error_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setting: str | None,
    content: str | None,
    error: str,
) -> None:
    if content is not None:
        (tmp_path / "outbox.jsonl").write_text(content)
    args = ["--data-dir", str(tmp_path)] + ([] if setting is None else ["--outbox", setting])
    code, _, err = run([*args, "outbox"], capsys)
    assert code == 1
    assert error in err
    assert "Traceback" not in err
