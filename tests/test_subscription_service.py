"""The subscription service over real HTTP: double opt-in, one-click unsubscribe, tokens, rate limits."""

from __future__ import annotations

import email
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from subscribers_helpers import SECRET, SmtpSink, free_port
from werkzeug.serving import make_server

from encounter_habit.subscribers import tokens
from encounter_habit.subscribers.errors import SubscribersError
from encounter_habit.subscribers.service import create_app
from encounter_habit.subscribers.settings import load_settings
from encounter_habit.subscribers.store import SqliteStore

EBOOK_BYTES = b"PK\x03\x04 not really an epub, but bytes to stream"
LINK = re.compile(r"https?://127\.0\.0\.1:\d+/[a-z]+\?token=[A-Za-z0-9_.\-]+")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def soup(self) -> BeautifulSoup:
        return BeautifulSoup(self.body, "html.parser")

    @property
    def heading(self) -> str:
        return self.soup.find("h1").get_text(strip=True)


class Service:
    """A running service on a free loopback port, its store and its outbox."""

    def __init__(self, tmp_path: Path, **overrides: object) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = load_settings(
            tmp_path / "pelicanconf.py",
            {
                "service_url": self.url,
                "db_path": str(tmp_path / "subscribers.sqlite3"),
                "outbox_dir": str(tmp_path / "outbox"),
                "ebook_path": str(tmp_path / "encounters.epub"),
                "site_url": "https://encounterhabit.example",
                **overrides,
            },
        )
        (tmp_path / "encounters.epub").write_bytes(EBOOK_BYTES)
        self.outbox = tmp_path / "outbox"
        self.server = make_server("127.0.0.1", self.port, create_app(self.settings), threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.opener = urllib.request.build_opener(NoRedirect)

    def request(self, method: str, target: str, form: dict[str, str] | None = None) -> Reply:
        url = target if target.startswith("http") else self.url + target
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        try:
            with self.opener.open(req, timeout=10) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, dict(exc.headers), exc.read())

    def subscribe(self, address: str, **extra: str) -> Reply:
        return self.request("POST", "/subscribe", {"email": address, **extra})

    def emails(self, to: str | None = None) -> list[EmailMessage]:
        found = [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(self.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        ]
        return [m for m in found if to is None or m["To"] == to]

    def link_in(self, message: EmailMessage, path: str) -> str:
        text = message.get_body(("plain",)).get_content()
        return next(url for url in LINK.findall(text) if f"/{path}?" in url)

    def status_of(self, address: str) -> str | None:
        with SqliteStore(self.settings.path("db_path")) as store:
            subscriber = store.get_by_email(address)
            return subscriber.status if subscriber else None

    def subscribe_and_confirm(self, address: str) -> EmailMessage:
        self.subscribe(address)
        confirm = self.link_in(self.emails(address)[-1], "confirm")
        assert self.request("GET", confirm).status == 200
        return self.emails(address)[-1]

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join()


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCOUNTER_SECRET_KEY", SECRET)
    running = Service(tmp_path)
    yield running
    running.close()


def test_subscribing_sends_a_confirmation_and_only_the_link_confirms(service):
    reply = service.subscribe("Reader@Example.com")
    assert reply.status == 200
    assert reply.heading == "Check your inbox"
    assert service.status_of("reader@example.com") == "pending"
    (confirmation,) = service.emails("reader@example.com")
    assert "confirm" in confirmation["Subject"].lower()

    thanks = service.request("GET", service.link_in(confirmation, "confirm"))
    assert thanks.status == 200
    assert thanks.heading.startswith("Thank you")
    assert service.status_of("reader@example.com") == "confirmed"
    download = thanks.soup.find("a", attrs={"download": True})["href"]
    ebook = service.request("GET", download)
    assert ebook.status == 200
    assert ebook.body == EBOOK_BYTES
    assert ebook.headers["Content-Type"] == "application/epub+zip"


def test_confirming_sends_a_welcome_email_with_a_working_download_link(service):
    welcome = service.subscribe_and_confirm("reader@example.com")
    assert "welcome" in welcome["Subject"].lower()
    assert service.request("GET", service.link_in(welcome, "download")).body == EBOOK_BYTES
    # Opening the confirmation link again neither fails nor sends a second welcome.
    confirmation = service.emails("reader@example.com")[0]
    assert service.request("GET", service.link_in(confirmation, "confirm")).status == 200
    assert len(service.emails("reader@example.com")) == 2


def test_subscribe_answers_the_same_whether_or_not_the_address_is_known(service):
    service.subscribe_and_confirm("known@example.com")
    known = service.subscribe("known@example.com")
    unknown = service.subscribe("unknown@example.com")
    assert (known.status, known.soup.main.get_text()) == (
        unknown.status,
        unknown.soup.main.get_text(),
    )
    # The known address's owner is told by email, not the person at the form.
    assert "already" in service.emails("known@example.com")[-1]["Subject"]


def test_a_filled_honeypot_gets_the_normal_answer_and_stores_nothing(service):
    reply = service.subscribe("bot@example.com", website="http://spam.example")
    assert reply.heading == "Check your inbox"
    assert service.status_of("bot@example.com") is None
    assert service.emails() == []


def test_an_invalid_address_gets_the_form_back_with_a_labelled_error(service):
    reply = service.subscribe("not-an-address")
    assert reply.status == 400
    field = reply.soup.find("input", attrs={"name": "email"})
    assert field["aria-invalid"] == "true"
    assert reply.soup.find("label", attrs={"for": field["id"]})
    assert reply.soup.find(id=field["aria-describedby"]).get_text(strip=True)
    assert service.emails() == []


def test_too_many_requests_from_one_client_get_429(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCOUNTER_SECRET_KEY", SECRET)
    running = Service(tmp_path, client_rate_limit=[3, 600])
    try:
        statuses = [running.subscribe(f"r{i}@example.com").status for i in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        assert running.status_of("r3@example.com") is None
    finally:
        running.close()


def test_repeated_requests_for_one_address_stop_sending_emails_but_answer_the_same(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("ENCOUNTER_SECRET_KEY", SECRET)
    running = Service(tmp_path, address_rate_limit=[2, 3600])
    try:
        replies = [running.subscribe("victim@example.com") for _ in range(4)]
        assert {r.status for r in replies} == {200}
        assert len({r.soup.main.get_text() for r in replies}) == 1
        assert len(running.emails("victim@example.com")) == 2
    finally:
        running.close()


def test_one_click_post_unsubscribes_at_once(service):
    welcome = service.subscribe_and_confirm("reader@example.com")
    unsubscribe = service.link_in(welcome, "manage").replace("/manage?", "/unsubscribe?")
    reply = service.request("POST", unsubscribe, {"List-Unsubscribe": "One-Click"})
    assert reply.status == 200
    assert service.status_of("reader@example.com") == "unsubscribed"


def test_get_on_the_unsubscribe_link_shows_a_button_and_changes_nothing(service):
    welcome = service.subscribe_and_confirm("reader@example.com")
    page = service.request("GET", service.link_in(welcome, "manage"))
    assert page.status == 200
    form = page.soup.find("form", attrs={"method": "post"})
    assert form.find("button").get_text(strip=True).startswith("Unsubscribe")
    assert service.status_of("reader@example.com") == "confirmed"

    # The button posts the form to the one-click URL, which unsubscribes.
    assert service.request("POST", form["action"], {"confirm": "yes"}).status == 200
    assert service.status_of("reader@example.com") == "unsubscribed"


def test_resubscribing_after_leaving_needs_a_new_confirmation(service):
    welcome = service.subscribe_and_confirm("reader@example.com")
    first_confirm = service.link_in(service.emails("reader@example.com")[0], "confirm")
    manage = service.link_in(welcome, "manage")
    service.request(
        "POST", manage.replace("/manage?", "/unsubscribe?"), {"List-Unsubscribe": "One-Click"}
    )

    service.subscribe("reader@example.com")
    assert service.status_of("reader@example.com") == "pending"
    # The old confirmation link belonged to the earlier subscription.
    assert service.request("GET", first_confirm).status == 400
    new_confirm = service.link_in(service.emails("reader@example.com")[-1], "confirm")
    assert service.request("GET", new_confirm).status == 200
    assert service.status_of("reader@example.com") == "confirmed"


def _forge(token: str, new_fields: str) -> str:
    body, mac = token.split(".")
    return f"{tokens._b64(new_fields.encode())}.{mac}"


def test_altered_foreign_or_expired_tokens_get_a_plain_page_and_change_nothing(service):
    welcome_a = service.subscribe_and_confirm("a@example.com")
    service.subscribe_and_confirm("b@example.com")
    token_a = service.link_in(welcome_a, "manage").split("token=")[1]
    with SqliteStore(service.settings.path("db_path")) as store:
        b = store.get_by_email("b@example.com")
    forged = _forge(token_a, f"{b.id}|{tokens.email_tag(b.email)}|0")
    confirm_token_as_unsubscribe = service.link_in(
        service.emails("a@example.com")[0], "confirm"
    ).split("token=")[1]
    expired = tokens.make_token(
        SECRET.encode(), tokens.UNSUBSCRIBE, [b.id, tokens.email_tag(b.email)], 60, now=0
    )
    for bad in (forged, confirm_token_as_unsubscribe, expired, "garbage", "", token_a[:-2]):
        for method in ("GET", "POST"):
            reply = service.request(
                method,
                f"/unsubscribe?token={bad}",
                {"List-Unsubscribe": "One-Click"} if method == "POST" else None,
            )
            assert reply.status == 400, (bad, method)
            assert reply.heading == "This link does not work"
            assert b"Traceback" not in reply.body
    assert service.status_of("b@example.com") == "confirmed"
    assert service.status_of("a@example.com") == "confirmed"
    assert service.request("GET", f"/confirm?token={forged}").status == 400
    assert service.request("GET", f"/download?token={forged}").status == 400


def test_the_download_link_needs_a_confirmed_subscriber(service):
    welcome = service.subscribe_and_confirm("reader@example.com")
    download = service.link_in(welcome, "download")
    manage = service.link_in(welcome, "manage")
    service.request(
        "POST", manage.replace("/manage?", "/unsubscribe?"), {"List-Unsubscribe": "One-Click"}
    )
    assert service.request("GET", download).status == 400


def test_pages_are_plain_accessible_html(service):
    page = service.request("GET", "/subscribe")
    assert page.soup.html["lang"] == "en"
    assert page.soup.find("header") and page.soup.find("main") and page.soup.find("footer")
    for field in page.soup.find_all("input"):
        assert page.soup.find("label", attrs={"for": field["id"]}), field
    assert page.headers["Referrer-Policy"] == "no-referrer"
    missing = service.request("GET", "/nowhere")
    assert missing.status == 404 and missing.heading == "Page not found"


def test_the_confirmation_email_goes_through_smtp_when_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCOUNTER_SECRET_KEY", SECRET)
    with SmtpSink() as sink:
        running = Service(
            tmp_path,
            transport="smtp",
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_security="none",
        )
        try:
            assert running.subscribe("reader@example.com").status == 200
        finally:
            running.close()
    assert sink.handler.received["reader@example.com"] == 1
    (message,) = sink.handler.parsed()
    assert "/confirm?token=" in message.get_body(("plain",)).get_content()


def test_the_service_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("ENCOUNTER_SECRET_KEY", raising=False)
    with pytest.raises(SubscribersError, match="ENCOUNTER_SECRET_KEY"):
        create_app(load_settings(tmp_path / "pelicanconf.py"))
