"""The web pages (passenger; operator and finance to come), mounted on the API's aiohttp app.

`add_web_routes(app, credential_source)` adds the pages and `/static/`; the app factory calls it.
"""

from faregate.web.pages import CREDENTIAL_SOURCE, CredentialSource, add_web_routes

__all__ = ["CREDENTIAL_SOURCE", "CredentialSource", "add_web_routes"]
