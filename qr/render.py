"""Drawing a token as a QR code: PNG and SVG files with `qrcode`, and a terminal view.

Always error correction M and the smallest version that fits (6 for every Faregate token).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TypeVar

import qrcode
import qrcode.constants
from qrcode.image.base import BaseImage
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

from qr.errors import OutputError

# 10-pixel modules make a v6 code (41 modules + 4-module quiet zone each side) 490 px wide:
# about what a phone screen shows.
PHONE_BOX_SIZE = 10
QUIET_ZONE = 4

_Image = TypeVar("_Image", bound=BaseImage)


def _code(text: str, image_factory: type[_Image], box_size: int) -> qrcode.QRCode[_Image]:
    code = qrcode.QRCode(
        version=None,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=QUIET_ZONE,
        image_factory=image_factory,
    )
    code.add_data(text)
    code.make(fit=True)
    return code


def qr_code(text: str, box_size: int = PHONE_BOX_SIZE) -> qrcode.QRCode[PilImage]:
    return _code(text, PilImage, box_size)


def png_bytes(text: str, box_size: int = PHONE_BOX_SIZE) -> bytes:
    out = io.BytesIO()
    qr_code(text, box_size).make_image().save(out)
    return out.getvalue()


def write_png(text: str, path: Path, box_size: int = PHONE_BOX_SIZE) -> None:
    _write(path, png_bytes(text, box_size))


def svg_text(text: str) -> str:
    return _code(text, SvgPathImage, PHONE_BOX_SIZE).make_image().to_string(encoding="unicode")


def write_svg(text: str, path: Path) -> None:
    _write(path, svg_text(text).encode("utf-8"))


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def terminal_text(text: str) -> str:
    """The code drawn with half-block characters, two modules per character row."""
    out = io.StringIO()
    qr_code(text).print_ascii(out=out, invert=True)
    return out.getvalue()
