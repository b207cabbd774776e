"""Languages: Vietnamese first, English a switch. The words are gettext catalogues read with
babel, money and times are formatted with babel's CLDR data.

- Catalogues: `faregate/locale/<lang>/LC_MESSAGES/messages.po`, read from the installed package
  as they are (no compiled `.mo` to build or forget: a wheel carries the `.po` and works). The
  msgids are the English texts, so English needs no catalogue and a missing translation falls
  back to English. `scripts/messages` extracts every marked text (templates, the page's
  JavaScript, the problem texts, `N_` in Python) and updates the catalogue;
  tests/web/test_i18n_catalogue.py fails on a text without a Vietnamese translation.
- Which language: `?lang=` on the page (the page's switch; remembered in the `faregate_lang`
  cookie), else that cookie, else the best of `Accept-Language` among ours, else Vietnamese.
  The passenger API answers its problems in the `Accept-Language` one (the page sends its
  own language), Vietnamese when none of ours is asked for.
- Money is written as Vietnamese readers expect whatever the language (`100.000 ₫`); times in
  Hanoi time.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from zoneinfo import ZoneInfo

from babel.core import Locale
from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

from ticketing.money import Money
from ticketing.outbox.messages import Message, render

VIETNAMESE = "vi"
ENGLISH = "en"
LANGUAGES = (VIETNAMESE, ENGLISH)
DEFAULT_LANGUAGE = VIETNAMESE
LANGUAGE_NAMES: Mapping[str, str] = {VIETNAMESE: "Tiếng Việt", ENGLISH: "English"}
LANG_COOKIE = "faregate_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
DOMAIN = "messages"
SERVICE_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# Money is one convention in every language: what prices in Hanoi look like.
MONEY_LOCALE = "vi_VN"


def N_(message: str) -> str:
    """Mark a text for the catalogue where it is defined; it is translated where it is shown."""
    return message


def language_of(code: str | None) -> str | None:
    """Ours for a language tag (`vi-VN`, `EN`, `en_GB` ...), or None."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The language of ours a browser's `Accept-Language` ranks highest (q-values honoured;
    `*` and languages we do not have count for nothing), or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        ours = language_of(tag)
        if ours is not None and quality > 0:
            ranked.append((-quality, position, ours))
    return min(ranked)[2] if ranked else None


def choose_language(
    asked: str | None = None, cookie: str | None = None, accept_language: str | None = None
) -> str:
    """The explicit choice first (the switch, then the remembered one), then the browser's
    wish, then Vietnamese."""
    return (
        language_of(asked)
        or language_of(cookie)
        or from_accept_language(accept_language)
        or DEFAULT_LANGUAGE
    )


def _catalogue_file(language: str) -> str:
    package = resources.files("faregate") / "locale" / language / "LC_MESSAGES"
    return (package / f"{DOMAIN}.po").read_text(encoding="utf-8")


@functools.cache
def catalogue(language: str) -> Catalog | None:
    """The parsed catalogue of `language` (None for English, the msgids' own language)."""
    if language == ENGLISH:
        return None
    return read_po(io.StringIO(_catalogue_file(language)), locale=language, domain=DOMAIN)


@functools.cache
def translations(language: str) -> NullTranslations:
    found = catalogue(language)
    if found is None:
        return NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, found)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def refusal(detail: str, sentence: str | None, language: str) -> str:
    """A refusal's `detail` (the rules' English) for a reader of `language`: the catalogue's
    translation when it has the detail word for word; else, for a detail made for the
    occasion (naming a field or a value), the translated `sentence` of its kind of error with
    the English detail after it in brackets; the detail as it is with no sentence, or in
    English. The passenger problems (faregate.api.problems) and the staff pages' `Error:`
    lines (faregate.web.refusals) both tell refusals so."""
    words = translations(language)
    translated = words.gettext(detail)
    if translated != detail or sentence is None or language == ENGLISH:
        return translated
    return f"{words.gettext(sentence)} ({detail})"


@functools.cache
def script_messages(language: str, scripts: tuple[str, ...] = ()) -> Mapping[str, str]:
    """The translations the page's JavaScript uses (texts found in a `.js` file, or only in
    the named `scripts`: `("operator.js",)`), for the page to carry as JSON: English is the
    empty catalogue (the msgids are the English)."""
    found = catalogue(language)
    if found is None:
        return {}
    wanted = tuple(f"/{name}" for name in scripts) or (".js",)
    return {
        str(message.id): str(message.string)
        for message in found
        if message.id
        and message.string
        and not message.fuzzy
        and any(path.endswith(wanted) for path, _ in message.locations)
    }


def money(amount: int | Decimal, currency: str) -> str:
    """`100.000 ₫`: amounts as Vietnamese readers write them, in every language."""
    return format_currency(amount, currency, locale=MONEY_LOCALE)


def money_of(value: Money) -> str:
    """`money` of a `Money` (its minor units taken to the currency's major ones)."""
    return money(value.to_major(), value.currency)


def hanoi_time(at: datetime, language: str, *, seconds: bool = False) -> str:
    """An instant in Hanoi time to the minute (or second): `7 thg 12 2026, 20:33` /
    `7 Dec 2026, 20:33`."""
    pattern = "d MMM y, HH:mm:ss" if seconds else "d MMM y, HH:mm"
    return format_datetime(at, pattern, tzinfo=SERVICE_ZONE, locale=Locale.parse(language))


def day_name(day: date, language: str) -> str:
    """A day as a reader of `language` writes it: `24 thg 11 2026` / `24 Nov 2026`."""
    return format_date(day, "d MMM y", locale=Locale.parse(language))


def long_day_name(day: date, language: str) -> str:
    """A day with its weekday, for a heading: `Thứ Ba 24 tháng 11 2026` /
    `Tuesday 24 November 2026`."""
    return format_date(day, "EEEE d MMMM y", locale=Locale.parse(language))


def hanoi_clock(at: datetime, language: str) -> str:
    """The Hanoi time of day of an instant, to the second: `20:33:05`."""
    return format_datetime(at, "HH:mm:ss", tzinfo=SERVICE_ZONE, locale=Locale.parse(language))


def number(count: int, language: str) -> str:
    """A count grouped as readers of `language` group it: `12.345` / `12,345`."""
    return format_decimal(count, locale=Locale.parse(language))


def render_message(message: Message, language: str = DEFAULT_LANGUAGE) -> str:
    """A message to a rider (SMS, e-mail) in `language`: Vietnamese unless asked otherwise."""
    return render(
        message,
        translate=translations(language).gettext,
        money=money,
        day=lambda day: day_name(day, language),
    )
