"""The subscriber store: one SQLite file holding subscribers, the send ledger and rate-limit hits.

The sender, the service and the CLI use only the public methods of SqliteStore, so another
database can replace it by implementing the same methods.
"""

from __future__ import annotations

import csv
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from .errors import SubscribersError

PENDING = "pending"
CONFIRMED = "confirmed"
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "bounced"
STATUSES = (PENDING, CONFIRMED, UNSUBSCRIBED, BOUNCED)

# Ledger states, one row per (issue, subscriber): pending -> sending -> sent | bounced | uncertain | failed.
LEDGER_PENDING = "pending"
LEDGER_SENDING = "sending"
LEDGER_SENT = "sent"
LEDGER_BOUNCED = "bounced"
LEDGER_UNCERTAIN = "uncertain"
LEDGER_FAILED = "failed"
LEDGER_SKIPPED = "skipped"

EMAIL_COLUMNS = ("email", "e-mail", "email address", "e-mail address", "email_address", "address")
BATCH = 1000
RATE_HITS_KEPT = 86400.0  # seconds

SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'bounced')),
    nonce TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS subscribers_status ON subscribers (status, id);
CREATE TABLE IF NOT EXISTS issues (
    issue TEXT PRIMARY KEY,
    started_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    issue TEXT NOT NULL,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    message_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    detail TEXT,
    updated_at REAL,
    PRIMARY KEY (issue, subscriber_id)
) WITHOUT ROWID;
-- No index on state: each state change would then write two b-trees, and the sender walks the
-- ledger in primary-key order anyway.
CREATE TABLE IF NOT EXISTS rate_hits (
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_hits_key ON rate_hits (key, at);
"""


@dataclass(frozen=True)
class Subscriber:
    """One row of the subscribers table."""

    id: int
    email: str
    status: str
    nonce: str
    source: str
    created_at: float
    updated_at: float


@dataclass
class ImportReport:
    """What a CSV import did: counts, and each rejected row with its line number."""

    added: int = 0
    already_present: int = 0
    invalid: list[tuple[int, str, str]] = field(default_factory=list)


def normalise_email(address: str) -> str:
    """Validate an address and return its normal form, or raise SubscribersError saying why."""
    try:
        result = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise SubscribersError(f"{address.strip()!r} is not a valid email address: {exc}") from None
    # Lower-cased whole: providers treat local parts case-insensitively, and one person is one row.
    return (result.ascii_email or result.normalized).lower()


def _row(row: sqlite3.Row | None) -> Subscriber | None:
    return None if row is None else Subscriber(*row)


class SqliteStore:
    """Subscribers, ledger and rate-limit hits in one SQLite file (WAL, one commit per change)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Autocommit: every ledger change is its own durable transaction unless we open one.
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise SubscribersError(
                f"subscribers: cannot open the subscriber database {str(self.path)!r}: {exc}; "
                "check SUBSCRIBERS['db_path']"
            ) from None
        # NORMAL in WAL mode survives a killed process (kill -9); only power loss can lose the last commit.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- subscribers -------------------------------------------------------------------------

    def get(self, subscriber_id: int) -> Subscriber | None:
        """Return the subscriber with this id, or None."""
        return _row(
            self.db.execute("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
        )

    def get_by_email(self, email: str) -> Subscriber | None:
        """Return the subscriber with this (normalised) address, or None."""
        return _row(
            self.db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        )

    def add(
        self, email: str, status: str = CONFIRMED, source: str = "cli"
    ) -> tuple[Subscriber, bool]:
        """Add a normalised address; return (subscriber, created). An existing row is left as it is."""
        now = time.time()
        cur = self.db.execute(
            "INSERT OR IGNORE INTO subscribers (email, status, nonce, source, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (email, status, secrets.token_hex(8), source, now, now),
        )
        subscriber = self.get_by_email(email)
        assert subscriber is not None
        return subscriber, cur.rowcount == 1

    def remove(self, email: str) -> bool:
        """Delete a subscriber and their ledger rows; return whether they existed."""
        return self.db.execute("DELETE FROM subscribers WHERE email = ?", (email,)).rowcount == 1

    def iter_subscribers(self, status: str | None = None) -> Iterator[Subscriber]:
        """Yield subscribers in id order, in batches so memory stays flat."""
        last = 0
        while True:
            if status is None:
                rows = self.db.execute(
                    "SELECT * FROM subscribers WHERE id > ? ORDER BY id LIMIT ?", (last, BATCH)
                ).fetchall()
            else:
                rows = self.db.execute(
                    "SELECT * FROM subscribers WHERE status = ? AND id > ? ORDER BY id LIMIT ?",
                    (status, last, BATCH),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield Subscriber(*row)
            last = rows[-1][0]

    def counts(self) -> dict[str, int]:
        """Number of subscribers in each status."""
        found = dict(self.db.execute("SELECT status, COUNT(*) FROM subscribers GROUP BY status"))
        return {status: found.get(status, 0) for status in STATUSES}

    def _set_status(self, subscriber_id: int, status: str, nonce: str | None = None) -> None:
        if nonce is None:
            self.db.execute(
                "UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?",
                (status, time.time(), subscriber_id),
            )
        else:
            self.db.execute(
                "UPDATE subscribers SET status = ?, nonce = ?, updated_at = ? WHERE id = ?",
                (status, nonce, time.time(), subscriber_id),
            )

    def request_subscription(self, email: str) -> Subscriber:
        """Record a subscribe request: new or departed addresses become pending with a fresh nonce."""
        subscriber, created = self.add(email, status=PENDING, source="form")
        if not created and subscriber.status in (UNSUBSCRIBED, BOUNCED):
            # A fresh nonce voids confirmation links from any earlier subscription.
            self._set_status(subscriber.id, PENDING, nonce=secrets.token_hex(8))
            subscriber = self.get(subscriber.id)
        assert subscriber is not None
        return subscriber

    def confirm(self, subscriber_id: int, nonce: str) -> tuple[Subscriber | None, bool]:
        """Confirm a pending subscriber whose nonce matches; return (subscriber, newly_confirmed)."""
        subscriber = self.get(subscriber_id)
        if subscriber is None or not secrets.compare_digest(subscriber.nonce, nonce):
            return None, False
        if subscriber.status == CONFIRMED:
            return subscriber, False
        if subscriber.status != PENDING:
            return None, False
        cur = self.db.execute(
            "UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
            (CONFIRMED, time.time(), subscriber_id, PENDING),
        )
        return self.get(subscriber_id), cur.rowcount == 1

    def unsubscribe(self, subscriber_id: int) -> bool:
        """Mark a subscriber unsubscribed; return whether their state changed."""
        cur = self.db.execute(
            "UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ? AND status != ?",
            (UNSUBSCRIBED, time.time(), subscriber_id, UNSUBSCRIBED),
        )
        return cur.rowcount == 1

    def mark_bounced(self, subscriber_id: int) -> None:
        """Suppress a subscriber whose server refused mail permanently."""
        self._set_status(subscriber_id, BOUNCED)

    # -- CSV -----------------------------------------------------------------------------------

    def import_csv(self, path: str | Path, source: str = "import") -> ImportReport:
        """Import confirmed subscribers from a CSV export; invalid rows are reported, never added."""
        report = ImportReport()
        path = Path(path)
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise SubscribersError(f"{path}: cannot read the CSV file: {exc.strerror}") from None
        with handle:
            reader = csv.reader(handle)
            column: int | None = None
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for row in reader:
                    if not row or not any(cell.strip() for cell in row):
                        continue
                    if column is None:
                        header = [cell.strip().lower() for cell in row]
                        named = [i for i, name in enumerate(header) if name in EMAIL_COLUMNS]
                        if named:
                            column = named[0]
                            continue
                        found = [i for i, cell in enumerate(row) if "@" in cell]
                        if not found:
                            raise SubscribersError(
                                f"{path}:{reader.line_num}: no email column found; "
                                "name the column 'email' in the first row"
                            )
                        # No header row: the first column holding an address is the email column.
                        column = found[0]
                    raw = row[column] if column < len(row) else ""
                    try:
                        email = normalise_email(raw)
                    except SubscribersError as exc:
                        report.invalid.append((reader.line_num, raw, str(exc)))
                        continue
                    _, created = self.add(email, status=CONFIRMED, source=source)
                    if created:
                        report.added += 1
                    else:
                        report.already_present += 1
                self.db.execute("COMMIT")
            except (csv.Error, UnicodeDecodeError) as exc:
                self.db.execute("ROLLBACK")
                raise SubscribersError(
                    f"{path}:{reader.line_num}: not a readable UTF-8 CSV file ({exc}); "
                    "re-save it as UTF-8 CSV; nothing was imported"
                ) from None
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return report

    def export_csv(self, path: str | Path) -> int:
        """Write every subscriber to a CSV file (email, status, source, created); return the count."""
        count = 0
        with Path(path).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "status", "source", "created"])
            for sub in self.iter_subscribers():
                created = datetime.fromtimestamp(sub.created_at, UTC).isoformat(timespec="seconds")
                writer.writerow([sub.email, sub.status, sub.source, created])
                count += 1
        return count

    # -- rate limits ---------------------------------------------------------------------------

    def allow(self, key: str, limit: int, window: float, now: float | None = None) -> bool:
        """Record a hit for `key` unless it already had `limit` hits in the last `window` seconds."""
        now = time.time() if now is None else now
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM rate_hits WHERE key = ? AND at <= ?", (key, now - window))
            if secrets.randbelow(100) == 0:
                # Keys that never come back would otherwise stay forever; no window is longer than a day.
                self.db.execute("DELETE FROM rate_hits WHERE at <= ?", (now - RATE_HITS_KEPT,))
            (count,) = self.db.execute(
                "SELECT COUNT(*) FROM rate_hits WHERE key = ?", (key,)
            ).fetchone()
            allowed = count < limit
            if allowed:
                self.db.execute("INSERT INTO rate_hits (key, at) VALUES (?, ?)", (key, now))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return allowed

    # -- ledger --------------------------------------------------------------------------------

    def prepare_issue(self, issue: str, resend_uncertain: bool = False) -> list[str]:
        """Start or resume an issue: snapshot the list on the first run, recover in-flight rows.

        Returns the addresses that were in flight when a previous run died (now `uncertain`).
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            in_flight = [
                email
                for (email,) in self.db.execute(
                    "SELECT s.email FROM ledger l JOIN subscribers s ON s.id = l.subscriber_id"
                    " WHERE l.issue = ? AND l.state = ?",
                    (issue, LEDGER_SENDING),
                )
            ]
            now = time.time()
            self.db.execute(
                "UPDATE ledger SET state = ?, detail = 'in flight when a previous run stopped',"
                " updated_at = ? WHERE issue = ? AND state = ?",
                (LEDGER_UNCERTAIN, now, issue, LEDGER_SENDING),
            )
            retry = [LEDGER_FAILED] + ([LEDGER_UNCERTAIN] if resend_uncertain else [])
            self.db.execute(
                f"UPDATE ledger SET state = ?, updated_at = ? WHERE issue = ?"
                f" AND state IN ({','.join('?' * len(retry))})",
                (LEDGER_PENDING, now, issue, *retry),
            )
            started = self.db.execute(
                "INSERT OR IGNORE INTO issues (issue, started_at) VALUES (?, ?)", (issue, now)
            ).rowcount
            if started:
                # The list is fixed when an issue is first sent, so a resume never adds newcomers.
                self.db.execute(
                    "INSERT OR IGNORE INTO ledger (issue, subscriber_id, state, updated_at)"
                    " SELECT ?, id, ?, ? FROM subscribers WHERE status = ?",
                    (issue, LEDGER_PENDING, now, CONFIRMED),
                )
            # Whoever left or bounced since the snapshot is skipped, not mailed.
            self.db.execute(
                "UPDATE ledger SET state = ?, updated_at = ? WHERE issue = ? AND state = ?"
                " AND subscriber_id IN (SELECT id FROM subscribers WHERE status != ?)",
                (LEDGER_SKIPPED, now, issue, LEDGER_PENDING, CONFIRMED),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return in_flight

    def pending_batch(self, issue: str, after_id: int, limit: int = BATCH) -> list[tuple[int, str]]:
        """Next (subscriber_id, email) pending for an issue after `after_id`; leavers are passed over."""
        return self.db.execute(
            "SELECT l.subscriber_id, s.email FROM ledger l JOIN subscribers s ON s.id = l.subscriber_id"
            " WHERE l.issue = ? AND l.state = ? AND l.subscriber_id > ? AND s.status = ?"
            " ORDER BY l.subscriber_id LIMIT ?",
            (issue, LEDGER_PENDING, after_id, CONFIRMED, limit),
        ).fetchall()

    def mark_sending(self, issue: str, subscriber_id: int, message_id: str) -> None:
        """Commit that this message is about to be handed off (before the hand-off)."""
        self.db.execute(
            "UPDATE ledger SET state = ?, message_id = ?, attempts = attempts + 1, updated_at = ?"
            " WHERE issue = ? AND subscriber_id = ?",
            (LEDGER_SENDING, message_id, time.time(), issue, subscriber_id),
        )

    def mark(self, issue: str, subscriber_id: int, state: str, detail: str | None = None) -> None:
        """Commit the outcome of a hand-off (after the hand-off)."""
        self.db.execute(
            "UPDATE ledger SET state = ?, detail = ?, updated_at = ? WHERE issue = ? AND subscriber_id = ?",
            (state, detail, time.time(), issue, subscriber_id),
        )

    def issue_started(self, issue: str) -> bool:
        """Whether a run already fixed the list of this issue."""
        row = self.db.execute("SELECT 1 FROM issues WHERE issue = ?", (issue,)).fetchone()
        return row is not None

    def ledger_state(self, issue: str, subscriber_id: int) -> str | None:
        """State of one ledger row, or None when there is none."""
        row = self.db.execute(
            "SELECT state FROM ledger WHERE issue = ? AND subscriber_id = ?", (issue, subscriber_id)
        ).fetchone()
        return row[0] if row else None

    def ledger_counts(self, issue: str) -> dict[str, int]:
        """Number of ledger rows of an issue in each state."""
        return dict(
            self.db.execute(
                "SELECT state, COUNT(*) FROM ledger WHERE issue = ? GROUP BY state", (issue,)
            )
        )

    def ledger_emails(self, issue: str, state: str) -> list[str]:
        """Addresses whose ledger row for an issue is in `state`."""
        return [
            email
            for (email,) in self.db.execute(
                "SELECT s.email FROM ledger l JOIN subscribers s ON s.id = l.subscriber_id"
                " WHERE l.issue = ? AND l.state = ? ORDER BY s.id",
                (issue, state),
            )
        ]
