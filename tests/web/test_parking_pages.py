"""The parking pages over the whole app (SQLite and PostgreSQL, the local Redis): a lot's day
as charts with their numbers, the lot created, changed and given a tariff through forms (each
error shown by its field, nothing changed), a barrier opened with a reason, the cases' workflow
and CSV, the inspector's check; other roles and forms without the session's token refused."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from faregate.api.context import ENGINE, REDIS
from faregate.i18n import SERVICE_ZONE, long_day_name
from faregate.web.staff import FORM_TOKEN_FIELD, form_token
from gateways.localstripe_server import LocalStripe
from parking.occupancy import Occupancy
from parking.records import LotKind
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.api import Client, make_config, token
from tests.helpers.parking import car_fee, lot_with_a_day
from ticketing.users import UserRole


@pytest.fixture
async def client(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> AsyncIterator[Client]:
    config = make_config(tmp_path, db_url, localstripe_server)
    async with TestClient(TestServer(create_app(config))) as test_client:
        yield test_client


class Staff:
    """A signed-in member of staff posting the pages' forms with their session's token."""

    def __init__(self, client: Client, bearer: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {bearer}"}
        self.form_token = form_token(bearer)

    async def get(self, path: str) -> Any:
        return await self.client.get(path, headers=self.headers, allow_redirects=False)

    async def post(self, path: str, form: dict[str, str], *, token: bool = True) -> Any:
        data = {**form, FORM_TOKEN_FIELD: self.form_token} if token else form
        return await self.client.post(path, data=data, headers=self.headers, allow_redirects=False)


async def a_lot_with_a_day(client: Client, **changes: Any) -> str:
    app = client.server.app
    return await lot_with_a_day(
        ParkingUnitOfWorkFactory(app[ENGINE]), Occupancy(app[REDIS]), **changes
    )


async def test_a_lots_page_shows_its_day_as_charts_with_their_numbers(client: Client) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    lot_id = await a_lot_with_a_day(client, now=now)
    fees = car_fee(now - timedelta(minutes=80), now - timedelta(minutes=40)) + car_fee(
        now - timedelta(minutes=70), now - timedelta(minutes=30)
    )
    ops = Staff(client, await token(client, UserRole.OPERATOR))
    page = await ops.get(f"/operator/lots/{lot_id}")
    assert page.status == 200, await page.text()
    html = await page.text()
    assert html.count("<svg") >= 4  # occupancy, entries and exits, dwell, revenue
    assert re.search(r'<path d="M0,100 L0,[\d.]+ ', html)
    assert 'data-field="free">37<' in html  # 40 spaces, 2 reserved, 1 inside: the API's figure
    assert f"{fees:,}\xa0₫</td>".replace(",", ".") in html  # today's fees: both stays that ended
    assert "barrier-" in html  # the barrier that uploaded can be opened
    # Vietnamese first, as the other staff pages: the words, the charts' labels, the day.
    today = long_day_name(now.astimezone(SERVICE_ZONE).date(), "vi")
    assert f'<h2 id="day-heading">{today}</h2>' in html
    assert "<strong>Số xe trong bãi, mỗi 5 phút</strong>" in html
    assert '<span class="hbar-label">dưới 15 phút</span>' in html  # the dwell bands
    assert re.search(r'<span class="hbar-label">Th[^<]* \d+ thg \d+</span>', html)  # revenue days
    assert "Vehicles inside" not in html
    english = await (await ops.get(f"/operator/lots/{lot_id}?lang=en")).text()
    assert "<strong>Vehicles inside, every 5 minutes</strong>" in english
    assert '<span class="hbar-label">under 15 min</span>' in english
    assert f"{fees:,}\xa0₫</td>".replace(",", ".") in english  # money as Hanoi writes it
    overview = await (await ops.get("/operator")).text()
    assert f'href="/operator/lots/{lot_id}"' in overview
    for path, status in [
        (f"/operator/lots/{lot_id}?day=2026-02-30", 422),
        (f"/operator/lots/{lot_id}?day=0001-01-01", 422),
        ("/operator/lots/nowhere", 404),
    ]:
        answer = await ops.get(path)
        assert answer.status == status, path
        assert "Traceback" not in await answer.text()
    finance = Staff(client, await token(client, UserRole.FINANCE))
    assert (await finance.get(f"/operator/lots/{lot_id}")).status == 403
    assert (await client.get(f"/operator/lots/{lot_id}")).status == 401


async def test_a_lot_is_created_and_changed_through_its_forms(client: Client) -> None:
    ops = Staff(client, await token(client, UserRole.OPERATOR))
    new = await ops.get("/operator/lots/new")
    assert new.status == 200
    assert "<h1>Bãi xe mới</h1>" in await new.text()  # Vietnamese first, as the staff pages
    lot_id = f"new-{secrets.token_hex(4)}"
    form = {
        "lot_id": lot_id, "name": "Trần Hưng Đạo", "operator": "iparking-hanoi",
        "capacity": "20", "reserved": "25", "kind": "on-street", "tariff": "hanoi-car",
    }  # fmt: skip
    refused = await ops.post("/operator/lots", form)
    assert refused.status == 422
    html = await refused.text()
    assert "reserved" in html
    # Vietnamese first: the kind of error, then the rules' own words naming field and value.
    assert "Lỗi: Cấu hình bãi xe không dùng được (reserved: must be 0 to the capacity (20))" in html
    english = await ops.post("/operator/lots?lang=en", form)
    assert english.status == 422
    english_html = await english.text()
    assert "<h1>New parking lot</h1>" in english_html
    assert "Error: reserved: must be 0 to the capacity (20)<" in english_html
    await ops.get("/operator/lots/new?lang=vi")  # the switch back (the choice is remembered)
    assert 'value="Trần Hưng Đạo"' in html  # the form keeps what was typed
    assert (await ops.get(f"/operator/lots/{lot_id}")).status == 404  # nothing created
    for bad in ({"capacity": "many"}, {"tariff": ""}, {"latitude": "north"}):
        answer = await ops.post("/operator/lots", {**form, "reserved": "2", **bad})
        assert answer.status == 422, bad
    created = await ops.post("/operator/lots", {**form, "reserved": "2"})
    assert created.status == 303, await created.text()
    assert created.headers["Location"].startswith(f"/operator/lots/{lot_id}")
    again = await ops.post("/operator/lots", {**form, "reserved": "2"})
    assert again.status == 409
    assert "exists" in await again.text()

    path = f"/operator/lots/{lot_id}"
    edited = await ops.post(f"{path}/edit", {"capacity": "25", "reason": "repainted"})
    assert edited.status == 303
    assert "25" in await (await ops.get(path)).text()
    refused = await ops.post(f"{path}/edit", {"reserved": "30"})
    assert refused.status == 422
    assert 'aria-invalid="true"' in await refused.text()
    assert (await ops.post(f"{path}/edit", {"capacity": "30"}, token=False)).status == 403


async def test_a_tariff_is_uploaded_with_its_errors_shown_and_scheduled(client: Client) -> None:
    lot_id = await a_lot_with_a_day(client)
    ops = Staff(client, await token(client, UserRole.OPERATOR))
    path = f"/operator/lots/{lot_id}"
    document = (Path(__file__).parents[2] / "data" / "tariffs" / "hanoi-car.toml").read_text()
    broken = document.replace("grace_minutes = 15", "grace_minutes = -5").replace(
        'currency = "VND"', 'currency = "dong"'
    )
    refused = await ops.post(f"{path}/tariffs", {"document": broken})
    assert refused.status == 422
    html = await refused.text()
    assert "<code>grace_minutes</code>" in html
    assert "<code>currency</code>" in html
    # Vietnamese first, then the rules' English naming each field and value.
    said = re.findall(r'role="alert">([^<]*)<', html)
    assert said[0].startswith("Lỗi: Tệp biểu giá có lỗi (upload: "), said
    assert "grace_minutes: must not be negative, got -5" in said[0]
    empty = await ops.post(f"{path}/tariffs", {"document": ""})
    assert "Lỗi: dán nội dung tệp biểu giá<" in await empty.text()  # the catalogue's words
    english = await (await ops.post(f"{path}/tariffs?lang=en", {"document": broken})).text()
    assert re.findall(r'role="alert">([^<]*)<', english)[0].startswith("Error: upload: ")
    assert "Tệp biểu giá" not in english
    await ops.get(f"{path}?lang=vi")  # the switch back (a language chosen is remembered)
    dearer = document.replace("amount = 25000", "amount = 30000", 1)
    uploaded = await ops.post(f"{path}/tariffs", {"document": dearer})
    assert uploaded.status == 303
    assert uploaded.headers["Location"].endswith("preview=2")
    preview = await (await ops.get(uploaded.headers["Location"])).text()
    assert "Xem trước v2" in preview
    assert "30.000\xa0₫" in preview
    tomorrow = (datetime.now(UTC) + timedelta(days=1, hours=7)).strftime("%Y-%m-%dT%H:%M")
    assert (await ops.post(f"{path}/tariffs/2/schedule", {"effective_from": "soon"})).status == 422
    scheduled = await ops.post(f"{path}/tariffs/2/schedule", {"effective_from": tomorrow})
    assert scheduled.status == 303
    page = await (await ops.get(path)).text()
    assert re.search(r"v2</th>\s*<td[^>]*><span>hanoi-car", page)
    assert "đã lên lịch" in page
    assert (await ops.post(f"{path}/tariffs/1/cancel", {"reason": "old"})).status == 409
    assert (await ops.post(f"{path}/tariffs/2/cancel", {"reason": ""})).status == 422
    assert (await ops.post(f"{path}/tariffs/2/cancel", {"reason": "typo"})).status == 303


async def test_a_barrier_is_opened_and_a_permit_sold_from_the_lots_page(client: Client) -> None:
    lot_id = await a_lot_with_a_day(client)
    ops = Staff(client, await token(client, UserRole.OPERATOR))
    path = f"/operator/lots/{lot_id}"
    device = re.search(r"/barriers/([^/]+)/open", await (await ops.get(path)).text())
    assert device is not None
    open_path = f"{path}/barriers/{device.group(1)}/open"
    refused = await ops.post(open_path, {"reason": ""})
    assert refused.status == 422
    assert "Lỗi: nêu lý do mở barie" in await refused.text()
    assert (await ops.post(f"{path}/barriers/other/open", {"reason": "stuck"})).status == 409
    assert (await ops.post(open_path, {"reason": "ticket jammed"})).status == 303
    opened = await (await ops.get(path)).text()
    assert "ticket jammed" in opened  # in the day's remote opens, asked when in Hanoi time
    assert re.search(r"<th scope=\"row\">\d+ thg \d+ 20\d\d, \d\d:\d\d</th>", opened)
    month = (datetime.now(UTC) + timedelta(hours=7)).strftime("%Y-%m")
    assert (await ops.post(f"{path}/permits", {"plate": "", "month": month})).status == 422
    assert (await ops.post(f"{path}/permits", {"plate": "30A-5", "month": "May"})).status == 409
    sold = await ops.post(f"{path}/permits", {"plate": "30A-555.55", "month": month})
    assert sold.status == 303
    assert "plate 30A55555" in await (await ops.get(path)).text()


async def test_the_cases_page_follows_a_case_up_and_exports_it(client: Client) -> None:
    lot_id = await a_lot_with_a_day(client)
    ops = Staff(client, await token(client, UserRole.OPERATOR))
    listed = await ops.get(f"/operator/cases?lot_id={lot_id}&plate=29a22222")
    assert listed.status == 200
    html = await listed.text()
    # Vietnamese first, as the other staff pages: words, money and Hanoi time.
    assert "<h1>Trường hợp chưa thu được phí</h1>" in html
    assert ">Xóa nợ</button>" in html
    assert re.search(r"\d+\.\d{3}\xa0₫", html)
    assert re.search(r"\d+ thg \d+ 20\d\d, \d\d:\d\d", html)  # when it left, Hanoi time
    session = re.search(r'data-session-id="([^"]+)"', html)
    assert session is not None
    write_off = f"/operator/cases/{session.group(1)}/write-off"
    assert (await ops.post(write_off, {"reason": ""})).status == 409
    done = await ops.post(write_off, {"reason": "sign was unclear", "back": "/operator/cases"})
    assert done.status == 303
    told = await ops.get(done.headers["Location"])
    assert "Đã xóa nợ trường hợp này." in await told.text()
    english = await ops.get(f"/operator/cases?lot_id={lot_id}&lang=en")
    html = await english.text()
    assert "<h1>Unable-to-collect cases</h1>" in html
    assert ">written off<" in html
    assert (await ops.post(write_off, {"reason": "again"})).status == 409
    exported = await ops.get(f"/operator/cases.csv?lot_id={lot_id}")
    assert exported.status == 200
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    assert [(r["plate"], r["status"]) for r in rows] == [("29A22222", "written_off")]
    for bad in ("status=lost", "day=yesterday", "plate=--"):
        assert (await ops.get(f"/operator/cases?{bad}")).status == 422, bad


async def test_an_inspector_checks_a_plate_on_the_phone_page(client: Client) -> None:
    street = await a_lot_with_a_day(client, kind=LotKind.ON_STREET)
    inspector = Staff(client, await token(client, UserRole.INSPECTOR))
    page = await inspector.get("/inspector")
    assert page.status == 200
    html = await page.text()
    assert street in html
    assert "<h1>Kiểm tra biển số</h1>" in html  # Vietnamese first, as the other staff pages
    checked = await inspector.post("/inspector/checks", {"lot_id": street, "plate": "29A 333 33"})
    assert checked.status == 200
    html = await checked.text()
    assert 'data-result="session"' in html
    assert "Trả theo lượt gửi" in html
    nothing = await inspector.post("/inspector/checks", {"lot_id": street, "plate": "30E-99999"})
    assert 'data-result="nothing"' in await nothing.text()
    refused = await inspector.post("/inspector/checks", {"lot_id": street, "plate": "?"})
    assert refused.status == 422
    html = await refused.text()
    assert "Lỗi: " in html
    assert "is not a plate" in html  # the parking rules' own words, after the Vietnamese
    english = await inspector.get("/inspector?lang=en")
    assert "<h1>Plate check</h1>" in await english.text()
    assert (await inspector.post("/inspector/checks", {"plate": "x"}, token=False)).status == 403
    ops = Staff(client, await token(client, UserRole.OPERATOR))
    assert (await ops.get("/inspector")).status == 403
