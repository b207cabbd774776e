"""A refused change as the staff pages say it: `Error: …` in the page's language.

The reason is told as the passenger problems tell theirs (faregate.i18n.refusal): the
catalogue's translation when it has the rules' English word for word, else the sentence of the
error's kind below (its class or the nearest base that has one) with the English detail in
brackets, which names the field and the value. English pages (`?lang=en`) read the detail as
it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from faregate import i18n
from faregate.errors import FormRefused, SettlementRefused
from faregate.i18n import N_
from faregate.web.pages import page_language
from parking import errors as parking
from ticketing import errors as ticketing
from ticketing.payments import errors as payments

# The kinds of error the staff forms can meet: the tariff upload and the lot forms, the
# parking cases, the inspector's check, a trip case's resolution and a day's settlement.
SENTENCES: Mapping[type[BaseException], str] = {
    FormRefused: N_("What was filled in is not valid"),
    parking.TariffError: N_("The tariff file has errors"),
    parking.LotError: N_("The lot's configuration cannot work"),
    parking.LotExists: N_("A lot with this id exists already"),
    parking.UnknownLot: N_("Not found"),
    parking.NoTariff: N_("The lot has no tariff"),
    parking.UnknownTariffVersion: N_("The lot's tariff has no such version"),
    parking.TariffScheduleError: N_("This tariff version cannot be scheduled or cancelled so"),
    parking.OccupancyError: N_("The lot's occupancy cannot be changed so"),
    parking.CaseError: N_("This case cannot change so"),
    parking.InvalidPlate: N_("This is not a plate"),
    parking.InspectionError: N_("This check cannot be made"),
    parking.RemoteOpenError: N_("This barrier cannot be opened from afar"),
    parking.PermitError: N_("This permit cannot be sold so"),
    parking.ParkingError: N_("The parking rules refuse this change"),
    ticketing.UnknownRecord: N_("Not found"),
    ticketing.InvalidAuditQuery: N_("This filter cannot be used"),
    ticketing.TripCaseClosed: N_("This case is decided already"),
    ticketing.RefundAboveFare: N_("The refund is more than the trip's fare"),
    payments.RefundNotAllowed: N_("This refund is not allowed"),
    ticketing.TicketingError: N_("The ticketing rules refuse this change"),
    SettlementRefused: N_("This day cannot be settled so now"),
}


def sentence_of(error: BaseException) -> str | None:
    """The sentence of `error`'s kind: its class's, else its nearest base's; None if none."""
    for kind in type(error).__mro__:
        if kind in SENTENCES:
            return SENTENCES[kind]
    return None


def error_line(request: web.Request, error: BaseException) -> str:
    """`Error: <reason>` in the page's language (see the module docstring)."""
    language = page_language(request)
    reason = i18n.refusal(str(error), sentence_of(error), language)
    return i18n.gettext(language, N_("Error: {reason}")).format(reason=reason)
