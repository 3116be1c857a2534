"""QR codes drawn here, with segno, for a template to render as inline SVG: no network, no image
from elsewhere: the operator MFA enrolment's (users/operator_auth/mfa.py) and a user's virtual MFA device's."""

from __future__ import annotations

from dataclasses import dataclass

import segno


@dataclass(frozen=True)
class QrCode:
    """`size` modules a side (quiet zone included) and one path of unit squares, the dark modules.
    Digits and path letters only, so the template autoescapes it like any other value; no style
    attribute (the CSP allows none)."""

    size: int
    path: str


def draw(text: str) -> QrCode:
    """`text` (an otpauth:// URI) as a QR code, error correction level M."""
    qr = segno.make(text, error="m")
    rows = list(qr.matrix_iter(border=4))
    path = "".join(f"M{x} {y}h1v1h-1z" for y, row in enumerate(rows) for x, dark in enumerate(row) if dark)
    return QrCode(size=len(rows), path=path)
