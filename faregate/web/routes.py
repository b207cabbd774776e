"""Mounting the pages on an aiohttp app: `add_web_routes`, which the app factory calls."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from faregate.web import parking_pages as parking_web
from faregate.web import trip_cases as trip_cases_web
from faregate.web.app_shell import add_app_shell_routes
from faregate.web.audit import AUDIT_SOURCE, AuditSource, audit_page
from faregate.web.finance import (
    FINANCE_SOURCE,
    FinanceSource,
    approve_settlement,
    finance_page,
    operator_figure_page,
    report_file,
    run_status,
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
from faregate.web.parking_pages import PARKING_PAGES, ParkingPages
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
    parking: ParkingPages | None = None,
) -> None:
    """Mount the pages and their static files on `app` (before it starts).

    - `/` (passenger): without `credential_source` the page is an installable app (its
      manifest and service worker: faregate.web.app_shell) that signs the passenger in
      through the passenger API, keeps the token and the pass in IndexedDB and shows the
      account; with one (tests, demos) the source's pass is embedded in the page (or the page
      says there is none) and `clock` is the server's time, which that page checks the
      phone's clock against.
    - `/operator` and `/operator/occupancy/events`: only with an `operator` source. Whoever
      records parking entries and exits publishes occupancy to `occupancy` (one is made when
      not given; it is `app[OCCUPANCY]` either way).
    - `/finance`, `POST /finance/days/{day}/settle` (prepare), `.../approve`, and
      `/finance/days/{day}/run` (the run's progress, JSON): only with a `finance` source;
      `/finance/audit` (the audit log) only with it and an `audit` source.

    - `/operator/lots/...`, `/operator/cases` and `/inspector` (faregate.web.parking_pages):
      only with `parking` (and `operator`).

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
    if credential_source is None:
        add_app_shell_routes(app)

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
        if parking is not None:
            _add_parking_pages(app, parking, guard)
    if finance is not None:
        app[FINANCE_SOURCE] = finance
        app.router.add_get("/finance", guard(UserRole.FINANCE, finance_page), name="finance")
        app.router.add_post(
            "/finance/days/{day}/settle",
            guard(UserRole.FINANCE, start_settlement),
            name="finance_settle",
        )
        app.router.add_post(
            "/finance/days/{day}/approve",
            guard(UserRole.FINANCE, approve_settlement),
            name="finance_approve",
        )
        app.router.add_get(
            "/finance/days/{day}/run", guard(UserRole.FINANCE, run_status), name="finance_run"
        )
        app.router.add_get(
            "/finance/days/{day}/operators/{operator}",
            guard(UserRole.FINANCE, operator_figure_page),
            name="finance_operator",
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
            # Trip cases read and decide through the same units of work as the audit log.
            app.router.add_get(
                trip_cases_web.PATH,
                guard(UserRole.FINANCE, trip_cases_web.trip_cases_page),
                name="finance_trip_cases",
            )
            app.router.add_post(
                trip_cases_web.PATH + "/{case_id}/resolve",
                guard(UserRole.FINANCE, trip_cases_web.post_resolve),
                name="finance_trip_case_resolve",
            )


def _add_parking_pages(
    app: web.Application, parking: ParkingPages, guard: Callable[[UserRole, Handler], Handler]
) -> None:
    app[PARKING_PAGES] = parking
    ops = UserRole.OPERATOR
    lot = "/operator/lots/{lot_id}"
    for method, path, handler, name in (
        ("GET", "/operator/lots/new", parking_web.new_lot, "operator_lot_new"),
        ("POST", "/operator/lots", parking_web.post_new_lot, "operator_lot_create"),
        ("GET", lot, parking_web.show_lot, "operator_lot"),
        ("POST", f"{lot}/edit", parking_web.post_edit, "operator_lot_edit"),
        ("POST", f"{lot}/tariffs", parking_web.post_upload, "operator_lot_upload"),
        ("POST", f"{lot}/tariffs/{{version}}/schedule", parking_web.post_schedule,
         "operator_lot_schedule"),
        ("POST", f"{lot}/tariffs/{{version}}/cancel", parking_web.post_cancel,
         "operator_lot_cancel"),
        ("POST", f"{lot}/barriers/{{device_id}}/open", parking_web.post_open,
         "operator_lot_open"),
        ("POST", f"{lot}/permits", parking_web.post_permit, "operator_lot_permit"),
        ("GET", "/operator/cases", parking_web.show_cases, "operator_cases"),
        ("GET", "/operator/cases.csv", parking_web.cases_csv_file, "operator_cases_csv"),
        ("POST", "/operator/cases/{session_id}/notify", parking_web.post_notify,
         "operator_case_notify"),
        ("POST", "/operator/cases/{session_id}/write-off", parking_web.post_write_off,
         "operator_case_write_off"),
        ("POST", "/operator/cases/{session_id}/collect", parking_web.post_collect,
         "operator_case_collect"),
    ):  # fmt: skip
        app.router.add_route(method, path, guard(ops, handler), name=name)
    inspector = UserRole.INSPECTOR
    app.router.add_get("/inspector", guard(inspector, parking_web.show_inspector), name="inspector")
    app.router.add_post(
        "/inspector/checks", guard(inspector, parking_web.post_check), name="inspector_check"
    )
