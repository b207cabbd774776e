"""Mounting the pages on an aiohttp app: `add_web_routes`, which the app factory calls."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from faregate.web.audit import AUDIT_SOURCE, AuditSource, audit_page
from faregate.web.finance import (
    FINANCE_SOURCE,
    FinanceSource,
    finance_page,
    report_file,
    start_settlement,
)
from faregate.web.occupancy import OCCUPANCY, OccupancyBroadcaster, occupancy_events
from faregate.web.operator import OPERATOR_SOURCE, OperatorSource, operator_page
from faregate.web.pages import (
    ACCOUNT_MODE,
    CLOCK,
    CREDENTIAL_SOURCE,
    STATIC_DIR,
    TEMPLATES,
    CredentialSource,
    no_credential,
    passenger_page,
    template_environment,
)
from faregate.web.staff import (
    STAFF_USERS,
    StaffUsers,
    require_role,
    staff_sign_in,
    staff_sign_out,
)
from qr.timeutil import Clock, utc_now
from ticketing.users import UserRole


def add_web_routes(
    app: web.Application,
    credential_source: CredentialSource | None = None,
    *,
    clock: Clock = utc_now,
    operator: OperatorSource | None = None,
    occupancy: OccupancyBroadcaster | None = None,
    finance: FinanceSource | None = None,
    staff: StaffUsers | None = None,
    audit: AuditSource | None = None,
) -> None:
    """Mount the pages and their static files on `app` (before it starts).

    - `/` (passenger): without `credential_source` the page signs the passenger in through the
      passenger API (token in the tab's sessionStorage), fetches the phone credential once and
      shows the account; with one (tests, demos) the source's pass is embedded in the page (or
      the page says there is none). `clock` is the server's time, which the page checks the
      phone's clock against.
    - `/operator` and `/operator/occupancy/events`: only with an `operator` source. Whoever
      records parking entries and exits publishes occupancy to `occupancy` (one is made when
      not given; it is `app[OCCUPANCY]` either way).
    - `/finance` and `POST /finance/days/{day}/settle`: only with a `finance` source;
      `/finance/audit` (the audit log) only with it and an `audit` source.

    - With `staff` (the app's users), `/operator` needs an operator's and `/finance` a
      finance user's token (a cookie set by `POST /staff/sign-in`, or a bearer header); see
      `faregate.web.staff`. Without it (tests of the pages alone) they are not guarded.
    """
    static = app.router.add_static("/static/", STATIC_DIR, name="static")
    app[TEMPLATES] = template_environment(lambda path: str(static.url_for(filename=path)))
    app[CREDENTIAL_SOURCE] = credential_source or no_credential
    app[ACCOUNT_MODE] = credential_source is None
    app[CLOCK] = clock
    app.router.add_get("/", passenger_page, name="passenger")

    def guard(role: UserRole, handler: Handler) -> Handler:
        return handler if staff is None else require_role(role, handler)

    if staff is not None:
        app[STAFF_USERS] = staff
        app.router.add_post("/staff/sign-in", staff_sign_in, name="staff_sign_in")
        app.router.add_post("/staff/sign-out", staff_sign_out, name="staff_sign_out")
    if operator is not None:
        broadcaster = occupancy or OccupancyBroadcaster()
        app[OPERATOR_SOURCE] = operator
        app[OCCUPANCY] = broadcaster

        async def end_streams(app: web.Application) -> None:
            broadcaster.close()

        app.on_shutdown.append(end_streams)
        app.router.add_get("/operator", guard(UserRole.OPERATOR, operator_page), name="operator")
        app.router.add_get(
            "/operator/occupancy/events",
            guard(UserRole.OPERATOR, occupancy_events),
            name="operator_occupancy_events",
        )
    if finance is not None:
        app[FINANCE_SOURCE] = finance
        app.router.add_get("/finance", guard(UserRole.FINANCE, finance_page), name="finance")
        app.router.add_post(
            "/finance/days/{day}/settle",
            guard(UserRole.FINANCE, start_settlement),
            name="finance_settle",
        )
        app.router.add_get(
            "/finance/days/{day}/files/{name}",
            guard(UserRole.FINANCE, report_file),
            name="finance_file",
        )
        if audit is not None:
            app[AUDIT_SOURCE] = audit
            app.router.add_get(
                "/finance/audit", guard(UserRole.FINANCE, audit_page), name="finance_audit"
            )
