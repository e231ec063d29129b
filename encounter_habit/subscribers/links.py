"""Signed links for one subscriber: confirm, unsubscribe (one-click), manage and ebook download."""

from __future__ import annotations

from urllib.parse import quote

from . import tokens
from .settings import Settings

DAY = 86400.0
HOUR = 3600.0


def confirm_url(settings: Settings, key: bytes, subscriber_id: int, nonce: str) -> str:
    """Expiring link that confirms a pending subscription."""
    token = tokens.make_token(
        key, tokens.CONFIRM, [subscriber_id, nonce], settings["confirm_token_hours"] * HOUR
    )
    return f"{settings['service_url']}/confirm?token={token}"


def unsubscribe_token(settings: Settings, key: bytes, subscriber_id: int, email: str) -> str:
    """Token for the unsubscribe and manage pages, bound to the subscriber's id and address."""
    return tokens.make_token(
        key,
        tokens.UNSUBSCRIBE,
        [subscriber_id, tokens.email_tag(email)],
        settings["unsubscribe_token_days"] * DAY or None,
    )


def download_url(settings: Settings, key: bytes, subscriber_id: int, email: str) -> str:
    """Expiring link that streams the ebook to a confirmed subscriber."""
    token = tokens.make_token(
        key,
        tokens.DOWNLOAD,
        [subscriber_id, tokens.email_tag(email)],
        settings["download_token_days"] * DAY or None,
    )
    return f"{settings['service_url']}/download?token={token}"


def subscriber_links(
    settings: Settings, key: bytes, subscriber_id: int, email: str
) -> dict[str, str]:
    """unsubscribe_url, manage_url and unsubscribe_mailto for one subscriber."""
    token = unsubscribe_token(settings, key, subscriber_id, email)
    return {
        "unsubscribe_url": f"{settings['service_url']}/unsubscribe?token={token}",
        "manage_url": f"{settings['service_url']}/manage?token={token}",
        "unsubscribe_mailto": f"mailto:{settings['unsubscribe_mailto']}?subject={quote('unsubscribe')}",
    }
