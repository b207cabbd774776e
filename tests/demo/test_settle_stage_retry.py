"""The demo's finance user asks again for a day whose run failed (a gateway that timed out on a
loaded machine), as finance would: the run resumes; one that keeps failing is an error."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import httpx
import pytest
from rich.console import Console

from faregate.demo.settle_stage import SETTLE_ATTEMPTS, FinanceUser
from faregate.errors import SettleError

DAY = date(2026, 11, 24)
APPROVE = ("POST", f"/api/v1/finance/settlements/{DAY}/approve", None)


def finance(failures: int) -> tuple[FinanceUser, list[str]]:
    """A finance API whose run of DAY fails `failures` times before it settles."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            asked.append(request.url.path)
            return httpx.Response(202, json={"state": "settling"})
        run: dict[str, Any] = {"day": str(DAY), "state": "settled", "approved_by": "minh"}
        if len(asked) <= failures:
            run = {**run, "state": "failed", "error": "charged stage failed: gateway timed out"}
        return httpx.Response(200, content=json.dumps(run))

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://finance")
    return FinanceUser(http, "token"), asked


async def test_a_failed_run_is_asked_for_again_and_settles() -> None:
    user, asked = finance(failures=1)
    out = io.StringIO()
    run = await user.ask(Console(file=out, width=200), DAY, APPROVE, ("settled",))
    assert run["state"] == "settled"
    assert len(asked) == 2
    assert "gateway timed out; asked again" in out.getvalue()


async def test_a_run_that_keeps_failing_is_an_error() -> None:
    user, asked = finance(failures=SETTLE_ATTEMPTS)
    with pytest.raises(SettleError, match="gateway timed out"):
        await user.ask(Console(file=io.StringIO()), DAY, APPROVE, ("settled",))
    assert len(asked) == SETTLE_ATTEMPTS
