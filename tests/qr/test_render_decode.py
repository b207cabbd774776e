"""Rendering with `qrcode` and reading back with `zxing-cpp`: round trips and garbled images."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from qr.decision import Reason
from qr.decode import decode_image, verify_image
from qr.errors import ImageDecodeError
from qr.issue import PhoneCredential
from qr.memory import GateMemory
from qr.render import png_bytes, qr_code, svg_text, terminal_text
from qr.verifier import Verifier
from tests.helpers.qr import GATE, NOW


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


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=2000))
def test_any_bytes_are_refused_as_malformed(verifier: Verifier, data: bytes) -> None:
    decision = verify_image(verifier, data, at=NOW, gate=GATE, memory=GateMemory())
    assert not decision.accepted
    assert decision.reason is Reason.MALFORMED


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_corrupted_png_bytes_are_never_wrongly_accepted(
    verifier: Verifier, token: str, data: st.DataObject
) -> None:
    png = bytearray(png_bytes(token))
    for at in data.draw(st.lists(st.integers(0, len(png) - 1), min_size=1, max_size=20)):
        png[at] ^= data.draw(st.integers(1, 255))
    try:
        text = decode_image(bytes(png))
    except ImageDecodeError:
        text = None
    decision = verify_image(verifier, bytes(png), at=NOW, gate=GATE, memory=GateMemory())
    assert decision.accepted == (text == token)
    if text is None:
        assert decision.reason is Reason.MALFORMED


def _png_header(width: int, height: int) -> bytes:
    """Only a PNG's header, claiming width x height pixels: how a decompression bomb starts."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [5_000, 20_000, 100_000])
def test_a_decompression_bomb_is_malformed_not_a_crash(verifier: Verifier, side: int) -> None:
    bomb = _png_header(side, side)
    with pytest.raises(ImageDecodeError, match=r"camera frame|decompression bomb"):
        decode_image(bomb)
    decision = verify_image(verifier, bomb, at=NOW, gate=GATE)
    assert decision.reason is Reason.MALFORMED


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
