"""Send one email issue to every confirmed subscriber, exactly once, surviving kills and bad servers.

Per message the ledger row goes pending -> sending (committed BEFORE the hand-off) -> sent | bounced
| failed (committed AFTER). A row found in `sending` at start-up was in flight when a run died: it
is marked uncertain and reported, never resent unless asked.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tqdm import tqdm

from .. import placeholders
from . import store as st
from .errors import SubscribersError
from .issue import IssueTemplate, message_id_for
from .links import subscriber_links
from .settings import Settings, secret_key
from .store import SqliteStore
from .transports import (
    BouncedError,
    ConnectionLostError,
    DeferredError,
    SenderRefusedError,
    Transport,
    make_transport,
)

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_FAILURES = (
    3  # a server deferring everyone is down in all but name: stop, resume later
)
POSTFIX_EVERY = 200  # refreshing the progress bar's counts costs more than sending


@dataclass
class SendSummary:
    """What one run did, and what the ledger holds for the issue afterwards."""

    issue: str
    dry_run: bool = False
    sent: int = 0
    bounced: int = 0
    failed: int = 0
    skipped: int = 0
    uncertain: list[str] = field(default_factory=list)
    stopped: str | None = None
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Messages handed off per second in this run."""
        return self.sent / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        """One-line summary for the terminal."""
        verb = "would send" if self.dry_run else "sent"
        return (
            f"subscribers: issue {self.issue!r}: {verb} {self.sent}, skipped {self.skipped}, "
            f"bounced {self.bounced}, uncertain {len(self.uncertain)}, failed {self.failed} "
            f"in {self.seconds:.1f}s ({self.rate:.0f} msg/s)"
        )


class RunStoppedError(SubscribersError):
    """The run cannot continue (server down, sender refused); the ledger is resumable."""


def _values(settings: Settings, key: bytes, subscriber_id: int, email: str) -> dict[str, str]:
    links = subscriber_links(settings, key, subscriber_id, email)
    return {
        placeholders.RECIPIENT: email,
        placeholders.UNSUBSCRIBE_URL: links["unsubscribe_url"],
        placeholders.UNSUBSCRIBE_MAILTO: links["unsubscribe_mailto"],
        placeholders.MANAGE_URL: links["manage_url"],
    }


class _Run:
    """State of one sending run: the store, transport, retries and counters."""

    def __init__(
        self,
        settings: Settings,
        issue: str,
        store: SqliteStore,
        transport: Transport,
        sleep: Callable[[float], None],
    ) -> None:
        self.settings, self.issue, self.store, self.transport = settings, issue, store, transport
        self.sleep = sleep
        self.delays = [float(d) for d in settings["retry_delays"]]
        self.sender = settings["from_address"]
        self.consecutive_failures = 0

    def deliver(self, subscriber_id: int, email: str, message: bytes, message_id: str) -> str:
        """Hand off one message with retries; return the final ledger state."""
        attempt = 0
        while True:
            try:
                self.transport.send(
                    self.sender,
                    email,
                    message,
                    message_id,
                    # Committed BEFORE the message can reach the server, overlapping the envelope.
                    before_data=lambda: self.store.mark_sending(
                        self.issue, subscriber_id, message_id
                    ),
                )
            except BouncedError as exc:
                self.store.mark(self.issue, subscriber_id, st.LEDGER_BOUNCED, exc.detail)
                self.store.mark_bounced(subscriber_id)
                log.warning("subscribers: %r bounced and is suppressed: %s", email, exc.detail)
                return st.LEDGER_BOUNCED
            except ConnectionLostError as exc:
                if exc.ambiguous:
                    # The server may have accepted it: resending could double it, dropping could lose it.
                    self.store.mark(self.issue, subscriber_id, st.LEDGER_UNCERTAIN, exc.detail)
                    log.warning("subscribers: %r is uncertain (not resent): %s", email, exc.detail)
                    return st.LEDGER_UNCERTAIN
                self.store.mark(self.issue, subscriber_id, st.LEDGER_PENDING, exc.detail)
                if attempt >= len(self.delays):
                    raise RunStoppedError(
                        f"subscribers: {exc.detail}; gave up after {attempt + 1} attempts. "
                        f"Nothing was lost: run `invoke send {self.issue}` again to resume"
                    ) from None
            except DeferredError as exc:
                self.store.mark(self.issue, subscriber_id, st.LEDGER_PENDING, exc.detail)
                if attempt >= len(self.delays):
                    self.consecutive_failures += 1
                    if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                        raise RunStoppedError(
                            f"subscribers: the server deferred {self.consecutive_failures} addresses in a "
                            f"row (last: {exc.detail}); stopped. Run `invoke send {self.issue}` later to resume"
                        ) from None
                    self.store.mark(self.issue, subscriber_id, st.LEDGER_FAILED, exc.detail)
                    log.warning(
                        "subscribers: %r deferred, will retry next run: %s", email, exc.detail
                    )
                    return st.LEDGER_FAILED
            except SenderRefusedError as exc:
                self.store.mark(self.issue, subscriber_id, st.LEDGER_PENDING, exc.detail)
                raise RunStoppedError(
                    f"subscribers: {exc.detail}; stopped before any loss. "
                    f"Fix it and run `invoke send {self.issue}` again to resume"
                ) from None
            else:
                self.store.mark(self.issue, subscriber_id, st.LEDGER_SENT)
                self.consecutive_failures = 0
                return st.LEDGER_SENT
            log.info(
                "subscribers: retrying %r in %ss (attempt %s)",
                email,
                self.delays[attempt],
                attempt + 2,
            )
            self.sleep(self.delays[attempt])
            attempt += 1


