"""Reading a QR code from an image with `zxing-cpp`, as a gate's camera would."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import zxingcpp
from PIL import Image, UnidentifiedImageError

from qr.decision import Decision, Reason
from qr.errors import ImageDecodeError
from qr.memory import GateMemory
from qr.verifier import GateContext, Verifier

QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
# A gate camera's frame, generously: 4096 x 4096. Pillow's own bomb limit is ten times that.
MAX_PIXELS = 4096 * 4096


def decode_image(source: Path | bytes | Image.Image) -> str:
    """The text of the QR code in the image; ImageDecodeError when there is none to read."""
    if isinstance(source, Image.Image):
        image = source
    else:
        try:
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
            # The header gives the size: a decompression bomb is refused before it unpacks.
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageDecodeError(
                    f"image of {width}x{height} pixels is larger than a camera frame "
                    f"({MAX_PIXELS} pixels at most)"
                )
            image.load()
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise ImageDecodeError(f"cannot read the image: {exc}") from exc
    if image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("L")
    try:
        found = zxingcpp.read_barcodes(image, formats=QR_ONLY, text_mode=zxingcpp.TextMode.Plain)
    except (ValueError, RuntimeError) as exc:
        raise ImageDecodeError(f"cannot scan the image: {exc}") from exc
    texts = [b.text for b in found if b.valid]
    if not texts:
        raise ImageDecodeError("no readable QR code in the image")
    return str(texts[0])


def verify_image(
    verifier: Verifier,
    image: Path | bytes,
    *,
    at: datetime,
    gate: GateContext,
    memory: GateMemory | None = None,
) -> Decision:
    """Scan the image and decide on its token; an image with no readable code is MALFORMED."""
    try:
        text = decode_image(image)
    except ImageDecodeError as exc:
        return Decision(False, Reason.MALFORMED, str(exc), gate_id=gate.gate_id)
    return verifier.verify(text, at=at, gate=gate, memory=memory)
