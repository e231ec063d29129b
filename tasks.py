"""Tasks for The Encounter Habit: `invoke --list` shows them all (run through ./dev)."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

from invoke import task

ROOT = Path(__file__).resolve().parent
SETTINGS = ROOT / "pelicanconf.py"
PUBLISH_SETTINGS = ROOT / "publishconf.py"
HOST = os.environ.get("ENCOUNTER_HOST", "127.0.0.1")
PORT = int(os.environ.get("ENCOUNTER_PORT", "8000"))


def _build(settings_file: Path = SETTINGS, *, strict: bool = False, live=None, warm=True):
    """Build once and print the outcome; exit non-zero when the build failed.

    ``live``, an encounter_habit.live.LiveSite, builds from the last build kept in memory;
    otherwise the last build's warm process is asked first (see encounter_habit.warm).
    """
    from encounter_habit import warm as warm_builds
    from encounter_habit.build import BuildFailed, configure_logging

    configure_logging()
    os.chdir(ROOT)
    try:
        if live:
            report = live.build()
        else:
            report = warm_builds.build(settings_file, strict=strict, warm=warm)
    except BuildFailed as exc:
        if live:  # a broken save must not end the live session: the next save may fix it
            print(f"error: {exc}", file=sys.stderr)
            return None
        sys.exit(f"error: {exc}")
    problems = f", {len(report.errors)} error(s) above" if report.errors else ""
    if report.unchanged:
        print(f"nothing changed since the last build: {report.output} is up to date{problems}")
    elif report.quick:
        print(f"remade {report.made} file(s) in {report.output}{problems}")
    else:
        print(
            f"built {report.articles} posts and {report.pages} pages into {report.output}{problems}"
        )
    return report


def _about_to_exit() -> None:
    """This process is done building and about to end: spare it the collector's last walks.

    As Python exits it runs the cyclic garbage collector over every object still alive, more
    than once: 0.15-0.2 s after a 200-post build, more after a bigger one, all after the site was
    on disk. Frozen objects are skipped by those walks (and still freed). Only one-shot commands
    call this, after the build and after any warm process was forked: a process that goes on
    building (serve, livereload, the warm process) must keep collecting.
    """
    gc.freeze()


@task(
    help={
        "settings": "settings file (default pelicanconf.py)",
        "cold": "build in this process only, and leave no warm process for the next build",
    }
)
def build(c, settings=str(SETTINGS), cold=False):
    """Build the site into output/ (content errors are reported; the rest still builds)."""
    _build(Path(settings).resolve(), warm=not cold)
    _about_to_exit()


@task
def serve(c, port=PORT):
    """Build the site and serve it at http://127.0.0.1:8000/ (Ctrl-C stops)."""
    from encounter_habit.serve import make_server

    report = _build()
    server = make_server(report.output, HOST, int(port))
    print(f"serving {report.output} at http://{HOST}:{server.server_port}/ (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a reader stops it
        server.serve_forever()


@task
def livereload(c, port=PORT):
    """Serve the site and rebuild it, refreshing the browser, whenever a source file is saved."""
    from livereload import Server

    from encounter_habit.live import LiveSite

    site = LiveSite(SETTINGS)
    report = _build(live=site)
    if report is None:
        sys.exit(1)
    server = Server()
    for pattern in (
        "pelicanconf.py",
        "content/**/*",
        "theme/templates/**/*.html",
        "theme/static/**/*",
        "plugins/**/*.py",
    ):
        server.watch(str(ROOT / pattern), lambda: _build(live=site))
    server.serve(host=HOST, port=int(port), root=str(report.output))


@task(help={"settings": "settings file (default publishconf.py)"})
def publish(c, settings=str(PUBLISH_SETTINGS)):
    """Build the production site with publishconf.py; fail on any content error."""
    _build(Path(settings).resolve(), strict=True)
    _about_to_exit()
    target = os.environ.get("ENCOUNTER_DEPLOY_TARGET")
    if target:
        c.run(f"rsync -az --delete {ROOT / 'output'}/ {target}", echo=True)
    else:
        print("output/ is ready to upload; set ENCOUNTER_DEPLOY_TARGET to rsync it automatically")


@task
def clean(c):
    """Remove the generated site (output/ and its staging folders), and end its warm process."""
    from encounter_habit import warm

    os.chdir(ROOT)
    warm.stop(SETTINGS)
    for folder in [ROOT / "output", *ROOT.glob(".output.*")]:
        shutil.rmtree(folder, ignore_errors=True)


@task(name="new-post", help={"title": "the post's title, in quotes"})
def new_post(c, title):
    """Scaffold content/posts/YYYY-MM-DD-slug.md with full metadata; never overwrites."""
    from encounter_habit.build import BuildFailed, load_settings
    from encounter_habit.scaffold import PostExists, new_post

    try:
        path = new_post(ROOT / "content", title, load_settings(SETTINGS)["AUTHOR"])
    except (BuildFailed, PostExists, ValueError) as exc:
        sys.exit(f"error: {exc}")
    print(f"wrote {path.relative_to(ROOT)}")


@task(
    help={
        "sizes": "comma-separated post counts",
        "runs": "runs per measurement",
        "large_runs": "runs per measurement from 5,000 posts up",
    }
)
def bench(c, sizes="200,2000", runs=3, large_runs=1):
    """Benchmark full and incremental builds against plain Pelican; writes bench/RESULTS.md."""
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/bench_build.py"),
            "--sizes",
            sizes,
            "--runs",
            str(runs),
            "--large-runs",
            str(large_runs),
        ],
        check=True,
    )


