"""Every internal link and image resolves, every anchor exists, and no page is orphaned."""

from __future__ import annotations

import json
import re
from collections import deque
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

# Pages nobody links to on purpose: the 404 page is what the server answers for a missing URL.
UNLINKED_ON_PURPOSE = {"404.html"}
# Email renditions are reached from the emails themselves, not from the site's pages.
UNLINKED_FOLDERS = ("email/",)
ATTRIBUTES = ("href", "src", "poster")
ABSOLUTE_URL = re.compile(r"""https?://[^\s"'<>)\]]+""")


def site_bases(settings: dict) -> list[str]:
    """Absolute URLs under which a link points into this site (SITEURL and plugins' fallbacks)."""
    bases = {settings.get("SITEURL", "")}
    for value in settings.values():
        if isinstance(value, dict):
            bases.update(
                v for k, v in value.items() if k in ("site_url", "siteurl") and isinstance(v, str)
            )
    return sorted(base.rstrip("/") + "/" for base in bases if base.startswith("http"))


def page_url(output: Path, path: Path) -> str:
    relative = path.relative_to(output).as_posix()
    return "/" + (relative[: -len("index.html")] if relative.endswith("index.html") else relative)


def target_file(output: Path, url_path: str) -> Path:
    path = output / unquote(url_path).lstrip("/")
    return path / "index.html" if url_path.endswith("/") or path.is_dir() else path


@cache
def ids_of(path: Path) -> frozenset[str]:
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    return frozenset(
        [tag["id"] for tag in soup.find_all(id=True)]
        + [tag["name"] for tag in soup.find_all("a", attrs={"name": True})]
    )


def internal_links(output: Path, path: Path, bases: list[str]) -> list[tuple[str, str]]:
    """(original URL, site-relative URL) for every link in a file that points into the site."""
    text = path.read_text(encoding="utf-8", errors="replace")
    found = []
    if path.suffix == ".html":
        soup = BeautifulSoup(text, "html.parser")
        here = page_url(output, path)
        for tag in soup.find_all(True):
            for attribute in ATTRIBUTES:
                url = tag.get(attribute)
                if not url or url.startswith(("mailto:", "tel:", "data:", "javascript:")):
                    continue
                if re.match(r"^[a-z][a-z0-9+.-]*:", url, flags=re.I):
                    found += [(url, "/" + url[len(b) :]) for b in bases if url.startswith(b)]
                else:
                    found.append((url, urljoin(here, url)))
    else:
        # JSON escapes quotes inside its strings: look for URLs in the decoded strings
        strings = json_strings(json.loads(text)) if path.suffix == ".json" else [text]
        for url in (u for s in strings for u in ABSOLUTE_URL.findall(s)):
            found += [(url, "/" + url[len(b) :]) for b in bases if url.startswith(b)]
    # placeholders the sender fills per subscriber are not links yet
    return [(url, local) for url, local in found if "%%" not in url]


def json_strings(value) -> list[str]:
    """Every string inside a parsed JSON document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for item in value for s in json_strings(item)] if isinstance(value, list) else []


def checked_files(output: Path) -> list[Path]:
    suffixes = {".html", ".xml", ".json", ".txt", ".eml"}
    return sorted(p for p in output.rglob("*") if p.is_file() and p.suffix in suffixes)


def test_the_full_site_builds_without_errors(full_site):
    assert full_site.errors == []


def test_every_internal_link_resolves_to_a_file_and_anchor(full_site):
    output = full_site.output
    bases = site_bases(full_site.settings)
    broken = []
    for path in checked_files(output):
        for url, local in internal_links(output, path, bases):
            parts = urlsplit(local)
            target = target_file(output, parts.path) if parts.path else path
            if not target.is_file():
                broken.append(
                    f"{path.relative_to(output)}: {url} -> no file {target.relative_to(output)}"
                )
            elif (
                parts.fragment
                and target.suffix == ".html"
                and unquote(parts.fragment) not in ids_of(target)
            ):
                broken.append(f"{path.relative_to(output)}: {url} -> no #{parts.fragment}")
    assert broken == []


def test_no_page_is_orphaned(full_site):
    output = full_site.output
    bases = site_bases(full_site.settings)
    seen = {output / "index.html"}
    queue = deque(seen)
    while queue:
        page = queue.popleft()
        for _, local in internal_links(output, page, bases):
            target = target_file(output, urlsplit(local).path)
            if target.suffix == ".html" and target.is_file() and target not in seen:
                seen.add(target)
                queue.append(target)
    pages = {p for p in output.rglob("*.html")}
    orphans = sorted(
        p.relative_to(output).as_posix()
        for p in pages - seen
        if p.relative_to(output).as_posix() not in UNLINKED_ON_PURPOSE
        and not p.relative_to(output).as_posix().startswith(UNLINKED_FOLDERS)
    )
    assert orphans == []
    assert len(seen) > 10


@pytest.mark.parametrize(
    "url", ["/2009/09/make-this-the-week-of-encounter/", "/archives/", "/about/"]
)
def test_key_pages_are_built(full_site, url):
    assert target_file(full_site.output, url).is_file()
