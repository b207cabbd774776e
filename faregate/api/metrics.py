"""Prometheus metrics of one app: requests, latencies, taps ingested, pricing lag, devices by
state and their alarms by kind.

Each app has its own registry (tests build many apps in one process). Requests are labelled by
route template (`/device/v1/deny-list/delta`), never by raw path, so the label set stays small;
paths that match no route count under `unmatched`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "faregate_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "faregate_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.taps_ingested = Counter(
            "faregate_taps_ingested",
            "Taps newly stored from device uploads (duplicates not counted).",
            registry=self.registry,
        )
        self.taps_duplicate = Counter(
            "faregate_taps_duplicate",
            "Uploaded taps already stored (re-sent or overlapping batches).",
            registry=self.registry,
        )
        self.taps_quarantined = Counter(
            "faregate_taps_quarantined",
            "Uploaded taps newly quarantined (not attributable or priceable), by reason.",
            ["reason"],
            registry=self.registry,
        )
        # Per device and stop, as operators look for a spike of refusals at one gate; counted
        # by the process that stored them (sum over processes), never twice for a re-upload.
        self.device_refusals = Counter(
            "faregate_device_refusals",
            "Decisions devices refused, newly uploaded, by device, stop and reason.",
            ["device", "stop", "reason"],
            registry=self.registry,
        )
        # Set at each scrape from every registered device (the same judgement the operator
        # API lists), so the values are the registry's, whichever process is scraped.
        self.device_states = Gauge(
            "faregate_devices",
            "Registered devices by state (online, late, offline, revoked, pending).",
            ["state"],
            registry=self.registry,
        )
        self.device_alarms = Gauge(
            "faregate_device_alarms",
            "Device alarms sounding, by kind.",
            ["kind"],
            registry=self.registry,
        )

    def set_device_health(self, states: Mapping[str, int], alarms: Mapping[str, int]) -> None:
        """Export the devices in each state and the alarms of each kind, as judged at this
        scrape (`ticketing.services.device_health.health_counts`)."""
        for state, count in states.items():
            self.device_states.labels(state).set(count)
        for kind, count in alarms.items():
            self.device_alarms.labels(kind).set(count)

    def watch_pricing_lag(self, probe: Callable[[], float]) -> None:
        """Export `faregate_pricing_lag_seconds`, read from `probe` at each scrape.

        The pricing worker provides the probe (age of its oldest dirty account-day); until one
        is attached the metric is absent rather than a made-up 0.
        """
        Gauge(
            "faregate_pricing_lag_seconds",
            "Age of the oldest stored tap not yet priced (0 when everything is priced).",
            registry=self.registry,
        ).set_function(probe)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _route_label(request: web.Request) -> str:
    route = request.match_info.route
    if isinstance(route, web.ResourceRoute):
        return route.resource.canonical if route.resource is not None else "unmatched"
    return "unmatched"


def metrics_middleware(metrics: Metrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            route = _route_label(request)
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)

    return middleware
