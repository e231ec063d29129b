"""Turn dumps into content/posts/<slug>.md and content/comments/<slug>/comment-NNN.md files.

Every file is planned for a dump first and written only if the whole dump is readable and no file
it would replace was edited by hand since the last import (a checksum in the header tells).
"""

from __future__ import annotations

import argparse
import glob
import logging
import re
import shlex
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dump import DumpError, ParsedDump
from .overrides import CONTROL_KEYS, OverridesError, load_overrides, override_date
from .typepad import is_typepad, parse_typepad
from .wordpress import parse_wordpress
from .writer import comment_markdown, document, is_pristine, post_markdown

logger = logging.getLogger(__name__)

POSTS_DIR = "posts"
COMMENTS_DIR = "comments"
DATE_FORMAT = "%Y-%m-%d %H:%M"
# Header keys the importer writes itself, in this order; any other override follows, sorted.
KNOWN_KEYS = ("title", "slug", "date", "author", "tags")


@dataclass
class ImportReport:
    """What an import did: files written, files already identical, files removed, errors."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    posts: int = 0
    comments: int = 0


def slugify(text: str) -> str:
    """ASCII, lower-case, hyphen-separated slug, as Pelican makes from a title."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"['’]", "", ascii_text.lower())
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def parse_dump_file(path: Path, title_line: bool | None = None) -> ParsedDump:
    """Read one dump and parse it in whichever of the two shapes it has."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DumpError(path.name, line, "is not UTF-8 text; re-save the dump as UTF-8") from None
    except OSError as exc:
        raise DumpError(path.name, None, f"cannot read the dump ({exc.strerror})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if is_typepad(text):
        return parse_typepad(path.name, text, title_line)
    return parse_wordpress(path.name, text, title_line)


def comment_ids(count: int) -> list[str]:
    """Stable ids in dump order: comment-001, comment-002, ..."""
    width = max(3, len(str(count)))
    return [f"comment-{n:0{width}d}" for n in range(1, count + 1)]


def post_header(parsed: ParsedDump, fields: dict[str, Any]) -> tuple[str, list[tuple[str, Any]]]:
    """Return (slug, header lines) for the post, from the dump and its overrides."""
    title = fields.get("title") or parsed.title
    if not title:
        raise DumpError(
            parsed.name,
            parsed.body_line,
            f'first line does not read like a title; add title = "..." under '
            f'["{parsed.name}"] in the overrides file',
        )
    slug = str(fields.get("slug") or slugify(str(title)))
    header: list[tuple[str, Any]] = [("Title", title), ("Slug", slug)]
    if "date" in fields:
        try:
            header.append(
                ("Date", override_date(fields["date"], parsed.name).strftime(DATE_FORMAT))
            )
        except ValueError as exc:
            raise DumpError(parsed.name, None, str(exc).split(": ", 1)[1]) from None
    elif parsed.comments:
        earliest = min(comment.date for comment in parsed.comments)
        header += [("Date", earliest.strftime(DATE_FORMAT)), ("Date-Inferred", True)]
    else:
        raise DumpError(
            parsed.name,
            None,
            f"the post has no date and no comment to infer it from; add date = "
            f'"YYYY-MM-DD HH:MM" under ["{parsed.name}"] in the overrides file',
        )
    for key in ("author", "tags"):
        if fields.get(key):
            header.append((key.capitalize(), fields[key]))
    for key in sorted(set(fields) - set(KNOWN_KEYS) - CONTROL_KEYS):
        header.append(("-".join(part.capitalize() for part in key.split("-")), fields[key]))
    header.append(("Legacy-Source", parsed.name))
    return slug, header


def plan_files(
    parsed: ParsedDump, fields: dict[str, Any], content: Path
) -> tuple[str, dict[Path, str]]:
    """Return (slug, {path: text}) for the post and each of its comments."""
    if not any(line.strip() for line in parsed.body):
        raise DumpError(
            parsed.name,
            parsed.body_line,
            "no body text before the comments; a dump needs the post's text",
        )
    slug, header = post_header(parsed, fields)
    files = {content / POSTS_DIR / f"{slug}.md": document(header, post_markdown(parsed.body))}
    ids = comment_ids(len(parsed.comments))
    for number, comment in enumerate(parsed.comments):
        comment_header: list[tuple[str, Any]] = [
            ("Author", comment.author),
            ("Date", comment.date.isoformat()),
        ]
        if comment.parent is not None:
            comment_header.append(("Reply-To", ids[comment.parent]))
        comment_header.append(("Type", "pingback" if comment.pingback else "comment"))
        path = content / COMMENTS_DIR / slug / f"{ids[number]}.md"
        files[path] = document(comment_header, comment_markdown(comment.lines))
    return slug, files


def shown(path: Path) -> str:
    """A path relative to the working directory when possible, for messages."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def apply_plan(
    dump: str, slug: str, files: dict[Path, str], content: Path, force: bool, report: ImportReport
) -> None:
    """Write the planned files, removing stale imported comments; refuse to clobber edits."""
    comment_dir = content / COMMENTS_DIR / slug
    stale = (
        [p for p in sorted(comment_dir.glob("*.md")) if p not in files]
        if comment_dir.is_dir()
        else []
    )
    edited = []
    for path in [*files, *stale]:
        if not path.exists():
            continue
        old = path.read_text(encoding="utf-8")
        if old != files.get(path) and not is_pristine(old):
            edited.append(path)
    if edited and not force:
        more = f" (and {len(edited) - 1} more)" if len(edited) > 1 else ""
        raise DumpError(
            dump,
            None,
            f"refusing to overwrite {shown(edited[0])}{more}: edited since the last import; "
            "keep the edit, or re-run with --force to replace it",
        )
    for path, text in files.items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            report.unchanged.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        report.written.append(path)
    for path in stale:
        path.unlink()
        report.removed.append(path)


