"""The sender against a real aiosmtpd server: exactly once, personalised, faults, SIGKILL and resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
from subscribers_helpers import SECRET, SmtpSink, free_port, write_issue

from encounter_habit.subscribers import cli, tokens
from encounter_habit.subscribers.issue import message_id_for
from encounter_habit.subscribers.sender import send_issue
from encounter_habit.subscribers.settings import load_settings
from encounter_habit.subscribers.store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).with_name("subscribers_send_child.py")
SLUG = "make-this-the-week-of-encounter"


class Project:
    """A tiny project: settings, an email issue and a subscriber list, all under tmp_path."""

    def __init__(self, tmp_path: Path, subscribers: int = 0) -> None:
        self.root = tmp_path
        self.overrides: dict[str, object] = {
            "db_path": "var/subscribers.sqlite3",
            "site_url": "https://encounterhabit.example",
            "service_url": "https://subscribe.encounterhabit.example",
            "retry_delays": [0.0, 0.0, 0.0],
        }
        write_issue(tmp_path / "output" / "email" / SLUG / "message.eml")
        self.addresses = [f"reader{i:04d}@example.com" for i in range(subscribers)]
        with self.store() as store:
            for address in self.addresses:
                store.add(address)

    def settings(self, sink: SmtpSink | None = None, **overrides: object):
        values = dict(self.overrides, **overrides)
        if sink is not None:
            values.update(
                transport="smtp", smtp_host="127.0.0.1", smtp_port=sink.port, smtp_security="none"
            )
        return load_settings(self.root / "pelicanconf.py", values)

    def store(self) -> SqliteStore:
        return SqliteStore(self.root / "var" / "subscribers.sqlite3")

    def ledger(self) -> dict[str, int]:
        with self.store() as store:
            return store.ledger_counts(SLUG)


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("ENCOUNTER_SECRET_KEY", SECRET)


@pytest.fixture(params=[False, True], ids=["one-command-at-a-time", "pipelining"])
def sink(request):
    with SmtpSink(pipelining=request.param) as running:
        yield running


def test_every_confirmed_subscriber_gets_the_issue_once(tmp_path, sink):
    project = Project(tmp_path, subscribers=40)
    with project.store() as store:
        store.add("pending@example.com", status="pending")
        left, _ = store.add("left@example.com")
        store.unsubscribe(left.id)
    summary = send_issue(project.settings(sink), SLUG, progress=False)
    assert summary.sent == 40 and summary.stopped is None
    assert dict(sink.handler.received) == dict.fromkeys(project.addresses, 1)
    assert project.ledger() == {"sent": 40}


def test_each_message_is_personalised_with_its_own_links_and_message_id(tmp_path, sink):
    project = Project(tmp_path, subscribers=3)
    send_issue(project.settings(sink), SLUG, progress=False)
    with project.store() as store:
        ids = {s.email: s.id for s in store.iter_subscribers()}
    assert len(sink.handler.messages) == 3
    for raw, message in zip(sink.handler.messages, sink.handler.parsed(), strict=True):
        assert b"%%" not in raw
        address = message["To"]
        assert message["Message-ID"] == message_id_for(
            SLUG, ids[address], address, "encounterhabit.example"
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = re.search(
            r"<(https://[^>]+/unsubscribe\?token=([^>]+))>", message["List-Unsubscribe"]
        )
        fields = tokens.read_token(SECRET.encode(), tokens.UNSUBSCRIBE, url.group(2))
        assert fields == [str(ids[address]), tokens.email_tag(address)]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert url.group(1) in text and "/manage?token=" in text
        assert "café talk" in text and "café talk" in html
        assert 'href="https://subscribe.encounterhabit.example/unsubscribe?token=' in html


def test_someone_who_leaves_after_the_list_was_fixed_is_skipped(tmp_path, sink):
    project = Project(tmp_path, subscribers=4)
    with project.store() as store:
        store.prepare_issue(SLUG)  # a first run fixed the list, then stopped
        store.unsubscribe(store.get_by_email("reader0002@example.com").id)
    summary = send_issue(project.settings(sink), SLUG, progress=False)
    assert (summary.sent, summary.skipped) == (3, 1)
    assert "reader0002@example.com" not in sink.handler.received


def test_running_again_sends_nothing_twice(tmp_path, sink):
    project = Project(tmp_path, subscribers=10)
    send_issue(project.settings(sink), SLUG, progress=False)
    again = send_issue(project.settings(sink), SLUG, progress=False)
    assert (again.sent, again.skipped) == (0, 10)
    assert sum(sink.handler.received.values()) == 10


def test_a_4xx_reply_is_retried_with_backoff_until_accepted(tmp_path, sink):
    project = Project(tmp_path, subscribers=5)
    sink.handler.faults["reader0002@example.com"] = ["451 4.7.1 greylisted", "421 4.3.0 busy"]
    waits: list[float] = []
    settings = project.settings(sink, retry_delays=[0.5, 2.0, 8.0])
    summary = send_issue(settings, SLUG, progress=False, sleep=waits.append)
    assert waits == [0.5, 2.0]
    assert summary.sent == 5
    assert sink.handler.received["reader0002@example.com"] == 1


def test_a_4xx_that_outlasts_the_retries_is_failed_and_retried_next_run(tmp_path, sink):
    project = Project(tmp_path, subscribers=3)
    sink.handler.faults["reader0001@example.com"] = ["451 4.3.0 later"] * 4
    first = send_issue(project.settings(sink), SLUG, progress=False)
    assert (first.sent, first.failed) == (2, 1)
    second = send_issue(project.settings(sink), SLUG, progress=False)
    assert second.sent == 1
    assert dict(sink.handler.received) == dict.fromkeys(project.addresses, 1)


def test_a_5xx_reply_bounces_the_address_and_suppresses_it_later(tmp_path, sink):
    project = Project(tmp_path, subscribers=4)
    sink.handler.faults["reader0001@example.com"] = ["550 5.1.1 no such user"]
    summary = send_issue(project.settings(sink), SLUG, progress=False)
    assert (summary.sent, summary.bounced) == (3, 1)
    with project.store() as store:
        assert store.get_by_email("reader0001@example.com").status == "bounced"
    write_issue(tmp_path / "output" / "email" / "next-week" / "message.eml")
    send_issue(project.settings(sink), "next-week", progress=False)
    assert sink.handler.received["reader0001@example.com"] == 0
    assert sink.handler.received["reader0000@example.com"] == 2


def test_a_connection_dropped_before_the_message_left_is_retried(tmp_path, sink):
    project = Project(tmp_path, subscribers=4)
    sink.handler.faults["reader0002@example.com"] = ["drop-rcpt"]
    summary = send_issue(project.settings(sink), SLUG, progress=False)
    assert summary.sent == 4 and not summary.uncertain
    assert dict(sink.handler.received) == dict.fromkeys(project.addresses, 1)


def test_a_connection_dropped_after_the_message_left_is_uncertain_never_silently_resent(
    tmp_path, sink
):
    project = Project(tmp_path, subscribers=4)
    sink.handler.faults["reader0002@example.com"] = ["drop-data"]
    summary = send_issue(project.settings(sink), SLUG, progress=False)
    assert summary.uncertain == ["reader0002@example.com"]
    assert summary.sent == 3
    assert send_issue(project.settings(sink), SLUG, progress=False).sent == 0
    assert sink.handler.received["reader0002@example.com"] == 1
    # Only an explicit request sends it again.
    resend = send_issue(project.settings(sink), SLUG, progress=False, resend_uncertain=True)
    assert resend.sent == 1 and resend.uncertain == []
    assert sink.handler.received["reader0002@example.com"] == 2


def test_a_dead_server_stops_the_run_and_the_resume_finishes_the_list(tmp_path):
    project = Project(tmp_path, subscribers=6)
    port = free_port()
    settings = project.settings(
        transport="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_security="none"
    )
    summary = send_issue(settings, SLUG, progress=False)
    assert summary.sent == 0
    assert "cannot connect to SMTP server 127.0.0.1" in summary.stopped
    assert f"invoke send {SLUG}" in summary.stopped
    assert project.ledger() == {"pending": 6}
    with SmtpSink(port=port) as sink:
        resumed = send_issue(settings, SLUG, progress=False)
    assert resumed.sent == 6
    assert dict(sink.handler.received) == dict.fromkeys(project.addresses, 1)


def test_a_server_failing_mid_run_stops_and_the_resume_sends_exactly_once(tmp_path, sink):
    project = Project(tmp_path, subscribers=8)
    sink.handler.faults["reader0005@example.com"] = ["drop-rcpt"] * 4
    summary = send_issue(project.settings(sink), SLUG, progress=False)
    assert summary.sent == 5 and summary.stopped
    assert project.ledger() == {"sent": 5, "pending": 3}
    resumed = send_issue(project.settings(sink), SLUG, progress=False)
    assert resumed.sent == 3
    assert dict(sink.handler.received) == dict.fromkeys(project.addresses, 1)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_smtp_password_comes_from_the_environment(tmp_path, monkeypatch):
    project = Project(tmp_path, subscribers=2)
    with SmtpSink(password="s3cret") as sink:
        settings = project.settings(sink, smtp_user="newsletter", smtp_timeout=5.0)
        monkeypatch.setenv("ENCOUNTER_SMTP_PASSWORD", "s3cret")
        assert send_issue(settings, SLUG, progress=False).sent == 2
        assert sum(sink.handler.received.values()) == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_stops_the_run_saying_what_to_check(tmp_path, monkeypatch):
    project = Project(tmp_path, subscribers=2)
    with SmtpSink(password="s3cret") as sink:
        settings = project.settings(sink, smtp_user="newsletter", smtp_timeout=5.0)
        monkeypatch.setenv("ENCOUNTER_SMTP_PASSWORD", "wrong")
        summary = send_issue(settings, SLUG, progress=False)
    assert summary.sent == 0
    assert "refused the login of 'newsletter'" in summary.stopped
    assert "ENCOUNTER_SMTP_PASSWORD" in summary.stopped
    assert project.ledger() == {"pending": 2}


def test_the_default_outbox_transport_writes_one_eml_per_subscriber(tmp_path):
    project = Project(tmp_path, subscribers=5)
    summary = send_issue(project.settings(), SLUG, progress=False)
    files = sorted((tmp_path / "var" / "outbox").glob("*.eml"))
    assert summary.sent == 5 and len(files) == 5
    assert sorted(
        f.read_bytes().split(b"\r\nTo: ")[1].split(b"\r\n")[0].decode() for f in files
    ) == (project.addresses)


def test_a_dry_run_renders_everything_and_hands_off_nothing(tmp_path, sink):
    project = Project(tmp_path, subscribers=7)
    summary = send_issue(project.settings(sink), SLUG, dry_run=True, progress=False)
    assert summary.sent == 7 and summary.dry_run
    assert sum(sink.handler.received.values()) == 0
    assert project.ledger() == {}


def test_a_dry_run_of_a_resumed_issue_counts_only_what_is_left(tmp_path, sink):
    project = Project(tmp_path, subscribers=4)
    sink.handler.faults["reader0002@example.com"] = ["drop-rcpt"] * 4
    send_issue(project.settings(sink), SLUG, progress=False)  # stops at the third address
    with project.store() as store:
        store.add("newcomer@example.com")  # joined after the list was fixed
    summary = send_issue(project.settings(sink), SLUG, dry_run=True, progress=False)
    assert (summary.sent, summary.skipped) == (2, 3)


def test_the_rate_limit_paces_the_hand_offs(tmp_path, sink):
    project = Project(tmp_path, subscribers=10)
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # a clock that only moves when the sender waits
        waits.append(seconds)
        now[0] += seconds

    summary = send_issue(
        project.settings(sink, rate_limit=5.0),
        SLUG,
        progress=False,
        sleep=sleep,
        clock=lambda: now[0],
    )
    # At 5 messages per second each message after the first waits its 0.2 s slot.
    assert waits == pytest.approx([0.2] * 9)
    assert summary.sent == 10


def test_a_missing_issue_is_one_line_naming_the_file(tmp_path, capsys):
    project = Project(tmp_path, subscribers=1)
    assert cli.send("no-such-post", settings=project.settings(), progress=False) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "no-such-post/message.eml: no email issue here; build the site first" in err


def test_sending_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch, capsys):
    project = Project(tmp_path, subscribers=1)
    monkeypatch.delenv("ENCOUNTER_SECRET_KEY")
    assert cli.send(SLUG, settings=project.settings(), progress=False) == 1
    assert "set ENCOUNTER_SECRET_KEY" in capsys.readouterr().err
    assert project.ledger() == {}


@pytest.mark.parametrize("kill_after", [15, 110, 230])
def test_a_send_killed_with_sigkill_resumes_and_delivers_exactly_once(tmp_path, sink, kill_after):
    project = Project(tmp_path, subscribers=250)
    overrides = dict(
        project.overrides,
        transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_security="none",
        rate_limit=400.0,  # slow enough for the kill to land mid-list
    )
    job = json.dumps({"root": str(tmp_path), "overrides": overrides, "slug": SLUG})
    child = subprocess.Popen(
        [sys.executable, str(CHILD), job], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    deadline = time.monotonic() + 30
    while sum(sink.handler.received.values()) < kill_after and time.monotonic() < deadline:
        time.sleep(0.001)
    child.send_signal(signal.SIGKILL)
    child.wait()
    at_kill = sum(sink.handler.received.values())
    assert kill_after <= at_kill < 250, "the kill must land mid-list"

    resumed = send_issue(project.settings(sink), SLUG, progress=False)
    assert len(resumed.uncertain) <= 1
    counts = sink.handler.received
    for address in project.addresses:
        if address in resumed.uncertain:
            assert counts[address] in (0, 1)
        else:
            assert counts[address] == 1, address
    assert set(counts) | set(resumed.uncertain) == set(project.addresses)
    assert project.ledger().get("sending", 0) == 0


def test_an_issue_is_dated_when_it_is_sent_not_when_the_post_was_written(tmp_path):
    import email
    import email.utils
    from datetime import datetime, timedelta
    from email import policy

    from encounter_habit.subscribers.issue import IssueTemplate

    template = tmp_path / "message.eml"
    template.write_bytes(
        b"From: a@example.com\r\nTo: %%RECIPIENT%%\r\nSubject: Old post\r\n"
        b"Date: Mon, 21 Sep 2009 09:14:00 -0500\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n"
    )
    issue = IssueTemplate(template)
    raw = issue.render(
        {
            "%%RECIPIENT%%": "r@example.com",
            "%%UNSUBSCRIBE_URL%%": "https://x/u",
            "%%UNSUBSCRIBE_MAILTO%%": "mailto:u@x",
            "%%MANAGE_URL%%": "https://x/m",
        },
        "<id@x>",
    )
    sent = email.message_from_bytes(raw, policy=policy.default)
    dated = email.utils.parsedate_to_datetime(str(sent["Date"]))
    assert abs(datetime.now(UTC) - dated) < timedelta(minutes=5)
    assert len(sent.get_all("Date")) == 1
