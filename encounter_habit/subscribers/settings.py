"""The SUBSCRIBERS settings block: DEFAULTS merged with pelicanconf.py, validated once."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import SubscribersError

SECRET_KEY_ENV = "ENCOUNTER_SECRET_KEY"
SMTP_PASSWORD_ENV = "ENCOUNTER_SMTP_PASSWORD"
MIN_SECRET_KEY_LENGTH = 32
MAX_RATE_WINDOW = 86400  # the store forgets rate-limit hits older than a day

DEFAULTS: dict[str, Any] = {
    "db_path": "var/subscribers.sqlite3",
    "service_url": "http://127.0.0.1:5000",
    "listen_host": "127.0.0.1",
    "listen_port": 5000,
    "site_url": "",  # empty: SITEURL from pelicanconf.py
    "site_name": "",  # empty: SITENAME from pelicanconf.py
    "from_address": "newsletter@encounterhabit.example",
    "from_name": "",  # empty: the site name
    "reply_to": "",
    "unsubscribe_mailto": "",  # empty: from_address
    "transport": "outbox",
    "outbox_dir": "var/outbox",
    "smtp_host": "localhost",
    "smtp_port": 587,
    "smtp_security": "starttls",
    "smtp_user": "",
    "smtp_timeout": 30.0,
    "rate_limit": 0.0,  # messages per second while sending an issue; 0 means as fast as possible
    "retry_delays": [
        2.0,
        10.0,
        60.0,
    ],  # seconds to wait before each retry of a 4xx or dropped connection
    "email_path": "output/email/{slug}/message.eml",
    "ebook_path": "output/ebook/encounters.epub",
    "confirm_token_hours": 48.0,
    "download_token_days": 30.0,
    "unsubscribe_token_days": 0.0,  # 0: unsubscribe links in old issues keep working
    "honeypot_field": "website",
    "address_rate_limit": [3, 3600],  # confirmation emails per address per window of seconds
    "client_rate_limit": [10, 600],  # subscribe requests per client address per window of seconds
}

TRANSPORTS = ("outbox", "smtp")
SMTP_SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class Settings:
    """Validated subscriber settings with paths resolved against the project root."""

    root: Path
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def path(self, key: str, **fmt: str) -> Path:
        """Return the setting `key` as a path, formatted with `fmt` and resolved against the root."""
        path = Path(str(self.values[key]).format(**fmt)).expanduser()
        return path if path.is_absolute() else self.root / path

    @property
    def message_id_domain(self) -> str:
        """Domain used on the right of every Message-ID: the site's host, else the sender's."""
        host = urlsplit(self.values["site_url"]).hostname
        return host or self.values["from_address"].rpartition("@")[2]


def _load_pelicanconf(path: Path) -> dict[str, Any]:
    """Execute pelicanconf.py by path and return its upper-case names; {} when it is absent."""
    if not path.is_file():
        return {}
    spec = importlib.util.spec_from_file_location("_subscribers_pelicanconf", path)
    if spec is None or spec.loader is None:
        return {}
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # any error in someone else's settings file becomes one line
        raise SubscribersError(f"subscribers: cannot load {path}: {exc}; fix that file") from None
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


def _check_number(values: dict[str, Any], key: str, minimum: float) -> None:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise SubscribersError(
            f"subscribers: SUBSCRIBERS[{key!r}] is {value!r}; use a number >= {minimum!r}"
        )


def _check_pair(values: dict[str, Any], key: str) -> None:
    value = values[key]
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        and value[1] <= MAX_RATE_WINDOW
    )
    if not ok:
        raise SubscribersError(
            f"subscribers: SUBSCRIBERS[{key!r}] is {value!r}; use [count, seconds], positive integers, "
            f"seconds at most {MAX_RATE_WINDOW}"
        )


def validate(values: dict[str, Any]) -> None:
    """Raise SubscribersError with one line for the first invalid setting."""
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise SubscribersError(
            f"subscribers: unknown setting SUBSCRIBERS[{unknown[0]!r}]; known: {', '.join(DEFAULTS)}"
        )
    for key, default in DEFAULTS.items():
        if isinstance(default, str) and not isinstance(values[key], str):
            raise SubscribersError(
                f"subscribers: SUBSCRIBERS[{key!r}] is {values[key]!r}; use a string"
            )
    if values["transport"] not in TRANSPORTS:
        raise SubscribersError(
            f"subscribers: SUBSCRIBERS['transport'] is {values['transport']!r}; use one of {TRANSPORTS!r}"
        )
    if values["smtp_security"] not in SMTP_SECURITY:
        raise SubscribersError(
            f"subscribers: SUBSCRIBERS['smtp_security'] is {values['smtp_security']!r}; "
            f"use one of {SMTP_SECURITY!r}"
        )
    for key in ("rate_limit", "smtp_timeout", "confirm_token_hours", "download_token_days"):
        _check_number(values, key, 0)
    _check_number(values, "unsubscribe_token_days", 0)
    for key in ("smtp_port", "listen_port"):
        _check_number(values, key, 1)
    delays = values["retry_delays"]
    if not isinstance(delays, list | tuple) or not all(
        isinstance(d, int | float) and not isinstance(d, bool) and d >= 0 for d in delays
    ):
        raise SubscribersError(
            f"subscribers: SUBSCRIBERS['retry_delays'] is {delays!r}; use a list of seconds, e.g. [2, 10, 60]"
        )
    for key in ("address_rate_limit", "client_rate_limit"):
        _check_pair(values, key)
    if "@" not in values["from_address"]:
        raise SubscribersError(
            f"subscribers: SUBSCRIBERS['from_address'] is {values['from_address']!r}; use an email address"
        )
    if urlsplit(values["service_url"]).scheme not in ("http", "https"):
        raise SubscribersError(
            f"subscribers: SUBSCRIBERS['service_url'] is {values['service_url']!r}; "
            "use an http(s) URL such as 'https://subscribe.example.com'"
        )
    if "{slug}" not in values["email_path"]:
        raise SubscribersError(
            f"subscribers: SUBSCRIBERS['email_path'] is {values['email_path']!r}; it must contain '{{slug}}'"
        )


def load_settings(
    pelicanconf: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Merge DEFAULTS, SUBSCRIBERS from pelicanconf.py (if present) and `overrides`, then validate."""
    conf_path = Path(pelicanconf) if pelicanconf is not None else Path.cwd() / "pelicanconf.py"
    conf = _load_pelicanconf(conf_path)
    block = conf.get("SUBSCRIBERS", {})
    if not isinstance(block, dict):
        raise SubscribersError(
            f"subscribers: SUBSCRIBERS in {conf_path} is not a dict; make it one"
        )
    values = {**DEFAULTS, **block, **(overrides or {})}
    validate(values)
    values["site_url"] = (values["site_url"] or str(conf.get("SITEURL", ""))).rstrip("/")
    values["site_name"] = values["site_name"] or str(conf.get("SITENAME", "The Encounter Habit"))
    values["from_name"] = values["from_name"] or values["site_name"]
    values["unsubscribe_mailto"] = values["unsubscribe_mailto"] or values["from_address"]
    values["service_url"] = values["service_url"].rstrip("/")
    return Settings(root=conf_path.resolve().parent, values=values)


def secret_key() -> bytes:
    """Return the HMAC key from the environment, or raise one line saying how to set it."""
    key = os.environ.get(SECRET_KEY_ENV, "")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise SubscribersError(
            f"subscribers: set {SECRET_KEY_ENV} to a random secret of at least "
            f"{MIN_SECRET_KEY_LENGTH} characters, e.g. "
            "`export ENCOUNTER_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`"
        )
    return key.encode()


def smtp_password() -> str:
    """Return the SMTP password from the environment ('' when unset)."""
    return os.environ.get(SMTP_PASSWORD_ENV, "")
