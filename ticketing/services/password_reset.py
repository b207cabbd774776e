"""A rider who forgot their password sets a new one with a one-time code sent to their phone
(SMS) or e-mail address through the outbox.

    await request_reset(uows, outbox, "0912 345 678")       # a code goes out, if anyone is there
    await confirm_reset(uows, "0912 345 678", "042917", "a new long password")

- A code is 6 random digits, stored only as a SHA-256 of the username and the code, good for
  `CODE_TTL` (10 minutes), once. A newer code replaces every older one.
- Throttled: at most `MAX_CODES_PER_HOUR` codes per user an hour (more asks send nothing), and
  a code is dead after `MAX_WRONG_GUESSES` wrong guesses: at most 15 guesses an hour at a
  million codes.
- Nothing tells who has an account: asking for a code answers the same whether anyone has
  that phone or address, and every refusal of a code is the same `ResetCodeRefused`.
- A reset ends every session of the user (a phone signed in by whoever knew the old password
  is signed out), and the code's use is committed with the new password in one transaction;
  a wrong guess is counted in its own, so refusing it does not undo the count.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from ticketing.errors import InvalidUser, ResetCodeRefused
from ticketing.outbox.messages import Channel, Message, Template
from ticketing.outbox.protocol import Outbox
from ticketing.services.users import DEFAULT_COST, ScryptCost, hash_password
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow
from ticketing.users import LoginKind, UserRole, login_kind, login_name

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_CODES_PER_HOUR = 3
MAX_WRONG_GUESSES = 5
_CHANNELS = {LoginKind.PHONE: Channel.SMS, LoginKind.EMAIL: Channel.EMAIL}


def _code_hash(username: str, code: str) -> str:
    return hashlib.sha256(f"{username}\x00{code}".encode()).hexdigest()


def _rider_login(typed: str) -> str | None:
    """The stored login a rider typed, if it is a phone number or an address (a code needs
    somewhere to go); None otherwise."""
    try:
        name = login_name(typed)
    except InvalidUser:
        return None
    return name if login_kind(name) in _CHANNELS else None


async def request_reset(uows: UnitOfWorkFactory, outbox: Outbox, typed_login: str) -> bool:
    """Send a new code to the passenger who signs in with `typed_login`; True if one went out
    (False: nobody, not a passenger, or throttled; the caller answers the same either way)."""
    name = _rider_login(typed_login)
    if name is None:
        return False
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"

    async def make(uow: UnitOfWork) -> Message | None:
        stored = await uow.users.get(name)
        if stored is None or stored.user.role is not UserRole.PASSENGER:
            return None
        account_id = stored.user.account_id
        now = uow.clock()
        if account_id is None or (
            await uow.users.reset_codes_since(name, now - timedelta(hours=1))
            >= MAX_CODES_PER_HOUR
        ):
            return None
        await uow.users.add_reset_code(name, _code_hash(name, code), now + CODE_TTL)
        return Message(
            account_id=account_id,
            channel=_CHANNELS[login_kind(name)],
            template=Template.RESET_CODE,
            parameters={"code": code, "minutes": CODE_TTL // timedelta(minutes=1)},
            created_at=now,
            dedup_key=f"{Template.RESET_CODE}:{account_id}:{secrets.token_hex(8)}",
        )

    message = await run_in_uow(uows, make)
    if message is None:
        return False
    # After the commit: a code that could not be sent is simply never used (ask again).
    return await outbox.send(message)


async def confirm_reset(
    uows: UnitOfWorkFactory,
    typed_login: str,
    code: str,
    new_password: str,
    *,
    cost: ScryptCost = DEFAULT_COST,
) -> None:
    """Set `new_password` (hashed at `cost`) if `code` is the user's live code, and end every
    session of the user. ResetCodeRefused otherwise (InvalidUser for a password of the wrong
    length, before the code is looked at: a bad password does not spend a guess)."""
    password_hash = await hash_password(new_password, cost)
    name = _rider_login(typed_login)
    if name is None or not (code.isascii() and code.isdigit() and len(code) == CODE_DIGITS):
        raise ResetCodeRefused("this code is wrong, used or expired; ask for a new one")
    login = name

    async def check(uow: UnitOfWork) -> bool:
        live = await uow.users.live_reset_code(login, uow.clock())
        if live is None or live.attempts >= MAX_WRONG_GUESSES:
            return False
        if not hmac.compare_digest(live.code_hash, _code_hash(login, code)):
            await uow.users.count_reset_attempt(live.id)
            return False
        await uow.users.use_reset_code(live.id)
        await uow.users.set_password(login, password_hash)
        await uow.users.revoke_tokens_of(login)
        return True

    if not await run_in_uow(uows, check):
        raise ResetCodeRefused("this code is wrong, used or expired; ask for a new one")
