"""Where messages go: a local outbox folder of .eml files (default) or an SMTP server."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .settings import Settings, smtp_password

log = logging.getLogger(__name__)

CRLF = b"\r\n"
_LEADING_DOT = re.compile(rb"(?m)^\.")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


class DeliveryError(Exception):
    """A hand-off did not succeed; `detail` is one line suitable for the ledger and the log."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class DeferredError(DeliveryError):
    """The server answered 4xx: try the same message again later."""


class BouncedError(DeliveryError):
    """The server refused the recipient or message with 5xx: the address bounced."""


class SenderRefusedError(DeliveryError):
    """The server refused our sender address or credentials: no recipient can be reached."""


class ConnectionLostError(DeliveryError):
    """The connection failed; `ambiguous` when the whole message had been written before it did."""

    def __init__(self, detail: str, ambiguous: bool = False) -> None:
        super().__init__(detail)
        self.ambiguous = ambiguous


class Transport(Protocol):
    """Anything that can hand a complete message to a mail system."""

    def send(
        self,
        sender: str,
        recipient: str,
        message: bytes,
        message_id: str,
        before_data: Callable[[], None] | None = None,
    ) -> None:
        """Hand off one message or raise a DeliveryError; call `before_data` before it can arrive."""

    def close(self) -> None:
        """Release any connection."""


class OutboxTransport:
    """Writes each message to `<outbox>/<message-id>.eml`, atomically, so nothing needs a server."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def send(
        self,
        sender: str,
        recipient: str,
        message: bytes,
        message_id: str,
        before_data: Callable[[], None] | None = None,
    ) -> None:
        """Write the message; the rename makes a half-written file impossible."""
        if before_data is not None:
            before_data()
        name = _UNSAFE_FILENAME.sub("_", message_id.strip("<>"))
        final = self.directory / f"{name}.eml"
        temporary = self.directory / f".{name}.tmp"
        try:
            temporary.write_bytes(message)
            os.replace(temporary, final)
        except OSError as exc:
            raise SenderRefusedError(
                f"cannot write to the outbox {str(self.directory)!r}: {exc.strerror}"
            ) from None

    def close(self) -> None:
        """Nothing to release."""


class SmtpTransport:
    """One reused SMTP connection; knows whether a failure happened before or after the message left."""

    def __init__(
        self,
        host: str,
        port: int,
        security: str = "starttls",
        user: str = "",
        password: str = "",
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.user, self.password, self.timeout = user, password, timeout
        self.smtp: smtplib.SMTP | None = None
        self.pipelining = False

    @property
    def where(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"

    def connect(self) -> smtplib.SMTP:
        """Open, secure and authenticate the connection, or raise a DeliveryError."""
        context = ssl.create_default_context()
        try:
            if self.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise SenderRefusedError(
                f"SMTP server {self.where} refused the login of {self.user!r} ({exc.smtp_code}); "
                "check SUBSCRIBERS['smtp_user'] and ENCOUNTER_SMTP_PASSWORD"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SenderRefusedError(
                f"SMTP server {self.where} does not support {self.security!r} ({exc}); "
                "check SUBSCRIBERS['smtp_security']"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionLostError(
                f"cannot connect to SMTP server {self.where}: {exc}"
            ) from None
        self.smtp = smtp
        self.pipelining = smtp.has_extn("pipelining")
        return smtp

    def _drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def _reset(self) -> None:
        # A refused transaction leaves state on the server; RSET clears it, or we reconnect next time.
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _refused(self, stage: str, code: int, reply: bytes, recipient: str) -> DeliveryError:
        text = f"{stage} for {recipient} got {code} {reply.decode('utf-8', 'replace').strip()}"
        self._reset()
        if 400 <= code < 500:
            return DeferredError(text)
        if stage == "MAIL FROM":
            return SenderRefusedError(f"SMTP server {self.where} refused the sender: {text}")
        return BouncedError(text)

    def send(
        self,
        sender: str,
        recipient: str,
        message: bytes,
        message_id: str,
        before_data: Callable[[], None] | None = None,
    ) -> None:
        """Hand off one message over the reused connection (MAIL, RCPT, DATA).

        `before_data` runs while the server reads the first command: the caller's bookkeeping
        overlaps the round trip, and it is always done before the message itself is written.
        """
        smtp = self.smtp or self.connect()
        written = False
        try:
            # Addresses are validated and normalised in the store, so they go out without
            # smtplib's re-parsing (quoteaddr), which costs more than the round trip here.
            envelope = f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n"
            commands = [envelope] if self.pipelining else envelope.splitlines(keepends=True)
            replies = []
            for number, command in enumerate(commands):
                smtp.send(command)
                if number == 0 and before_data is not None:
                    try:
                        before_data()
                    except BaseException:
                        self._drop()  # a command is in flight: this connection is unusable
                        raise
                if self.pipelining:
                    # RFC 2920: one write and three replies instead of three round trips.
                    replies = [smtp.getreply() for _ in range(3)]
                    break
                replies.append(smtp.getreply())
                if replies[-1][0] not in (250, 251, 354):
                    break
            for stage, (code, reply), ok in zip(
                ("MAIL FROM", "RCPT TO", "DATA"),
                replies,
                ((250,), (250, 251), (354,)),
                strict=False,
            ):
                if code not in ok:
                    if replies[-1][0] == 354:
                        # A server that took DATA after refusing the envelope gets an empty end.
                        smtp.send(b"." + CRLF)
                        smtp.getreply()
                    raise self._refused(stage, code, reply, recipient)
            # The message is sent by hand (as smtplib.SMTP.data does) to know the instant it left us.
            payload = _LEADING_DOT.sub(b"..", message)
            if not payload.endswith(CRLF):
                payload += CRLF
            smtp.send(payload + b"." + CRLF)
            written = True
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException) as exc:
            self._drop()
            raise ConnectionLostError(
                f"connection to {self.where} lost while sending to {recipient}: {exc or type(exc).__name__}",
                ambiguous=written,
            ) from None
        if code != 250:
            raise self._refused("end of DATA", code, reply, recipient)

    def close(self) -> None:
        """Say QUIT politely and close."""
        if self.smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.smtp.quit()
            self._drop()


def make_transport(settings: Settings, name: str | None = None) -> Transport:
    """Build the transport named in the settings (or `name`)."""
    name = name or settings["transport"]
    if name == "smtp":
        return SmtpTransport(
            settings["smtp_host"],
            int(settings["smtp_port"]),
            security=settings["smtp_security"],
            user=settings["smtp_user"],
            password=smtp_password(),
            timeout=float(settings["smtp_timeout"]),
        )
    return OutboxTransport(settings.path("outbox_dir"))
