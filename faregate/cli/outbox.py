"""`faregate outbox`: the messages to riders the configured outbox holds (for the demo and tests).

    faregate outbox [--account ACCOUNT] [--lang vi|en] [--json] [--data-dir DIR]

Oldest first; each as its template, parameters and its text as the rider reads it, in
Vietnamese unless `--lang en` (faregate.i18n.render_message). The embedded
default's outbox is `DATA_DIR/outbox.jsonl` (`--outbox file:PATH` or FAREGATE_OUTBOX to read
another).
"""

from __future__ import annotations

import asyncio
import json
from zoneinfo import ZoneInfo

import click

from faregate import i18n
from faregate.config import Settings
from faregate.outbox_runtime import open_outbox
from ticketing.outbox.messages import Message
from ticketing.service_day import DEFAULT_TIMEZONE

SERVICE_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


def _document(message: Message, language: str) -> dict[str, object]:
    return {**message.to_json(), "text": i18n.render_message(message, language)}


@click.command(name="outbox")
@click.option("--account", "account_id", default=None, help="Only this rider account's messages.")
@click.option(
    "--lang", "language", type=click.Choice(i18n.LANGUAGES), default=i18n.DEFAULT_LANGUAGE,
    show_default=True, help="The language the texts are written in.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the messages.")
@click.pass_obj
def outbox(settings: Settings, account_id: str | None, language: str, as_json: bool) -> None:
    """List the messages to riders in the outbox, oldest first."""
    box = open_outbox(settings)
    found = asyncio.run(box.messages(account_id))
    if as_json:
        documents = [_document(m, language) for m in found]
        click.echo(json.dumps(documents, indent=2, ensure_ascii=False))
        return
    if not found:
        whose = "" if account_id is None else f" for {account_id}"
        click.echo(f"no messages{whose} in {box.path}")
        return
    for message in found:
        local = message.created_at.astimezone(SERVICE_ZONE)
        click.echo(
            f"{local:%Y-%m-%d %H:%M}  {message.channel:<5}  {message.account_id}  "
            f"{message.template}\n    {i18n.render_message(message, language)}"
        )
