"""The web pages, mounted on the API's aiohttp app by `add_web_routes` (see docs/WEB.md).

The passenger page is complete; the operator and finance pages are built against placeholder
data contracts (`faregate.web.operator`, `faregate.web.finance`) that the API round fills.
"""

from faregate.web.occupancy import OCCUPANCY, LotOccupancy, OccupancyBroadcaster
from faregate.web.pages import CREDENTIAL_SOURCE, CredentialSource
from faregate.web.routes import add_web_routes

__all__ = [
    "CREDENTIAL_SOURCE",
    "OCCUPANCY",
    "CredentialSource",
    "LotOccupancy",
    "OccupancyBroadcaster",
    "add_web_routes",
]
