"""Signed, expiring tokens for confirmation, unsubscribe and download links (HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

MAC_BYTES = 16  # 128-bit tag: unforgeable, and keeps links short
SEPARATOR = "|"

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
DOWNLOAD = "download"


class TokenError(Exception):
    """The token is malformed, altered, signed for another purpose, or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: bytes) -> bytes:
    # The purpose is inside the MAC so an unsubscribe token can never be replayed as a confirmation.
    return hmac.new(key, purpose.encode() + b"\0" + body, hashlib.sha256).digest()[:MAC_BYTES]


def make_token(
    key: bytes,
    purpose: str,
    fields: Sequence[str | int],
    lifetime: float | None,
    now: float | None = None,
) -> str:
    """Sign `fields` for `purpose`, valid for `lifetime` seconds (None or 0: no expiry)."""
    now = time.time() if now is None else now
    expires = int(now + lifetime) if lifetime else 0
    parts = [str(f) for f in fields]
    if any(SEPARATOR in p for p in parts):
        raise ValueError(f"token fields may not contain {SEPARATOR!r}: {parts!r}")
    body = SEPARATOR.join([*parts, str(expires)]).encode()
    return f"{_b64(body)}.{_b64(_mac(key, purpose, body))}"


def read_token(key: bytes, purpose: str, token: str, now: float | None = None) -> list[str]:
    """Return the fields of a valid token, or raise TokenError."""
    now = time.time() if now is None else now
    try:
        body_text, mac_text = token.split(".")
        body = _unb64(body_text)
        mac = _unb64(mac_text)
    except (ValueError, TypeError):
        raise TokenError("malformed token") from None
    if not hmac.compare_digest(mac, _mac(key, purpose, body)):
        raise TokenError("bad signature")
    *fields, expires = body.decode().split(SEPARATOR)
    if int(expires) and int(expires) < now:
        raise TokenError("expired")
    return fields


def email_tag(email: str) -> str:
    """Short digest binding a token to one address, so a reused id never matches an old link."""
    return hashlib.sha256(email.encode()).hexdigest()[:12]
