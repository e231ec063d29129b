"""Benchmark: send one issue to 10,000 and 100,000 subscribers through a local aiosmtpd sink.

Prints messages per second and peak memory (max RSS) per list size, ledger on, one SMTP connection.
Each size runs in its own process so peak memory is that size's alone; the sink is another process.

    .venv/bin/python bench/bench_send.py                 # 10,000 and 100,000
    .venv/bin/python bench/bench_send.py --sizes 2000    # quick look
    .venv/bin/python bench/bench_send.py --pipelining    # sink offers PIPELINING like real MTAs
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

SLUG = "bench-issue"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_sink(
    port: int, count: multiprocessing.Value, ready: multiprocessing.Event, pipelining: bool
) -> None:
    """A counting aiosmtpd server, run in its own process."""
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
            session.host_name = hostname
            if pipelining:
                # Production MTAs (Postfix, Exim, SES) offer it; stock aiosmtpd does not.
                responses.insert(-1, "250-PIPELINING")
            return responses

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            count.value += len(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def _child(size: int, port: int, workdir: Path) -> dict[str, float]:
    """Set up `size` subscribers, send the issue once, return the numbers."""
    import sqlite3

    from subscribers_helpers import write_issue

    from encounter_habit.subscribers.sender import send_issue
    from encounter_habit.subscribers.settings import load_settings
    from encounter_habit.subscribers.store import SqliteStore

    os.environ["ENCOUNTER_SECRET_KEY"] = SECRET
    write_issue(workdir / "output" / "email" / SLUG / "message.eml")
    db = workdir / "subscribers.sqlite3"
    SqliteStore(db).close()
    with sqlite3.connect(db) as conn:
        now = time.time()
        conn.executemany(
            "INSERT INTO subscribers (email, status, nonce, source, created_at, updated_at)"
            " VALUES (?, 'confirmed', 'n', 'bench', ?, ?)",
            ((f"reader{i:07d}@example.com", now, now) for i in range(size)),
        )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    settings = load_settings(
        workdir / "pelicanconf.py",
        {
            "db_path": str(db),
            "transport": "smtp" if port else "outbox",
            "outbox_dir": str(workdir / "outbox"),
            "smtp_host": "127.0.0.1",
            "smtp_port": port or 25,
            "smtp_security": "none",
            "site_url": "https://encounterhabit.example",
        },
    )
    summary = send_issue(settings, SLUG, progress=False)
    peak = resource.getrusage(
        resource.RUSAGE_SELF
    ).ru_maxrss  # before counting files, which costs memory
    outbox = workdir / "outbox"
    return {
        "in_outbox": sum(1 for _ in outbox.glob("*.eml")) if outbox.exists() else 0,
        "size": size,
        "sent": summary.sent,
        "seconds": summary.seconds,
        "rate": summary.rate,
        "rss_before_mib": rss_before / 1024,
        "peak_rss_mib": peak / 1024,
    }


def main() -> None:
    """Run each size in a child process against one sink process and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--pipelining", action="store_true", help="the sink offers PIPELINING, as real MTAs do"
    )
    parser.add_argument(
        "--outbox", action="store_true", help="write .eml files instead: the sender's own ceiling"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, port, workdir = args.child
        print(json.dumps(_child(int(size), int(port), Path(workdir))))
        return

    ctx = multiprocessing.get_context("spawn")
    count, ready = ctx.Value("q", 0), ctx.Event()
    port = _free_port()
    sink = ctx.Process(target=_run_sink, args=(port, count, ready, args.pipelining), daemon=True)
    sink.start()
    ready.wait(30)
    child_port = 0 if args.outbox else port
    if args.outbox:
        print("transport: outbox (one .eml file per message, no SMTP)")
    else:
        print(f"sink: aiosmtpd in its own process, PIPELINING {'on' if args.pipelining else 'off'}")
    print(
        f"{'subscribers':>12} {'sent':>8} {'arrived':>8} {'seconds':>8} {'msg/s':>8} "
        f"{'RSS before':>11} {'peak RSS':>9}"
    )
    try:
        for size in args.sizes:
            with tempfile.TemporaryDirectory() as workdir:
                before = count.value
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(size), str(child_port), workdir],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                result = json.loads(out.strip().splitlines()[-1])
                delivered = result["in_outbox"] if args.outbox else count.value - before
                print(
                    f"{size:>12,} {result['sent']:>8,} {delivered:>8,} "
                    f"{result['seconds']:>8.1f} {result['rate']:>8.0f} "
                    f"{result['rss_before_mib']:>8.1f} MiB {result['peak_rss_mib']:>5.1f} MiB",
                    flush=True,
                )
    finally:
        sink.terminate()


if __name__ == "__main__":
    main()
