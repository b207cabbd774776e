"""Riders sign up with a phone number or an e-mail address and a name in any script, and
reset a forgotten password with a one-time code sent through the outbox: the code works once,
for ten minutes, is replaced by a newer one, dies after five wrong guesses, and at most three
go out an hour; a reset ends every session. SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketing.errors import BadCredentials, InvalidUser, ResetCodeRefused, UserExists
from ticketing.outbox.file import FileOutbox
from ticketing.outbox.messages import Channel, Template
from ticketing.services import passengers
from ticketing.services.password_reset import (
    CODE_TTL,
    MAX_CODES_PER_HOUR,
    MAX_WRONG_GUESSES,
    confirm_reset,
    request_reset,
)
from ticketing.services.users import sign_in, user_for_token
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import login_name

PASSWORD = "a long enough password"
NEW_PASSWORD = "another long password"
START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def uows(engine: AsyncEngine, clock: Clock) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(engine, clock)


@pytest.fixture
def outbox(tmp_path: Path) -> FileOutbox:
    return FileOutbox(tmp_path / "outbox.jsonl")


async def register(uows: UnitOfWorkFactory, login: str, name: str | None = None) -> str:
    registered = await passengers.register_passenger(
        uows, login, PASSWORD, display_name=name, at=START
    )
    return registered.account.id


async def codes(outbox: FileOutbox, account_id: str) -> list[str]:
    return [str(m.parameters["code"]) for m in await outbox.messages(account_id)]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0912 345 678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("(024) 3825 1234", "+842438251234"),  # a Hanoi landline
        ("+1 202-555-0143", "+12025550143"),  # a visitor's number, with its country code
        (" An.Nguyen@Example.VN ", "an.nguyen@example.vn"),
        ("ops-1", "ops-1"),  # staff keep plain usernames
    ],
)
def test_a_login_is_stored_one_way_however_it_is_written(typed: str, stored: str) -> None:
    assert login_name(typed) == stored


@pytest.mark.parametrize(
    "typed", ["0123", "0912 345", "+84 12", "an@", "an@example", "a b@example.vn", "1" * 30]
)
def test_a_number_or_address_that_is_none_is_refused(typed: str) -> None:
    with pytest.raises(InvalidUser):
        login_name(typed)


async def test_a_rider_signs_up_with_a_phone_and_a_vietnamese_name(
    uows: UnitOfWorkFactory,
) -> None:
    # Typed with combining marks (as some keyboards send it): stored precomposed.
    typed = unicodedata.normalize("NFD", "  Nguyễn   Văn A ")
    await register(uows, "0912 345 678", typed)
    session = await sign_in(uows, "+84 912 345 678", PASSWORD)
    assert session.user.username == "+84912345678"
    assert session.user.display_name == "Nguyễn Văn A"
    found = await user_for_token(uows, session.token)
    assert found is not None
    assert found.display_name == "Nguyễn Văn A"
    with pytest.raises(UserExists):
        await register(uows, "+84912345678", "Someone Else")


async def test_an_e_mail_address_is_one_user_in_any_case(uows: UnitOfWorkFactory) -> None:
    await register(uows, "An.Nguyen@Example.VN", "An")
    assert (await sign_in(uows, "an.nguyen@example.vn", PASSWORD)).user.display_name == "An"
    with pytest.raises(UserExists):
        await register(uows, "AN.NGUYEN@example.vn")


@pytest.mark.parametrize("name", ["", "   ", "a\x00b", "evil\u202etxt.exe", "x" * 101])
async def test_a_display_name_that_cannot_be_shown_is_refused(
    uows: UnitOfWorkFactory, name: str
) -> None:
    with pytest.raises(InvalidUser):
        await register(uows, "0912 345 678", name)


async def test_a_reset_code_sets_a_new_password_once_and_ends_every_session(
    uows: UnitOfWorkFactory, outbox: FileOutbox
) -> None:
    account_id = await register(uows, "0912 345 678", "Nguyễn Văn A")
    phone = await sign_in(uows, "0912345678", PASSWORD)
    assert await request_reset(uows, outbox, "0912 345 678")
    [message] = await outbox.messages(account_id)
    assert (message.template, message.channel) == (Template.RESET_CODE, Channel.SMS)
    assert message.parameters["minutes"] == 10
    code = str(message.parameters["code"])
    assert len(code) == 6
    assert code.isdigit()
    await confirm_reset(uows, "+84912345678", code, NEW_PASSWORD)
    assert await user_for_token(uows, phone.token) is None  # the old session is over
    with pytest.raises(BadCredentials):
        await sign_in(uows, "0912345678", PASSWORD)
    await sign_in(uows, "0912345678", NEW_PASSWORD)
    with pytest.raises(ResetCodeRefused):  # once only
        await confirm_reset(uows, "0912345678", code, "yet another password")


async def test_an_e_mail_rider_gets_the_code_by_e_mail(
    uows: UnitOfWorkFactory, outbox: FileOutbox
) -> None:
    account_id = await register(uows, "an@example.vn")
    assert await request_reset(uows, outbox, "AN@example.vn")
    [message] = await outbox.messages(account_id)
    assert message.channel is Channel.EMAIL


async def test_a_code_expires_and_a_newer_one_replaces_it(
    uows: UnitOfWorkFactory, outbox: FileOutbox, clock: Clock
) -> None:
    account_id = await register(uows, "0912 345 678")
    await request_reset(uows, outbox, "0912345678")
    clock.now += CODE_TTL
    [expired] = await codes(outbox, account_id)
    with pytest.raises(ResetCodeRefused):
        await confirm_reset(uows, "0912345678", expired, NEW_PASSWORD)
    await request_reset(uows, outbox, "0912345678")
    await request_reset(uows, outbox, "0912345678")
    _, older, newest = await codes(outbox, account_id)
    if older != newest:  # one in a million they are the same digits
        with pytest.raises(ResetCodeRefused):
            await confirm_reset(uows, "0912345678", older, NEW_PASSWORD)
    await confirm_reset(uows, "0912345678", newest, NEW_PASSWORD)


async def test_codes_are_throttled_and_a_code_dies_after_five_wrong_guesses(
    uows: UnitOfWorkFactory, outbox: FileOutbox, clock: Clock
) -> None:
    account_id = await register(uows, "0912 345 678")
    sent = [await request_reset(uows, outbox, "0912345678") for _ in range(MAX_CODES_PER_HOUR + 2)]
    assert sent == [True] * MAX_CODES_PER_HOUR + [False, False]
    assert len(await codes(outbox, account_id)) == MAX_CODES_PER_HOUR
    code = (await codes(outbox, account_id))[-1]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(MAX_WRONG_GUESSES):
        with pytest.raises(ResetCodeRefused):
            await confirm_reset(uows, "0912345678", wrong, NEW_PASSWORD)
    with pytest.raises(ResetCodeRefused):  # the right one, too late
        await confirm_reset(uows, "0912345678", code, NEW_PASSWORD)
    clock.now += timedelta(hours=1)  # an hour later, a new code may go out
    assert await request_reset(uows, outbox, "0912345678")
    await confirm_reset(uows, "0912345678", (await codes(outbox, account_id))[-1], NEW_PASSWORD)


async def test_nobody_and_staff_get_no_code_and_the_answer_is_the_same(
    uows: UnitOfWorkFactory, outbox: FileOutbox
) -> None:
    assert not await request_reset(uows, outbox, "0987 654 321")  # nobody has it
    assert not await request_reset(uows, outbox, "not a phone")
    assert await outbox.messages() == []
    with pytest.raises(ResetCodeRefused):
        await confirm_reset(uows, "0987654321", "123456", NEW_PASSWORD)
    with pytest.raises(ResetCodeRefused):
        await confirm_reset(uows, "0987654321", "12345x", NEW_PASSWORD)


async def test_a_short_new_password_spends_no_guess(
    uows: UnitOfWorkFactory, outbox: FileOutbox
) -> None:
    account_id = await register(uows, "0912 345 678")
    await request_reset(uows, outbox, "0912345678")
    [code] = await codes(outbox, account_id)
    with pytest.raises(InvalidUser):
        await confirm_reset(uows, "0912345678", code, "short")
    await confirm_reset(uows, "0912345678", code, NEW_PASSWORD)
