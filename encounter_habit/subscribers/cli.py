"""Command-line entry points for the subscriber tools; tasks.py and `python -m` call these."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import SubscribersError
from .settings import Settings, load_settings
from .store import STATUSES, SqliteStore, normalise_email

log = logging.getLogger(__name__)


def _print(line: str) -> None:
    print(line, flush=True)


def _guarded(action: Callable[[], int]) -> int:
    """Run an action; a user-caused problem becomes one line on stderr and exit status 1."""
    try:
        return action()
    except SubscribersError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return 1


def add_subscribers(addresses: Sequence[str], settings: Settings | None = None) -> int:
    """Add confirmed subscribers by hand (addresses are validated and normalised)."""

    def action() -> int:
        config = settings or load_settings()
        status = 0
        with SqliteStore(config.path("db_path")) as store:
            for raw in addresses:
                try:
                    email = normalise_email(raw)
                except SubscribersError as exc:
                    print(f"subscribers: skipped: {exc}", file=sys.stderr)
                    status = 1
                    continue
                subscriber, created = store.add(email)
                verb = "added" if created else f"already present ({subscriber.status})"
                _print(f"subscribers: {email}: {verb}")
        return status

    return _guarded(action)


def remove_subscribers(addresses: Sequence[str], settings: Settings | None = None) -> int:
    """Delete subscribers and their send history."""

    def action() -> int:
        config = settings or load_settings()
        status = 0
        with SqliteStore(config.path("db_path")) as store:
            for raw in addresses:
                email = raw.strip().lower()
                if store.remove(email):
                    _print(f"subscribers: {email}: removed")
                else:
                    print(f"subscribers: {email!r} is not in the list", file=sys.stderr)
                    status = 1
        return status

    return _guarded(action)


def list_subscribers(status: str | None = None, settings: Settings | None = None) -> int:
    """Print subscribers (optionally of one status) and the counts per status."""

    def action() -> int:
        if status is not None and status not in STATUSES:
            raise SubscribersError(
                f"subscribers: unknown status {status!r}; use one of {STATUSES!r}"
            )
        config = settings or load_settings()
        with SqliteStore(config.path("db_path")) as store:
            for subscriber in store.iter_subscribers(status):
                _print(f"{subscriber.email}\t{subscriber.status}")
            counts = store.counts()
        _print("subscribers: " + ", ".join(f"{n} {name}" for name, n in counts.items()))
        return 0

    return _guarded(action)


def import_subscribers(csv_path: str | Path, settings: Settings | None = None) -> int:
    """Import confirmed subscribers from another service's CSV export; report bad rows by line."""

    def action() -> int:
        config = settings or load_settings()
        with SqliteStore(config.path("db_path")) as store:
            report = store.import_csv(csv_path)
        for line, raw, reason in report.invalid:
            print(f"{csv_path}:{line}: skipped {raw!r}: {reason}", file=sys.stderr)
        _print(
            f"subscribers: imported {report.added}, already present {report.already_present}, "
            f"invalid {len(report.invalid)} from {csv_path}"
        )
        return 0

    return _guarded(action)


def export_subscribers(csv_path: str | Path, settings: Settings | None = None) -> int:
    """Export every subscriber to a CSV file."""

    def action() -> int:
        config = settings or load_settings()
        with SqliteStore(config.path("db_path")) as store:
            count = store.export_csv(csv_path)
        _print(f"subscribers: exported {count} subscribers to {csv_path}")
        return 0

    return _guarded(action)


def send(
    slug: str,
    dry_run: bool = False,
    transport: str | None = None,
    resend_uncertain: bool = False,
    settings: Settings | None = None,
    progress: bool = True,
) -> int:
    """Send (or resume) the email issue of a post; exit status 2 when the run had to stop."""
    from .sender import send_issue
    from .settings import TRANSPORTS

    def action() -> int:
        if transport is not None and transport not in TRANSPORTS:
            raise SubscribersError(
                f"subscribers: unknown transport {transport!r}; use one of {TRANSPORTS!r}"
            )
        config = settings or load_settings()
        if transport is not None:
            config = Settings(config.root, {**config.values, "transport": transport})
        summary = send_issue(
            config, slug, dry_run=dry_run, resend_uncertain=resend_uncertain, progress=progress
        )
        _print(summary.line())
        for address in summary.uncertain:
            _print(
                f"subscribers: uncertain: {address} (may or may not have received it; "
                "--resend-uncertain sends it again)"
            )
        if summary.stopped:
            print(summary.stopped, file=sys.stderr, flush=True)
            return 2
        return 0

    return _guarded(action)


def serve(
    host: str | None = None, port: int | None = None, settings: Settings | None = None
) -> int:
    """Run the subscription service until interrupted."""
    from .service import serve as run_service

    def action() -> int:
        run_service(settings or load_settings(), host, port)
        return 0

    return _guarded(action)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m encounter_habit.subscribers COMMAND ...` (the same commands as the invoke tasks)."""
    parser = argparse.ArgumentParser(prog="python -m encounter_habit.subscribers")
    parser.add_argument("--settings", help="path to pelicanconf.py (default: ./pelicanconf.py)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("add").add_argument("addresses", nargs="+")
    commands.add_parser("remove").add_argument("addresses", nargs="+")
    commands.add_parser("list").add_argument("--status", choices=STATUSES)
    commands.add_parser("import").add_argument("csv")
    commands.add_parser("export").add_argument("csv")
    send_parser = commands.add_parser("send")
    send_parser.add_argument("slug")
    send_parser.add_argument("--dry-run", action="store_true")
    send_parser.add_argument("--transport", choices=("outbox", "smtp"))
    send_parser.add_argument("--resend-uncertain", action="store_true")
    send_parser.add_argument("--no-progress", action="store_true")
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        settings = load_settings(args.settings)
    except SubscribersError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.command == "add":
        return add_subscribers(args.addresses, settings)
    if args.command == "remove":
        return remove_subscribers(args.addresses, settings)
    if args.command == "list":
        return list_subscribers(args.status, settings)
    if args.command == "import":
        return import_subscribers(args.csv, settings)
    if args.command == "export":
        return export_subscribers(args.csv, settings)
    if args.command == "send":
        return send(
            args.slug,
            dry_run=args.dry_run,
            transport=args.transport,
            resend_uncertain=args.resend_uncertain,
            settings=settings,
            progress=not args.no_progress,
        )
    return serve(args.host, args.port, settings)
