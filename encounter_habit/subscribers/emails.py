"""The service's own emails (confirmation, welcome, already subscribed), plain text plus HTML."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .settings import Settings
from .transports import Transport

TEMPLATES = Path(__file__).parent / "templates" / "email"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

SUBJECTS = {
    "confirm": "Please confirm your subscription to {site_name}",
    "welcome": "Welcome to {site_name}: your ebook is inside",
    "already": "You are already subscribed to {site_name}",
}


def build_email(settings: Settings, kind: str, to: str, **context: str) -> EmailMessage:
    """Render the `kind` email (confirm, welcome, already) for one address."""
    context = {"site_name": settings["site_name"], "site_url": settings["site_url"], **context}
    message = EmailMessage()
    message["From"] = formataddr((settings["from_name"], settings["from_address"]))
    message["To"] = to
    if settings["reply_to"]:
        message["Reply-To"] = settings["reply_to"]
    message["Subject"] = SUBJECTS[kind].format(site_name=settings["site_name"])
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.message_id_domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to these
    message.set_content(_env.get_template(f"{kind}.txt").render(context))
    message.add_alternative(_env.get_template(f"{kind}.html").render(context), subtype="html")
    return message


def send_email(settings: Settings, transport: Transport, message: EmailMessage) -> None:
    """Hand one service email to the transport (raises a DeliveryError on failure)."""
    data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    try:
        transport.send(
            settings["from_address"], str(message["To"]), data, str(message["Message-ID"])
        )
    finally:
        transport.close()
