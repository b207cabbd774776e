"""The file outbox: one whole JSON line per message, each dedup key once even across
processes, a line cut short by a crash dropped and cut off, a bad file one clear error."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ticketing.errors import OutboxError
from ticketing.money import Money
from ticketing.outbox import announcements
from ticketing.outbox.file import FileOutbox
from ticketing.outbox.messages import Message

AT = datetime(2026, 11, 24, 21, 5, tzinfo=UTC)


def message(account: str = "r1", day: int = 0) -> Message:
    return announcements.charge_declined(
        account, date(2026, 11, 1) + timedelta(days=day), Money(10_000, "VND"), at=AT
    )


async def test_a_message_is_kept_once_per_dedup_key(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path / "var" / "outbox.jsonl")  # its directory is made on demand
    assert await outbox.send(message("r1"))
    assert not await outbox.send(message("r1"))
    assert await outbox.send(message("r2"))
    assert [m.account_id for m in await outbox.messages()] == ["r1", "r2"]
    assert await outbox.messages("r2") == [message("r2")]
    assert await outbox.messages("nobody") == []
    # Another process's view (a fresh object) knows the keys from the file.
    again = FileOutbox(outbox.path)
    assert not await again.send(message("r1"))
    lines = outbox.path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["dedup_key"] for line in lines] == [
        "charge-declined:r1:2026-11-01",
        "charge-declined:r2:2026-11-01",
    ]


async def test_an_outbox_never_written_reads_empty(tmp_path: Path) -> None:
    assert await FileOutbox(tmp_path / "outbox.jsonl").messages() == []


async def test_concurrent_sends_in_one_process_keep_each_key_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    boxes = [FileOutbox(path), FileOutbox(path)]
    sent = await asyncio.gather(*(boxes[n % 2].send(message(day=n % 10)) for n in range(40)))
    assert sum(sent) == 10
    assert len(await boxes[0].messages()) == 10


SENDER = """
import asyncio, sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from ticketing.money import Money
from ticketing.outbox import announcements
from ticketing.outbox.file import FileOutbox

outbox = FileOutbox(Path(sys.argv[1]))
at = datetime(2026, 11, 24, tzinfo=UTC)
print("ready", flush=True)
sys.stdin.readline()  # all start together

async def run() -> int:
    sent = 0
    for n in range(200):
        day = date(2026, 11, 1) + timedelta(days=n)
        sent += await outbox.send(announcements.charge_declined("r1", day, Money(1, "VND"), at=at))
    return sent

print(asyncio.run(run()))
"""


def test_processes_sharing_the_file_keep_each_key_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    senders = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for sender in senders:  # wait until each has imported everything, then start them at once
        assert sender.stdout is not None
        assert sender.stdout.readline() == "ready\n"
    for sender in senders:
        assert sender.stdin is not None
        sender.stdin.write("go\n")
        sender.stdin.flush()
    sent = [int(sender.communicate(timeout=120)[0]) for sender in senders]
    assert [sender.returncode for sender in senders] == [0, 0, 0]
    assert sum(sent) == 200
    keys = [json.loads(line)["dedup_key"] for line in path.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 200


async def test_a_line_cut_short_by_a_crash_is_ignored_then_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    outbox = FileOutbox(path)
    await outbox.send(message("r1"))
    whole = path.read_bytes()
    with path.open("ab") as file:  # a crash in the middle of the next write
        file.write(json.dumps(message("r2").to_json()).encode()[:30])
    assert [m.account_id for m in await outbox.messages()] == ["r1"]
    fresh = FileOutbox(path)
    assert await fresh.send(message("r2"))  # the cut line never counted as sent
    assert [m.account_id for m in await fresh.messages()] == ["r1", "r2"]
    assert path.read_bytes().startswith(whole)
    assert path.read_bytes().count(b"\n") == 2


async def test_a_line_that_is_no_message_is_one_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    await FileOutbox(path).send(message("r1"))
    with path.open("a", encoding="utf-8") as file:
        file.write('{"not": "a message"}\n')
    with pytest.raises(OutboxError, match=r"outbox\.jsonl: line 2 is not a message"):
        await FileOutbox(path).messages()
    with pytest.raises(OutboxError, match="line 2"):
        await FileOutbox(path).send(message("r3"))


async def test_an_outbox_that_cannot_be_written_is_one_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="cannot open the outbox"):
        await FileOutbox(blocker / "outbox.jsonl").send(message())
    directory = tmp_path / "adir"
    directory.mkdir()
    with pytest.raises(OutboxError, match="cannot read the outbox"):
        await FileOutbox(directory).messages()
