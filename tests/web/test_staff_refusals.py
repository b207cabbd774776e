"""The staff pages' `Error:` lines (faregate.web.refusals): Vietnamese first, the catalogue's
words for a reason it has word for word, else the sentence of the error's kind with the rules'
English in brackets; English by the switch. The pages themselves: tests/web/test_parking_pages.py
(a refused tariff file and lot form), test_finance_routes.py, test_finance_trip_cases.py,
test_audit_page.py."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from faregate.errors import FormRefused, SettlementRefused
from faregate.web.refusals import error_line
from parking.errors import CaseError, InvalidPlate, LotError
from ticketing.errors import (
    InvalidAuditQuery,
    RefundAboveFare,
    TripCaseClosed,
    UnknownRecord,
)


@pytest.mark.parametrize(
    ("error", "vietnamese"),
    [
        (
            LotError("reserved", "must be 0 to the capacity (10)"),
            "Lỗi: Cấu hình bãi xe không dùng được (reserved: must be 0 to the capacity (10))",
        ),
        (
            TripCaseClosed("trip case tc-1 was refunded already"),
            "Lỗi: Trường hợp này đã được giải quyết (trip case tc-1 was refunded already)",
        ),
        (
            RefundAboveFare("a refund of this case is 1 to 7000 VND (the trip's fare), not 9000"),
            "Lỗi: Số tiền hoàn lớn hơn giá vé của chuyến đi "
            "(a refund of this case is 1 to 7000 VND (the trip's fare), not 9000)",
        ),
        (
            SettlementRefused("2026-11-28 is not a closed day"),
            "Lỗi: Chưa thể quyết toán ngày này như vậy (2026-11-28 is not a closed day)",
        ),
        # A kind without its own sentence takes its nearest base's.
        (
            CaseError("case s-1 is written off already"),
            "Lỗi: Không thể thay đổi trường hợp này như vậy (case s-1 is written off already)",
        ),
        (UnknownRecord("no trip case 'x'"), "Lỗi: Không tìm thấy (no trip case 'x')"),
        # A reason the catalogue has word for word is translated whole.
        (FormRefused("say why the barrier opens"), "Lỗi: nêu lý do mở barie"),
        (
            InvalidPlate("'?' is not a plate"),
            "Lỗi: Đây không phải là biển số xe ('?' is not a plate)",
        ),
        (
            InvalidAuditQuery("since must be before until"),
            "Lỗi: Không dùng được bộ lọc này (since must be before until)",
        ),
    ],
)
def test_an_error_line_is_vietnamese_first_and_english_by_the_switch(
    error: Exception, vietnamese: str
) -> None:
    assert error_line(make_mocked_request("POST", "/finance"), error) == vietnamese
    english = error_line(make_mocked_request("POST", "/finance?lang=en"), error)
    assert english == f"Error: {error}"
