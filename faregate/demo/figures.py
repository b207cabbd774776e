"""The demo's closing figures, read from what the backend holds once it has stopped (its
database and its private localstripe's records, through the service layer), and the
conservation checks on them:

- taps: made (accepted at devices) = ingested (stored + quarantined) = priced + quarantined;
- money: charged at the gateway (what it says it collected, net of refunds) = collected in
  the ledger (the gateway clearing account); each settled day's collected = apportioned to
  operators - what they give back for lowered earlier days (late taps) + suspense (its money
  control: the gateway fees are paid out of the operators' shares);
- every refused code has a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.table import Table

from faregate.config import Settings
from faregate.database import open_database
from faregate.demo.city_stage import CityStageResult
from faregate.demo.settle_stage import SettledDay
from faregate.gateway_runtime import PrivateStripeConfig
from ticketing.payment_flows.service import PaymentsService
from ticketing.services.charging import reconcile_with_gateway
from ticketing.services.figures import day_figures
from ticketing.services.journal import quarantined_taps
from ticketing.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoFigures:
    taps_made: int
    taps_stored: int
    taps_priced: int
    taps_quarantined: int
    charged: int
    ledger_collected: int
    settled_collected: int
    apportioned_total: int
    given_back: int
    suspense: int
    controls_ok: bool
    refusals: Mapping[str, int]
    ledger_ok: bool

    @property
    def taps_ingested(self) -> int:
        return self.taps_stored + self.taps_quarantined

    @property
    def taps_conserved(self) -> bool:
        return self.taps_made == self.taps_ingested == self.taps_priced + self.taps_quarantined

    @property
    def settled_balanced(self) -> bool:
        """Each settled day's money control, and the days' sums as printed add up."""
        return self.controls_ok and self.settled_collected == (
            self.apportioned_total - self.given_back + self.suspense
        )

    @property
    def money_conserved(self) -> bool:
        return self.charged == self.ledger_collected and self.settled_balanced

    @property
    def refusals_explained(self) -> bool:
        return all(reason for reason in self.refusals)

    @property
    def conservation_ok(self) -> bool:
        return self.taps_conserved and self.money_conserved and self.refusals_explained

    def checks(self) -> dict[str, bool]:
        return {
            "taps made = ingested = priced + quarantined": self.taps_conserved,
            "charged at the gateway = collected in the ledger": self.charged
            == self.ledger_collected,
            "settled: collected = apportioned - given back + suspense, each day": (
                self.settled_balanced
            ),
            "every refused code has a reason": self.refusals_explained,
            "ledger balanced at the end": self.ledger_ok,
        }

    def as_json(
        self,
        *,
        seed: int,
        day: date,
        data_dir: Path,
        report: str,
        sessions: int,
        refusals: Mapping[str, int],
        faults: Mapping[str, int],
    ) -> dict[str, Any]:
        """The object `faregate demo --json` prints (the issue's names)."""
        return {
            "seed": seed,
            "day": day.isoformat(),
            "data_dir": str(data_dir),
            "taps_made": self.taps_made,
            "taps_ingested": self.taps_ingested,
            "taps_priced": self.taps_priced,
            "taps_quarantined": self.taps_quarantined,
            "sessions": sessions,
            "charged": self.charged,
            "ledger_collected": self.ledger_collected,
            "apportioned_total": self.apportioned_total,
            "suspense": self.suspense,
            "refusals": dict(sorted(refusals.items())),
            "faults": dict(sorted(faults.items())),
            "conservation_ok": self.conservation_ok,
            "report": report,
        }

    def table(self) -> Table:
        table = Table(title="Conservation (from what the backend holds)", show_header=False)
        mark = {True: "[green]✓[/green]", False: "[red]✗[/red]"}
        table.add_row(
            "taps made = ingested = priced + quarantined",
            f"{self.taps_made:,} = {self.taps_ingested:,} = {self.taps_priced:,} + "
            f"{self.taps_quarantined:,} {mark[self.taps_conserved]}",
        )
        table.add_row(
            "charged at the gateway = collected in the ledger",
            f"{self.charged:,} = {self.ledger_collected:,} VND "
            f"{mark[self.charged == self.ledger_collected]}",
        )
        table.add_row(
            "settled: collected = apportioned - given back (late taps) + suspense",
            f"{self.settled_collected:,} = {self.apportioned_total:,} - {self.given_back:,} + "
            f"{self.suspense:,} VND {mark[self.settled_balanced]}",
        )
        refused = ", ".join(f"{n} {reason}" for reason, n in sorted(self.refusals.items()))
        table.add_row(
            "refused codes, each with its reason",
            f"{refused or 'none'} {mark[self.refusals_explained]}",
        )
        return table


async def day_figures_of(
    settings: Settings,
    days: Sequence[date],
    city: CityStageResult,
    summaries: Sequence[SettledDay],
) -> DemoFigures:
    """The figures of the demo's days from its stopped backend's database and gateway."""
    engine = await open_database(settings)
    try:
        uows = UnitOfWorkFactory(engine)
        held = await day_figures(uows)
        quarantined = 0
        for day in days:
            quarantined += len(await quarantined_taps(uows, day))
        async with PrivateStripeConfig().open(settings.data_dir) as runtime:
            payments = PaymentsService(uows, runtime.gateway, gateway_name=runtime.name)
            money = await reconcile_with_gateway(uows, payments, runtime.gateway)
    finally:
        await engine.dispose()
    return DemoFigures(
        taps_made=city.accepted_at_devices,
        taps_stored=held.taps_stored,
        taps_priced=held.taps_priced,
        taps_quarantined=quarantined,
        charged=money.collected_at_gateway,
        ledger_collected=money.clearing_in_ledger,
        settled_collected=sum(s.collected for s in summaries),
        apportioned_total=sum(sum(s.apportioned.values()) for s in summaries),
        given_back=sum(s.refunds for s in summaries),
        suspense=sum(s.suspense for s in summaries),
        controls_ok=bool(summaries) and all(s.control_ok for s in summaries),
        refusals=dict(city.refused_at_devices),
        ledger_ok=held.ledger.ok,
    )
