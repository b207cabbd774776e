"""The passenger page as an installable web app: its web manifest and its service worker.

- `GET /manifest.webmanifest` (`application/manifest+json`): name, icons, start URL `/`,
  standalone display: what a phone needs to install the page as an app.
- `GET /sw.js` (`text/javascript`): `static/js/sw.js`, prefixed with the app shell's paths and
  a version hashed from their files, so a changed file installs a new worker (and drops the
  old cache). It is served at the root so that its scope is `/`, the passenger page; the
  browser asks for it again at every navigation (`Cache-Control: no-cache`).

The worker keeps only the shell: the page in its signed-in form (no credential in it) and the
files it loads. The credential stays in the page's IndexedDB.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from faregate.web.pages import STATIC_DIR

TEMPLATES_DIR = Path(__file__).parent / "templates"
# The files the passenger page loads, under /static/ (what works offline).
SHELL_STATIC = (
    "css/faregate.css",
    "img/icon.svg",
    "img/icon-192.png",
    "img/icon-512.png",
    "js/account-page.js",
    "js/account.js",
    "js/cases.js",
    "js/i18n.js",
    "js/passenger.js",
    "js/passes.js",
    "js/signup.js",
    "js/store.js",
    "js/token.js",
    "js/trips.js",
    "js/vnpay.js",
    "vendor/qrcode-generator/qrcode.mjs",
)
# The templates the page is made of: a change to them is a new page, so a new version.
SHELL_TEMPLATES = (
    "base.html",
    "passenger.html",
    "_live_pass.html",
    "_passes.html",
    "_language_switch.html",
)
MANIFEST_PATH = "/manifest.webmanifest"
THEME_COLOR = "#0b3d91"


def _static_url(request: web.Request, path: str) -> str:
    return str(request.app.router["static"].url_for(filename=path))


def shell_paths(request: web.Request) -> list[str]:
    return ["/", MANIFEST_PATH, *(_static_url(request, path) for path in SHELL_STATIC)]


@functools.cache
def shell_version() -> str:
    """A digest of every file of the shell (and of the worker itself); read once: the files
    change only with a new deployment, which starts a new process."""
    digest = hashlib.sha256()
    files = [STATIC_DIR / path for path in (*SHELL_STATIC, "js/sw.js")]
    files += [TEMPLATES_DIR / name for name in SHELL_TEMPLATES]
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def _worker_script() -> str:
    return (STATIC_DIR / "js" / "sw.js").read_text(encoding="utf-8")


def manifest(request: web.Request) -> dict[str, Any]:
    def icon(path: str, size: str, kind: str) -> dict[str, str]:
        return {"src": _static_url(request, path), "sizes": size, "type": kind, "purpose": "any"}

    return {
        "id": "/",
        "name": "Faregate: your transit pass",
        "short_name": "Faregate",
        "description": "Your Hanoi metro and bus pass: a live QR code that works offline.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOR,
        "icons": [
            icon("img/icon-192.png", "192x192", "image/png"),
            icon("img/icon-512.png", "512x512", "image/png"),
            icon("img/icon.svg", "any", "image/svg+xml"),
        ],
    }


async def manifest_file(request: web.Request) -> web.Response:
    return web.Response(
        text=json.dumps(manifest(request), ensure_ascii=False),
        content_type="application/manifest+json",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


async def service_worker(request: web.Request) -> web.Response:
    shell = {"version": shell_version(), "shell": shell_paths(request)}
    return web.Response(
        text=f"self.FAREGATE_SHELL = {json.dumps(shell)};\n{_worker_script()}",
        content_type="text/javascript",
        charset="utf-8",
        headers={
            "Cache-Control": "no-cache",
            "Service-Worker-Allowed": "/",
            "X-Content-Type-Options": "nosniff",
        },
    )


def add_app_shell_routes(app: web.Application) -> None:
    app.router.add_get(MANIFEST_PATH, manifest_file, name="manifest")
    app.router.add_get("/sw.js", service_worker, name="service_worker")
