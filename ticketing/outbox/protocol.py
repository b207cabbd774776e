"""The outbox adapters' interface: every message to a rider goes through `Outbox.send`.

An adapter delivers (or, on the embedded default, keeps) a message once per dedup key: sending
one again with a key already sent does nothing and answers False, so a use case may announce
after every attempt and a retried one never messages a rider twice. Reading back
(`OutboxReader`) is for adapters that keep what they send (the file outbox: the demo, tests,
`faregate outbox`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ticketing.outbox.messages import Message


class Outbox(Protocol):
    async def send(self, message: Message) -> bool:
        """Send `message` unless its dedup key was sent before; True if it was sent now.
        Raises OutboxError if it cannot be sent."""
        ...


class OutboxReader(Protocol):
    async def messages(self, account_id: str | None = None) -> Sequence[Message]:
        """The messages kept, oldest first (only `account_id`'s when given)."""
        ...
