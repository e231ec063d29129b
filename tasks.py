"""Tasks for The Encounter Habit: `invoke --list` shows them all (run through ./dev)."""

from __future__ import annotations

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


def _build(settings_file: Path = SETTINGS, *, strict: bool = False):
    """Build once and print the outcome; exit non-zero when the build failed."""
    from encounter_habit.build import BuildFailed, build_site, configure_logging

    configure_logging()
    os.chdir(ROOT)
    try:
        report = build_site(settings_file, strict=strict)
    except BuildFailed as exc:
        sys.exit(f"error: {exc}")
    problems = f", {len(report.errors)} error(s) above" if report.errors else ""
    print(f"built {report.articles} posts and {report.pages} pages into {report.output}{problems}")
    return report


@task(help={"settings": "settings file (default pelicanconf.py)"})
def build(c, settings=str(SETTINGS)):
    """Build the site into output/ (content errors are reported; the rest still builds)."""
    _build(Path(settings).resolve())


@task
def serve(c, port=PORT):
    """Build the site and serve it at http://127.0.0.1:8000/ (Ctrl-C stops)."""
    from encounter_habit.serve import make_server

    report = _build()
    server = make_server(report.output, HOST, int(port))
    print(f"serving {report.output} at http://{HOST}:{server.server_port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


@task
def livereload(c, port=PORT):
    """Serve the site and rebuild it, refreshing the browser, whenever a source file is saved."""
    from livereload import Server

    report = _build()
    server = Server()
    for pattern in (
        "pelicanconf.py",
        "content/**/*",
        "theme/templates/**/*.html",
        "theme/static/**/*",
        "plugins/**/*.py",
    ):
        server.watch(str(ROOT / pattern), lambda: _build())
    server.serve(host=HOST, port=int(port), root=str(report.output))


@task(help={"settings": "settings file (default publishconf.py)"})
def publish(c, settings=str(PUBLISH_SETTINGS)):
    """Build the production site with publishconf.py; fail on any content error."""
    _build(Path(settings).resolve(), strict=True)
    target = os.environ.get("ENCOUNTER_DEPLOY_TARGET")
    if target:
        c.run(f"rsync -az --delete {ROOT / 'output'}/ {target}", echo=True)
    else:
        print("output/ is ready to upload; set ENCOUNTER_DEPLOY_TARGET to rsync it automatically")


@task
def clean(c):
    """Remove the generated site (output/ and its staging folders)."""
    for name in ("output", ".output.staging", ".output.old"):
        shutil.rmtree(ROOT / name, ignore_errors=True)


@task(name="new-post", help={"title": "the post's title, in quotes"})
def new_post(c, title):
    """Scaffold content/posts/YYYY-MM-DD-slug.md with full metadata; never overwrites."""
    from encounter_habit.build import load_settings
    from encounter_habit.scaffold import PostExists, new_post

    author = load_settings(SETTINGS)["AUTHOR"]
    try:
        path = new_post(ROOT / "content", title, author)
    except (PostExists, ValueError) as exc:
        sys.exit(f"error: {exc}")
    print(f"wrote {path.relative_to(ROOT)}")


@task(help={"args": "extra pytest arguments, e.g. \"-k comments -x\""})
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
