"""`faregate fares quote`: the Caltrain acceptance example, human and JSON output, bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from faregate.cli import cli, main

MINICITY = Path(__file__).resolve().parents[1] / "fixtures" / "minicity"
CALTRAIN_LEG = {
    "route_id": "ct_local",
    "from_stop_id": "Millbrae Caltrain",
    "to_stop_id": "Mountain View Caltrain",
    "departure": "2009-08-07T12:00:00-07:00",
}


def write_legs(tmp_path: Path, legs: object) -> Path:
    path = tmp_path / "legs.json"
    path.write_text(json.dumps(legs), encoding="utf-8")
    return path


def test_caltrain_quote_json(tmp_path: Path, caltrain: Path) -> None:
    legs = write_legs(tmp_path, [CALTRAIN_LEG])
    result = CliRunner().invoke(
        cli, ["fares", "quote", "--feed", str(caltrain), "--legs", str(legs), "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["total"] == {"amount": 425, "currency": "USD"}
    assert body["legs"][0]["fare_product_id"] == "OW_2"
    assert body["legs"][0]["amount"] == 425
    assert body["caps_applied"] == []


def test_caltrain_quote_table(tmp_path: Path, caltrain: Path) -> None:
    legs = write_legs(tmp_path, [CALTRAIN_LEG])
    result = CliRunner().invoke(
        cli, ["fares", "quote", "--feed", str(caltrain), "--legs", str(legs)]
    )
    assert result.exit_code == 0, result.output
    assert "OW_2" in result.output
    assert "Total: 4.25 USD (425 minor units)" in result.output


def test_category_and_caps_in_json(tmp_path: Path) -> None:
    ride = {"route_id": "M1", "from_stop_id": "M_A", "to_stop_id": "M_C"}
    legs = write_legs(
        tmp_path,
        [{**ride, "departure": f"2025-09-01T{hour:02d}:00:00+07:00"} for hour in (7, 8, 9, 17)],
    )
    args = ["fares", "quote", "--feed", str(MINICITY), "--legs", str(legs), "--json"]
    adult = json.loads(CliRunner().invoke(cli, args).output)
    assert adult["total"] == {"amount": 30000, "currency": "VND"}
    assert [cap["cap_id"] for cap in adult["caps_applied"]] == ["metro_day"]
    student = json.loads(CliRunner().invoke(cli, [*args, "--category", "student"]).output)
    assert student["total"]["amount"] == 4 * 6000


@pytest.mark.parametrize(
    ("legs", "category", "message"),
    [
        ("not json", None, "Error: legs.json: not JSON"),
        ([], None, "Error: legs.json: expected a non-empty JSON list of legs"),
        ([{"route_id": "M1"}], None, "Error: legs.json leg 1: from_stop_id is required"),
        (
            [{"route_id": "M1", "from_stop_id": "M_A", "to_stop_id": "M_B", "departure": "noon"}],
            None,
            'Error: legs.json leg 1: departure "noon" is not an ISO 8601 time',
        ),
        (
            [
                {
                    "route_id": "M1",
                    "from_stop_id": "M_A",
                    "to_stop_id": "M_B",
                    "departure": "2025-09-01T08:00:00",
                }
            ],
            None,
            "needs a UTC offset",
        ),
        (
            [
                {
                    "route_id": "M1",
                    "from_stop_id": "M_A",
                    "to_stop_id": "M_Z",
                    "departure": "2025-09-01T08:00:00+07:00",
                }
            ],
            None,
            'Error: no leg could be priced (leg 1: stop "M_Z" is not in the feed)',
        ),
        (
            [
                {
                    "route_id": "M1",
                    "from_stop_id": "M_A",
                    "to_stop_id": "M_B",
                    "departure": "2025-09-01T08:00:00+07:00",
                }
            ],
            "pensioner",
            'Error: unknown rider category "pensioner"',
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    legs: object,
    category: str | None,
    message: str,
) -> None:
    path = tmp_path / "legs.json"
    path.write_text(legs if isinstance(legs, str) else json.dumps(legs), encoding="utf-8")
    argv = ["faregate", "fares", "quote", "--feed", str(MINICITY), "--legs", str(path)]
    if category:
        argv += ["--category", category]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_malformed_feed_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "feed"
    feed.mkdir()
    for file in MINICITY.iterdir():
        (feed / file.name).write_bytes(file.read_bytes())
    (feed / "faregate_caps.txt").write_text("cap_id,period,amount,currency\nc,day,x,VND\n")
    legs = write_legs(tmp_path, [CALTRAIN_LEG])
    monkeypatch.setattr(
        sys, "argv", ["faregate", "fares", "quote", "--feed", str(feed), "--legs", str(legs)]
    )
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        'Error: faregate_caps.txt line 2: amount "x" is not an integer amount of minor units\n'
    )


def test_help() -> None:
    result = CliRunner().invoke(cli, ["fares", "quote", "--help"])
    assert result.exit_code == 0
    assert "--legs" in result.output


def metro_leg(to_stop: str, hour: int, route: str = "M1") -> dict[str, str]:
    return {
        "route_id": route,
        "from_stop_id": "M_A",
        "to_stop_id": to_stop,
        "departure": f"2025-09-01T{hour:02d}:00:00+07:00",
    }


def test_media_chooses_the_payment_medium(tmp_path: Path) -> None:
    legs = write_legs(tmp_path, [metro_leg("M_B", 8)])
    args = ["fares", "quote", "--feed", str(MINICITY), "--legs", str(legs), "--json"]
    assert json.loads(CliRunner().invoke(cli, args).output)["total"]["amount"] == 8000
    cash = CliRunner().invoke(cli, [*args, "--media", "cash"])
    assert cash.exit_code == 0, cash.output
    assert json.loads(cash.output)["total"]["amount"] == 9000


def test_unpriced_legs_are_listed_and_the_rest_priced(tmp_path: Path) -> None:
    # Leg 0 is fine, leg 1 names an unknown stop, leg 2 an unknown route: index counts from 0
    # in the legs file, whatever the departure order.
    legs = write_legs(
        tmp_path, [metro_leg("M_B", 8), metro_leg("M_Z", 9), metro_leg("M_B", 7, route="Z9")]
    )
    args = ["fares", "quote", "--feed", str(MINICITY), "--legs", str(legs)]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["total"]["amount"] == 8000
    assert body["unpriced_legs"] == [
        {"index": 1, "reason": 'stop "M_Z" is not in the feed'},
        {"index": 2, "reason": 'route "Z9" is not in the feed'},
    ]
    assert [leg["unpriced_reason"] for leg in body["legs"]] == [
        'route "Z9" is not in the feed',
        None,
        'stop "M_Z" is not in the feed',
    ]
    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0, table.output
    assert 'Not priced: leg 2 (q2): stop "M_Z" is not in the feed' in table.output
    assert 'Not priced: leg 3 (q3): route "Z9" is not in the feed' in table.output
    assert "Total: 8,000 VND (8000 minor units)" in table.output


@pytest.mark.parametrize(
    ("feed", "legs", "extra", "message"),
    [
        (
            MINICITY,
            [metro_leg("M_B", 8, route="Z9"), metro_leg("M_Z", 9)],
            [],
            'Error: no leg could be priced (leg 1: route "Z9" is not in the feed; '
            'leg 2: stop "M_Z" is not in the feed)\n',
        ),
        (
            MINICITY,
            [metro_leg("M_B", 8)],
            ["--media", "token"],
            'Error: unknown fare medium "token" (feed has: app, cash)\n',
        ),
        (
            MINICITY.parent / "v1_routes",
            [
                {
                    "route_id": "TSW",
                    "from_stop_id": "s1",
                    "to_stop_id": "s2",
                    "departure": "2025-09-01T08:00:00-04:00",
                }
            ],
            ["--media", "cash"],
            'Error: unknown fare medium "cash" (feed has: none)\n',
        ),
    ],
)
def test_nothing_priced_or_unknown_medium_is_one_error_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    feed: Path,
    legs: list[dict[str, str]],
    extra: list[str],
    message: str,
) -> None:
    path = write_legs(tmp_path, legs)
    argv = ["faregate", "fares", "quote", "--feed", str(feed), "--legs", str(path), *extra]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == message