@task(help={"args": 'extra pytest arguments, e.g. "-k comments -x"'})
def test(c, args=""):
    """Run the whole test suite."""
    result = subprocess.run([sys.executable, "-m", "pytest", *args.split()], cwd=ROOT)
    sys.exit(result.returncode)


# --- import-legacy: wiring only; the importer lives in encounter_habit/legacy/ ----------------
@task(
    name="import-legacy",
    help={
        "dumps": 'dump files or globs, space-separated, in quotes: "../shared/seeds/*.txt"',
        "content": "content directory to write into (default: content)",
        "overrides": "TOML or YAML file of metadata per dump file name",
        "force": "replace files that were edited by hand since the last import",
    },
)
def import_legacy(c, dumps, content="content", overrides="", force=False):
    """Import old-blog text dumps as Markdown posts and comment archives (never clobbers edits)."""
    from encounter_habit.legacy import main

    argv = [dumps, "--content", content]
    argv += ["--overrides", overrides] if overrides else []
    argv += ["--force"] if force else []
    sys.exit(main(argv))


# --- end import-legacy ------------------------------------------------------------------------


# --- subscribers: wiring only; the code lives in encounter_habit/subscribers/ -----------------
def _subscribers(*argv: str) -> None:
    from encounter_habit.subscribers.cli import main

    sys.exit(main(["--settings", str(SETTINGS), *argv]))


@task(name="subscribe-server", help={"host": "address to listen on", "port": "port to listen on"})
def subscribe_server(c, host="", port=0):
    """Run the subscription service (werkzeug; put a WSGI server in front in production)."""
    argv = ["serve"]
    argv += ["--host", host] if host else []
    argv += ["--port", str(port)] if port else []
    _subscribers(*argv)


@task(
    help={
        "slug": "slug of the post whose email issue (output/email/SLUG/message.eml) to send",
        "dry_run": "render every message but hand nothing off and change nothing",
        "transport": "outbox or smtp (default: SUBSCRIBERS['transport'])",
        "resend_uncertain": "also send to addresses marked uncertain by an interrupted run",
    }
)
def send(c, slug, dry_run=False, transport="", resend_uncertain=False):
    """Send (or resume sending) a post's email issue to every confirmed subscriber."""
    argv = ["send", slug]
    argv += ["--dry-run"] if dry_run else []
    argv += ["--transport", transport] if transport else []
    argv += ["--resend-uncertain"] if resend_uncertain else []
    _subscribers(*argv)


@task(name="subscribers-add", help={"addresses": "addresses, space-separated, in quotes"})
def subscribers_add(c, addresses):
    """Add confirmed subscribers by hand."""
    _subscribers("add", *addresses.split())


@task(name="subscribers-remove", help={"addresses": "addresses, space-separated, in quotes"})
def subscribers_remove(c, addresses):
    """Delete subscribers and their send history."""
    _subscribers("remove", *addresses.split())


@task(name="subscribers-list", help={"status": "pending, confirmed, unsubscribed or bounced"})
def subscribers_list(c, status=""):
    """List subscribers with their status, then the counts."""
    _subscribers("list", *(["--status", status] if status else []))


@task(name="subscribers-import", help={"csv": "CSV export of another newsletter service"})
def subscribers_import(c, csv):
    """Import subscribers from a CSV file; bad rows are reported with their line numbers."""
    _subscribers("import", csv)


@task(name="subscribers-export", help={"csv": "CSV file to write"})
def subscribers_export(c, csv):
    """Export every subscriber to a CSV file."""
    _subscribers("export", csv)


# --- end subscribers --------------------------------------------------------------------------


# --- email-preview: wiring only; the rendition is the newsletter_email plugin ----------------
@task(name="email-preview", help={"slug": "post slug, or week-of-<theme> for a week's digest"})
def email_preview(c, slug):
    """Open a post's newsletter email (output/email/SLUG/) in the browser, building it if missing."""
    import webbrowser

    page = ROOT / "output" / "email" / slug / "index.html"
    if not page.is_file():
        _build()
    if not page.is_file():
        sys.exit(f"error: no email for {slug!r}; check the slug (ls output/email/)")
    print(f"opening {page.relative_to(ROOT)} (the text part is email.txt, the message message.eml)")
    webbrowser.open(page.as_uri())


# --- end email-preview ------------------------------------------------------------------------