def _dry_run(
    settings: Settings, issue: str, store: SqliteStore, template: IssueTemplate, key: bytes
) -> SendSummary:
    summary = SendSummary(issue=issue, dry_run=True)
    started = time.perf_counter()
    started_before = store.issue_started(issue)
    for sub in store.iter_subscribers(st.CONFIRMED):
        state = store.ledger_state(issue, sub.id)
        # Mirrors a real run: a resumed issue only sends its own pending and failed rows.
        if started_before and state not in (st.LEDGER_PENDING, st.LEDGER_FAILED):
            summary.skipped += 1
            continue
        # Rendering every message checks the template and tokens without handing anything off.
        template.render(
            _values(settings, key, sub.id, sub.email),
            message_id_for(issue, sub.id, sub.email, settings.message_id_domain),
        )
        summary.sent += 1
    summary.seconds = time.perf_counter() - started
    return summary


def send_issue(
    settings: Settings,
    issue: str,
    *,
    transport: Transport | None = None,
    dry_run: bool = False,
    resend_uncertain: bool = False,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.perf_counter,
) -> SendSummary:
    """Send (or resume sending) an issue to every confirmed subscriber; return the summary."""
    key = secret_key()
    template = IssueTemplate(settings.path("email_path", slug=issue))
    domain = settings.message_id_domain
    with SqliteStore(settings.path("db_path")) as store:
        if dry_run:
            return _dry_run(settings, issue, store, template, key)
        in_flight = store.prepare_issue(issue, resend_uncertain=resend_uncertain)
        for address in in_flight:
            log.warning(
                "subscribers: %r was in flight when the last run stopped: marked uncertain, not resent "
                "(send it again with --resend-uncertain)",
                address,
            )
        before = store.ledger_counts(issue)
        summary = SendSummary(issue=issue)
        summary.skipped = before.get(st.LEDGER_SENT, 0) + before.get(st.LEDGER_SKIPPED, 0)
        transport = transport or make_transport(settings)
        run = _Run(settings, issue, store, transport, sleep)
        rate = float(settings["rate_limit"])
        bar = tqdm(
            total=before.get(st.LEDGER_PENDING, 0),
            unit="msg",
            desc=f"sending {issue}",
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        started = clock()
        handed = 0
        after = 0
        try:
            while batch := store.pending_batch(issue, after):
                for subscriber_id, address in batch:
                    after = subscriber_id
                    message_id = message_id_for(issue, subscriber_id, address, domain)
                    message = template.render(
                        _values(settings, key, subscriber_id, address), message_id
                    )
                    if rate:
                        wait = started + handed / rate - clock()
                        if wait > 0:
                            sleep(wait)
                    handed += 1
                    outcome = run.deliver(subscriber_id, address, message, message_id)
                    if outcome == st.LEDGER_SENT:
                        summary.sent += 1
                    elif outcome == st.LEDGER_BOUNCED:
                        summary.bounced += 1
                    elif outcome == st.LEDGER_FAILED:
                        summary.failed += 1
                    bar.update(1)
                    if handed % POSTFIX_EVERY == 0:
                        bar.set_postfix(
                            sent=summary.sent,
                            bounced=summary.bounced,
                            failed=summary.failed,
                            refresh=False,
                        )
        except RunStoppedError as exc:
            summary.stopped = str(exc)
        finally:
            bar.close()
            transport.close()
            summary.seconds = clock() - started
            summary.uncertain = store.ledger_emails(issue, st.LEDGER_UNCERTAIN)
    return summary
