"""TOTP helpers: secrets, provisioning QR codes (inline SVG, no network) and code checks."""

from __future__ import annotations

import pyotp
import qrcode
import qrcode.image.svg
from django.core.cache import cache

ISSUER = "Patron"
# One 30-second step either side absorbs clock drift between server and phone.
VALID_WINDOW = 1


def secret_new() -> str:
    return pyotp.random_base32()


def provisioning_uri(*, secret: str, email: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline <svg> element."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg: str = image.to_string(encoding="unicode")
    return svg


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code if ch.isdigit())


def code_matches(*, secret: str, code: str, replay_scope: str) -> bool:
    """Whether ``code`` is valid now and was not used before in its time window.

    A used code is remembered in the shared cache for the span it could still be accepted,
    so a code seen over someone's shoulder cannot be replayed.
    """
    code = normalise_code(code)
    if not secret or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    if not totp.verify(code, valid_window=VALID_WINDOW):
        return False
    lifetime = totp.interval * (2 * VALID_WINDOW + 1)
    return bool(cache.add(f"totp-used:{replay_scope}:{code}", 1, lifetime))
