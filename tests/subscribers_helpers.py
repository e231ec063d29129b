"""Helpers for the subscriber tests: a real aiosmtpd server with scripted faults, and issue templates."""

from __future__ import annotations

import email
import socket
import threading
from collections import Counter
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from encounter_habit import placeholders

SECRET = "test-secret-key-that-is-long-enough-0123456789"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_issue(path: Path, subject: str = "Make this the week of encounter") -> Path:
    """Write a small email issue with every placeholder, like the email rendition produces."""
    message = EmailMessage()
    message["From"] = "The Encounter Habit <newsletter@encounterhabit.example>"
    message["To"] = placeholders.RECIPIENT
    message["Subject"] = subject
    message["List-Unsubscribe"] = (
        f"<{placeholders.UNSUBSCRIBE_URL}>, <{placeholders.UNSUBSCRIBE_MAILTO}>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(
        "Hello,\n\nTurn a transaction into an encounter — café talk.\n\n"
        f"Leave: {placeholders.UNSUBSCRIBE_URL}\nManage: {placeholders.MANAGE_URL}\n"
    )
    message.add_alternative(
        "<p>Turn a transaction into an <em>encounter</em> — café talk.</p>"
        f'<p><a href="{placeholders.UNSUBSCRIBE_URL}">Unsubscribe</a> · '
        f'<a href="{placeholders.MANAGE_URL}">Manage</a></p>',
        subtype="html",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(message.as_bytes(policy=policy.SMTP))
    return path


class ScriptedHandler:
    """Accepts mail, counting messages per recipient; `faults[address]` lists replies to inject in turn.

    A fault is an SMTP reply such as "451 4.3.0 try later" or "550 5.1.1 no such user" (given at RCPT),
    "drop-rcpt" (close the connection at RCPT: nothing delivered) or "drop-data" (store the message,
    then close before replying: the sender cannot know it arrived).
    """

    def __init__(self, pipelining: bool = False) -> None:
        self.pipelining = pipelining
        self.received: Counter[str] = Counter()
        self.messages: list[bytes] = []
        self.faults: dict[str, list[str]] = {}
        self.keep_messages = True
        self.lock = threading.Lock()

    def _next_fault(self, address: str) -> str | None:
        with self.lock:
            queue = self.faults.get(address)
            return queue.pop(0) if queue else None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        if self.pipelining:
            # aiosmtpd reads commands one line at a time, so it copes with pipelined ones.
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        fault = self._next_fault(address)
        if fault == "drop-rcpt":
            server.transport.close()
            return "421 4.3.0 closing"
        if fault == "drop-data":
            envelope.drop_after_data = True
        elif fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            for address in envelope.rcpt_tos:
                self.received[address] += 1
            if self.keep_messages:
                self.messages.append(envelope.original_content or envelope.content)
        if getattr(envelope, "drop_after_data", False):
            server.transport.close()
        return "250 2.0.0 queued"

    def parsed(self) -> list[EmailMessage]:
        """Every received message, parsed."""
        return [email.message_from_bytes(m, policy=policy.default) for m in self.messages]


class SmtpSink:
    """A real aiosmtpd server on 127.0.0.1 in a background thread."""

    def __init__(
        self, port: int | None = None, pipelining: bool = False, password: str | None = None
    ) -> None:
        self.handler = ScriptedHandler(pipelining)
        self.port = port or free_port()
        auth = {}
        if password is not None:
            # Plain AUTH on loopback only; real servers require TLS first.
            def check(server, session, envelope, mechanism, data) -> AuthResult:
                return AuthResult(success=data.password == password.encode(), handled=False)

            auth = {
                "auth_required": True,
                "auth_require_tls": False,
                "authenticator": check,
                # One mechanism, so a refused login is refused once.
                "auth_exclude_mechanism": ["LOGIN"],
            }
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **auth)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
