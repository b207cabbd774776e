"""Rendering with `qrcode` and reading back with `zxing-cpp`: round trips and garbled images."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from qr.decode import decode_image
from qr.errors import ImageDecodeError
from qr.issue import PhoneCredential
from qr.memory import GateMemory
from qr.render import png_bytes, qr_code, svg_text, terminal_text
from qr.verifier import Verifier

from .conftest import GATE, NOW


def test_png_to_zxing_to_verifier_accepts(verifier: Verifier, phone: PhoneCredential) -> None:
    token = phone.token_at(NOW)
    image = png_bytes(token)
    assert Image.open(io.BytesIO(image)).size == (490, 490)  # phone-sized
    scanned = decode_image(image)
    assert scanned == token
    assert verifier.verify(scanned, at=NOW, gate=GATE, memory=GateMemory()).accepted


def test_svg_and_terminal_views(token: str) -> None:
    assert qr_code(token).version == 6
    assert svg_text(token).startswith("<svg")
    lines = terminal_text(token).splitlines()
    assert len(lines) >= 41 // 2
    assert {"▀", "▄", "█"} & set("".join(lines))


def test_a_thumb_over_the_code_is_a_clear_error(token: str) -> None:
    image = Image.open(io.BytesIO(png_bytes(token))).convert("L")
    ImageDraw.Draw(image).rectangle((150, 150, 340, 340), fill=0)  # a thumb over the code
    with pytest.raises(ImageDecodeError, match="no readable QR code"):
        decode_image(image)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_text_or_a_clear_error(data: bytes) -> None:
    with contextlib.suppress(ImageDecodeError):
        decode_image(data)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, 489), st.integers(0, 489)), min_size=1, max_size=400))
def test_damaged_code_never_raises_and_is_never_wrongly_accepted(
    verifier: Verifier, token: str, points: list[tuple[int, int]]
) -> None:
    image = Image.open(io.BytesIO(png_bytes(token))).convert("L")
    draw = ImageDraw.Draw(image)
    for x, y in points:
        draw.rectangle((x, y, x + 9, y + 9), fill=255 - image.getpixel((x, y)))  # type: ignore[operator]
    try:
        text = decode_image(image)
    except ImageDecodeError:
        return
    d = verifier.verify(text, at=NOW, gate=GATE, memory=GateMemory())
    assert d.accepted == (text == token)  # error correction may restore it; nothing else passes
