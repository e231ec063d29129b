"""The email issue template: parsed once, then rendered per subscriber by splicing bytes."""

from __future__ import annotations

import base64
import binascii
import email
import email.utils
import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

from .. import placeholders
from .errors import SubscribersError

BODY_MARKER = "@@SUBSCRIBERS-BODY-{}@@"
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in placeholders.ALL))
_BODY = re.compile(r"@@SUBSCRIBERS-BODY-(\d+)@@")
_SPLIT = re.compile(f"({_PLACEHOLDER.pattern}|{_BODY.pattern.replace('(', '(?:')})")
# Keep the author's header text as written; only our substituted values change it.
_SKELETON_POLICY = policy.SMTP.clone(refold_source="none")


@dataclass(frozen=True)
class _Body:
    """One text/* part: its decoded text split around placeholders, and how to encode it."""

    pieces: tuple[str, ...]
    charset: str
    cte: str

    def render(self, values: dict[str, str]) -> bytes:
        text = "".join(values.get(piece, piece) for piece in self.pieces)
        data = text.replace("\r\n", "\n").replace("\n", "\r\n").encode(self.charset)
        if self.cte == "quoted-printable":
            return binascii.b2a_qp(data, istext=True)
        if self.cte == "base64":
            return base64.encodebytes(data).replace(b"\n", b"\r\n")
        return data


def message_id_for(issue: str, subscriber_id: int, email_address: str, domain: str) -> str:
    """Deterministic Message-ID of one issue for one subscriber, so a resend is recognisable."""
    digest = hashlib.sha256(f"{issue}\0{subscriber_id}\0{email_address}".encode()).hexdigest()[:24]
    safe_issue = re.sub(r"[^A-Za-z0-9-]", "-", issue)[:40]
    return f"<{safe_issue}.{digest}@{domain}>"


class IssueTemplate:
    """A message.eml with placeholders, ready to render thousands of times without re-parsing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SubscribersError(
                f"{path}: no email issue here; build the site first (`invoke build`) so the email "
                "rendition writes it, and check the slug"
            ) from None
        message = email.message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.subject = str(message.get("Subject", ""))
        to = message.get("To")
        if to is None:
            message["To"] = placeholders.RECIPIENT
        elif placeholders.RECIPIENT not in str(to):
            raise SubscribersError(
                f"{path}: the To header is {str(to)!r}, not the {placeholders.RECIPIENT} placeholder; "
                "rebuild the email issue"
            )
        if "List-Unsubscribe" not in message:
            message["List-Unsubscribe"] = (
                f"<{placeholders.UNSUBSCRIBE_URL}>, <{placeholders.UNSUBSCRIBE_MAILTO}>"
            )
        if "List-Unsubscribe-Post" not in message:
            # RFC 8058: mailbox providers only offer one-click unsubscribe when this header is present.
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        del message["Message-ID"]
        # The rendition carries the post's date; an issue is dated when it goes out (an archived
        # post sent today must not land in inboxes as a message from 2009).
        del message["Date"]
        message["Date"] = email.utils.format_datetime(email.utils.localtime())
        self.bodies: list[_Body] = []
        for part in message.walk():
            if part.is_multipart() or part.get_content_maintype() != "text":
                continue
            text = part.get_content()
            cte = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
            charset = part.get_content_charset("utf-8")
            if cte not in ("7bit", "8bit", "quoted-printable", "base64"):
                raise SubscribersError(
                    f"{path}: a text part has Content-Transfer-Encoding {cte!r}; "
                    "use 7bit, 8bit, quoted-printable or base64"
                )
            if cte == "7bit" and not text.isascii():
                cte = "quoted-printable"
                part.replace_header("Content-Transfer-Encoding", cte)
            pieces = self._split(text)
            self.bodies.append(_Body(pieces, charset, cte))
            part.set_payload(BODY_MARKER.format(len(self.bodies) - 1))
        buffer = BytesIO()
        BytesGenerator(buffer, policy=_SKELETON_POLICY).flatten(message)
        skeleton = buffer.getvalue().decode("ascii", "surrogateescape")
        self.segments: list[str | bytes | int] = []
        for piece in _SPLIT.split(skeleton):
            if not piece:
                continue
            body = _BODY.fullmatch(piece)
            if body:
                self.segments.append(int(body.group(1)))
            elif piece in placeholders.ALL:
                self.segments.append(piece)
            else:
                self.segments.append(piece.encode("ascii", "surrogateescape"))

    @staticmethod
    def _split(text: str) -> tuple[str, ...]:
        pieces: list[str] = []
        last = 0
        for match in _PLACEHOLDER.finditer(text):
            pieces += [text[last : match.start()], match.group()]
            last = match.end()
        pieces.append(text[last:])
        return tuple(p for p in pieces if p)

    def render(self, values: dict[str, str], message_id: str) -> bytes:
        """The complete message for one subscriber, CRLF line endings, with its Message-ID first."""
        out = [b"Message-ID: ", message_id.encode("ascii"), b"\r\n"]
        for segment in self.segments:
            if isinstance(segment, bytes):
                out.append(segment)
            elif isinstance(segment, int):
                out.append(self.bodies[segment].render(values))
            else:
                out.append(values[segment].encode("ascii"))
        return b"".join(out)
