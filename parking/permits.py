"""Monthly permits as sold (through the passenger API, the operator API and page) and listed.

A lot sells permits when its `permit_price` is set, for the current or a coming month (at
most a year ahead), at most as many a month as it has reserved spaces: a permit holder parks
in one of them (`parking.permit`). Paid from an account, the price goes from the wallet (or
the receivable, for a postpaid card) to the lot operator's payable in the same transaction as
the permit (`ticketing.postings.parking_permit_sale`), which settlement apportions to that
operator; paid at the lot's counter, the operator has the money and nothing is posted. A sale
is in the audit log (`permit-sold`). The same holder, lot and month again is the same permit:
a retried sale charges nothing twice.
"""

from __future__ import annotations

from datetime import date, timedelta

from parking.errors import PermitError
from parking.permit import Permit, holder, month_window, permit_id
from parking.tariff_versions import in_force
from parking.unit_of_work import ParkingUnitOfWork, ParkingUnitOfWorkFactory
from ticketing import postings
from ticketing.audit import Actor, AuditAction, Target, TargetKind
from ticketing.money import Money
from ticketing.services.audit import record
from ticketing.unit_of_work import run_in_uow

MONTHS_AHEAD = 12


async def sell_permit(
    uows: ParkingUnitOfWorkFactory,
    lot_id: str,
    month: date,
    *,
    by: Actor,
    credential_id: int | None = None,
    plate: str | None = None,
    account_id: str | None = None,
    at_counter: bool = False,
) -> Permit:
    """Sell `lot_id`'s permit for `month` to a credential or a plate, paid from `account_id`
    (a passenger's own; checked to hold `credential_id` when one is given) or at the counter.
    PermitError, UnknownLot, ticketing's InsufficientFunds and UnknownRecord."""
    credential, normalised = holder(credential_id, plate)
    if at_counter == (account_id is not None):
        raise PermitError("a permit is paid from an account or at the counter: say which")

    async def use_case(uow: ParkingUnitOfWork) -> Permit:
        lot = await uow.parking.lot_for_update(lot_id)
        if lot.permit_price <= 0:
            raise PermitError(f"lot {lot_id} sells no permits")
        now = uow.clock()
        zone = in_force(await uow.parking.tariff_versions(lot_id), now).tariff.timezone
        first = month.replace(day=1)
        valid_from, valid_until = month_window(first, zone)
        this_month = now.astimezone(zone).date().replace(day=1)
        if valid_until <= now:
            raise PermitError(f"{first:%Y-%m} is over; sell this month's or a later one")
        if first > (this_month + timedelta(days=31 * MONTHS_AHEAD)).replace(day=1):
            raise PermitError(f"permits are sold at most {MONTHS_AHEAD} months ahead")
        name = permit_id(lot_id, first, credential, normalised)
        sold = await uow.parking.find_permit(name)
        if sold is not None:
            return sold
        if len(await uow.parking.permits(lot_id, month=first)) >= lot.reserved:
            raise PermitError(
                f"lot {lot_id} has {lot.reserved} reserved spaces and a permit for each of "
                f"them in {first:%Y-%m}: none left"
            )
        posting_id = None
        if account_id is not None:
            account = await uow.riders.get_account(account_id)
            if credential is not None:
                owner = (await uow.riders.get_credential(credential)).account_id
                if owner != account_id:
                    raise PermitError(f"credential {credential} is not account {account_id}'s")
            posting = postings.parking_permit_sale(
                account,
                name,
                operator_id=lot.operator,
                lot_id=lot_id,
                price=Money(lot.permit_price, lot.currency),
                at=now,
            )
            await uow.ledger.post(posting)
            posting_id = posting.id
        permit = await uow.parking.add_permit(
            Permit(
                permit_id=name,
                lot_id=lot_id,
                month=first,
                valid_from=valid_from,
                valid_until=valid_until,
                plate=normalised,
                credential_id=credential,
                price=lot.permit_price,
                currency=lot.currency,
                sold_at=now,
                sold_by=by.name,
                account_id=account_id,
                posting_id=posting_id,
            )
        )
        await record(
            uow,
            by,
            AuditAction.PERMIT_SOLD,
            Target(TargetKind.PERMIT, name),
            after={
                "lot": lot_id,
                "month": f"{first:%Y-%m}",
                "holder": permit.holder,
                "price": permit.price,
                "currency": permit.currency,
                "paid": "at the counter" if posting_id is None else f"from {account_id}",
            },
        )
        return permit

    return await run_in_uow(uows, use_case)


async def lot_permits(
    uows: ParkingUnitOfWorkFactory, lot_id: str, month: date | None = None
) -> list[Permit]:
    """The lot's permits (of one month, or all), in the order they start."""
    async with uows() as uow:
        await uow.parking.get_lot(lot_id)
        return await uow.parking.permits(lot_id, month=month)


async def account_permits(uows: ParkingUnitOfWorkFactory, account_id: str) -> list[Permit]:
    """The permits an account bought, in the order they start."""
    async with uows() as uow:
        return await uow.parking.permits(account_id=account_id)
