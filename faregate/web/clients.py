"""Who is on the other end of a request, behind a configured reverse proxy.

`X-Forwarded-For` and `X-Forwarded-Proto` are believed only when the connection comes from a
proxy the operator configured (`TrustedProxies`, from `faregate serve --trusted-proxy` or
FAREGATE_TRUSTED_PROXIES): anyone else could send them to pose as another client (and so
escape a per-client limit) or to make the server think a plain-HTTP request was HTTPS.

- `client_address(request, proxies)`: the connection's address; behind a trusted proxy, the
  rightmost address in X-Forwarded-For that is not itself a trusted proxy.
- `is_https(request, proxies)`: TLS here, or X-Forwarded-Proto `https` from a trusted proxy
  (the staff cookie's `Secure` flag follows it: a TLS-terminating proxy forwards plain HTTP).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(text: str) -> Network:
    return ipaddress.ip_network(text.strip(), strict=False)


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """Addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `::1`) of the reverse proxies."""

    networks: tuple[Network, ...] = field(default=())

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        """From addresses or CIDR networks; ValueError names one that is neither."""
        found = []
        for entry in entries:
            if not entry.strip():
                continue
            try:
                found.append(_network(entry))
            except ValueError:
                raise ValueError(f"{entry[:60]!r} is not an IP address or network") from None
        return cls(tuple(found))

    def trusts(self, address: str | None) -> bool:
        if address is None or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


NO_PROXIES = TrustedProxies()


def client_address(request: web.Request, proxies: TrustedProxies = NO_PROXIES) -> str:
    """The client's address (see the module docstring); "unknown" when the socket has none."""
    remote = request.remote or "unknown"
    if not proxies.trusts(remote):
        return remote
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not proxies.trusts(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # a malformed hop: the proxy's own address, not a made-up one
    return remote


def is_https(request: web.Request, proxies: TrustedProxies = NO_PROXIES) -> bool:
    """Whether the client's connection is HTTPS (see the module docstring)."""
    if request.secure:
        return True
    if not proxies.trusts(request.remote):
        return False
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0]
    return forwarded.strip().lower() == "https"
