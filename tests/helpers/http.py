"""httpx clients for the servers the tests start on loopback (the app, `faregate serve`,
localstripe, the fault proxy).

They share one TLS context: httpx builds a new one per client otherwise, loading the CA bundle
each time (about 55 ms of CPU), which the API tests' hundreds of clients paid for plain HTTP.
"""

from __future__ import annotations

from typing import Any

import httpx

_TLS = httpx.create_ssl_context()


def loopback(base_url: str = "", **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, verify=_TLS, **options)


def loopback_sync(base_url: str = "", **options: Any) -> httpx.Client:
    return httpx.Client(base_url=base_url, verify=_TLS, **options)