def import_legacy(
    dumps: list[Path], content: Path, overrides: Path | None = None, force: bool = False
) -> ImportReport:
    """Import each dump into `content`; a dump that fails adds one error line, the rest go on."""
    report = ImportReport()
    try:
        table = load_overrides(overrides)
    except OverridesError as exc:
        report.errors.append(str(exc))
        return report
    slugs: dict[str, str] = {}
    for dump in dumps:
        fields = table.get(dump.name, {})
        try:
            parsed = parse_dump_file(dump, fields.get("title-line"))
            slug, files = plan_files(parsed, fields, content)
            if slug in slugs:
                raise DumpError(
                    dump.name,
                    None,
                    f"slug {slug!r} is already used by {slugs[slug]}; set a different slug "
                    "in the overrides file",
                )
            apply_plan(dump.name, slug, files, content, force, report)
        except DumpError as exc:
            report.errors.append(str(exc))
            continue
        slugs[slug] = dump.name
        report.posts += 1
        report.comments += len(parsed.comments)
    return report


def expand_dumps(patterns: list[str]) -> list[Path]:
    """Expand shell-style globs and whitespace-separated lists into sorted dump paths."""
    paths: list[Path] = []
    for pattern in patterns:
        for word in shlex.split(pattern):
            matches = sorted(glob.glob(word))
            paths.extend(Path(match) for match in (matches or [word]))
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: import dumps, print a summary and one line per error; 1 if any failed."""
    parser = argparse.ArgumentParser(prog="import-legacy", description=__doc__.splitlines()[0])
    parser.add_argument("dumps", nargs="+", help="dump files or globs")
    parser.add_argument("--content", default="content", help="content directory (default: content)")
    parser.add_argument("--overrides", help="overrides file, TOML or YAML, keyed by dump file name")
    parser.add_argument("--force", action="store_true", help="overwrite files edited since import")
    args = parser.parse_args(argv)
    report = import_legacy(
        expand_dumps(args.dumps),
        Path(args.content),
        Path(args.overrides) if args.overrides else None,
        force=args.force,
    )
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    print(
        f"imported {report.posts} posts with {report.comments} comments: "
        f"{len(report.written)} written, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed"
    )
    return 1 if report.errors else 0
