"""The legacy importer: seeds parsed faithfully into Markdown posts and comment files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import markdown
import pytest
from bs4 import BeautifulSoup

from encounter_habit.legacy import import_legacy
from encounter_habit.legacy.importer import main, parse_dump_file

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
SEEDS = FIXTURES / "seeds"
OVERRIDES = Path(__file__).resolve().parent.parent / "content" / "legacy-overrides.toml"
SEED_NAMES = sorted(path.name for path in SEEDS.glob("*.txt"))
LIST_MARKER = re.compile(r"^\s*(?:[•\-*+]|\d+[.)])\s+", re.MULTILINE)
SITE_MARKDOWN = [  # the site's Markdown extensions (pelicanconf MARKDOWN), smarty included
    "markdown.extensions.extra",
    "markdown.extensions.meta",
    "markdown.extensions.toc",
    "encounter_habit.smarty",
    "encounter_habit.backticks",
]

# Counted by hand from the seeds: (author, ISO date, replies) in dump order.
SEED_TREES = {
    "000_56cac8401c5a3c04.txt": [
        ("Amanda Cullen", "2009-09-21T09:14:00", []),
        ("Tom McCallum", "2009-09-21T09:36:00", []),
        ("Steve Yastrow", "2009-09-21T20:14:00", []),
        ("Tom McCallum", "2009-09-21T20:40:00", []),
    ],
    "001_d094ebca0f65a2d7.txt": [
        ("Michael", "2008-02-07T12:35:00", [("Steve Yastrow", "2008-02-07T18:41:00", [])]),
        ("Dave Navarro - Million Dollar Leverage", "2008-02-07T16:40:00", []),
        ("Steve Yastrow", "2008-02-07T18:42:00", []),
        (
            "omer rosen",
            "2008-02-08T03:08:00",
            [
                (
                    "Steve Yastrow",
                    "2008-02-08T07:06:00",
                    [("omer rosen", "2008-02-08T13:35:00", [])],
                )
            ],
        ),
        ("David", "2008-02-08T06:38:00", [("Steve Yastrow", "2008-02-11T04:18:00", [])]),
        (
            "Greg Balanko-Dickson",
            "2008-02-08T11:36:00",
            [("Steve Yastrow", "2008-02-08T16:39:00", [])],
        ),
        ("Richard Morton", "2008-02-08T12:51:00", [("Steve Yastrow", "2008-02-11T04:16:00", [])]),
        ("Greg Balanko-Dickson", "2008-02-08T18:37:00", []),
        (
            "Mary Schmidt Marketing Troubleshooter » Do You “Service” Or Care?",
            "2008-03-05T09:39:00",
            [],
        ),
    ],
    "002_6d3371c2770d8853.txt": [("Susie Dias", "2008-05-27T07:34:00", [])],
    "003_42d3c8ad3e218974.txt": [
        ("Amanda Cullen", "2009-03-31T10:54:00", []),
        ("Andy Thorp", "2009-04-03T01:17:00", []),
    ],
    "004_16e02774de33a5ab.txt": [("Agenda Software", "2011-11-05T03:17:00", [])],
}
SEED_COMMENT_FILES = {"000": 4, "001": 15, "002": 1, "003": 2, "004": 1}


def read_header(path: Path) -> dict[str, str]:
    """The 'Key: value' header of an imported file, keys lower-cased."""
    header = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line:
            break
        key, _, value = line.partition(": ")
        header[key.lower()] = value
    return header


def body_of(path: Path) -> str:
    """The Markdown body of an imported file (after the header's blank line)."""
    return path.read_text(encoding="utf-8").split("\n\n", 1)[1]


def rendered_text(text: str, extensions: list[str]) -> str:
    """Whitespace-normalised text of Markdown rendered to HTML."""
    html = markdown.Markdown(extensions=extensions).convert(text)
    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def dump_text(lines: list[str]) -> str:
    """Whitespace-normalised dump text, list markers removed (they become <ol>/<ul>)."""
    return " ".join(LIST_MARKER.sub("", "\n".join(lines)).split())


def comment_tree(folder: Path) -> list[tuple]:
    """Rebuild (author, date, replies) trees from the imported comment files."""
    headers = {path.stem: read_header(path) for path in sorted(folder.glob("*.md"))}
    children: dict[str | None, list[str]] = {}
    for cid, header in headers.items():
        children.setdefault(header.get("reply-to"), []).append(cid)

    def build(parent: str | None) -> list[tuple]:
        return [
            (headers[cid]["author"], headers[cid]["date"], build(cid))
            for cid in children.get(parent, [])
        ]

    return build(None)


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    """All five seeds imported with the committed overrides into tmp_path/content."""
    content = tmp_path / "content"
    report = import_legacy(sorted(SEEDS.glob("*.txt")), content, OVERRIDES)
    assert report.errors == []
    return content


def slug_of(content: Path, seed: str) -> str:
    """The slug the importer gave to a seed (read from the Legacy-Source of each post)."""
    for post in (content / "posts").glob("*.md"):
        if read_header(post)["legacy-source"] == seed:
            return post.stem
    raise AssertionError(f"no post imported from {seed}")


@pytest.mark.parametrize("seed", SEED_NAMES)
def test_each_seed_gives_the_hand_counted_reply_tree(imported: Path, seed: str) -> None:
    folder = imported / "comments" / slug_of(imported, seed)
    assert comment_tree(folder) == SEED_TREES[seed]
    assert len(list(folder.glob("*.md"))) == SEED_COMMENT_FILES[seed[:3]]


def test_hour_already_on_24_hour_clock_is_not_shifted_again(imported: Path) -> None:
    folder = imported / "comments" / slug_of(imported, "001_d094ebca0f65a2d7.txt")
    assert read_header(folder / "comment-002.md")["date"] == "2008-02-07T18:41:00"
    assert read_header(folder / "comment-001.md")["date"] == "2008-02-07T12:35:00"


def test_only_the_pingback_is_typed_pingback(imported: Path) -> None:
    types = {path.name: read_header(path)["type"] for path in (imported / "comments").rglob("*.md")}
    pingbacks = [name for name, kind in types.items() if kind == "pingback"]
    assert pingbacks == ["comment-015.md"]
    assert set(types.values()) == {"comment", "pingback"}


def test_typepad_comment_is_split_from_the_body(imported: Path) -> None:
    slug = slug_of(imported, "004_16e02774de33a5ab.txt")
    comment = imported / "comments" / slug / "comment-001.md"
    assert body_of(comment) == "An idea can change your life sir g ;)\n"
    post_body = body_of(imported / "posts" / f"{slug}.md")
    assert "sir g" not in post_body
    assert post_body.rstrip().endswith("to donate if you can.")


def test_body_bullets_without_a_date_line_become_real_lists(imported: Path) -> None:
    html = markdown.markdown(body_of(imported / "posts" / "make-this-the-week-of-encounter.md"))
    soup = BeautifulSoup(html, "html.parser")
    assert len(soup.find("ol").find_all("li")) == 3
    items = [li.get_text() for li in soup.find("ul").find_all("li")]
    assert items[0] == "Chapter 2 in my book, We: The Ideal Customer Relationship."
    assert len(items) == 4


@pytest.mark.parametrize("seed", SEED_NAMES)
def test_rendered_post_and_comments_have_exactly_the_dump_text(imported: Path, seed: str) -> None:
    parsed = parse_dump_file(SEEDS / seed)
    slug = slug_of(imported, seed)
    post = body_of(imported / "posts" / f"{slug}.md")
    assert rendered_text(post, SITE_MARKDOWN) == dump_text(parsed.body)
    files = sorted((imported / "comments" / slug).glob("*.md"))
    for path, comment in zip(files, parsed.comments, strict=True):
        assert rendered_text(body_of(path), ["nl2br"]) == dump_text(comment.lines)


def test_title_line_is_used_only_when_it_reads_like_a_title() -> None:
    titles = {name: parse_dump_file(SEEDS / name).title for name in SEED_NAMES}
    assert titles == {
        "000_56cac8401c5a3c04.txt": "Make this the Week of Encounter",
        "001_d094ebca0f65a2d7.txt": None,
        "002_6d3371c2770d8853.txt": None,
        "003_42d3c8ad3e218974.txt": "Recalibrating Customer Interactions",
        "004_16e02774de33a5ab.txt": None,
    }


def test_post_metadata_comes_from_dump_and_overrides(imported: Path) -> None:
    week = read_header(imported / "posts" / "make-this-the-week-of-encounter.md")
    assert week["title"] == "Make this the Week of Encounter"
    assert week["week"] == "Encounter"
    assert week["author"] == "Steve Yastrow"
    assert week["date"] == "2009-09-21 09:14"  # earliest comment
    assert week["date-inferred"] == "true"
    review = read_header(imported / "posts" / f"{slug_of(imported, '004_16e02774de33a5ab.txt')}.md")
    assert review["author"] == "Bud Bilanich"
    assert "book review" in review["tags"].split(", ")


def test_date_override_is_used_and_not_marked_inferred(tmp_path: Path) -> None:
    overrides = tmp_path / "o.yaml"
    overrides.write_text(
        '"003_42d3c8ad3e218974.txt":\n  date: "2009-03-30 08:00"\n  mood: hopeful\n',
        encoding="utf-8",
    )
    report = import_legacy([SEEDS / "003_42d3c8ad3e218974.txt"], tmp_path / "c", overrides)
    assert report.errors == []
    header = read_header(tmp_path / "c" / "posts" / "recalibrating-customer-interactions.md")
    assert header["date"] == "2009-03-30 08:00"
    assert "date-inferred" not in header
    assert header["mood"] == "hopeful"


def test_dump_without_title_or_override_is_reported(tmp_path: Path) -> None:
    report = import_legacy([SEEDS / "002_6d3371c2770d8853.txt"], tmp_path / "c")
    assert len(report.errors) == 1
    assert report.errors[0].startswith("002_6d3371c2770d8853.txt:1: ")
    assert "title" in report.errors[0]


def test_email_in_a_commenter_name_is_never_written(tmp_path: Path) -> None:
    import_legacy([FIXTURES / "tricky.txt"], tmp_path / "c")
    folder = tmp_path / "c" / "comments" / "tricky-characters"
    written = "".join(path.read_text(encoding="utf-8") for path in folder.glob("*.md"))
    assert "@example.com" not in written
    assert read_header(folder / "comment-001.md")["author"] == "Jane Doe"
    assert read_header(folder / "comment-002.md")["author"] == "Anonymous"


def test_markdown_syntax_in_the_dump_stays_literal_text(tmp_path: Path) -> None:
    import_legacy([FIXTURES / "tricky.txt"], tmp_path / "c")
    post = body_of(tmp_path / "c" / "posts" / "tricky-characters.md")
    soup = BeautifulSoup(markdown.Markdown(extensions=SITE_MARKDOWN).convert(post), "html.parser")
    assert [tag.name for tag in soup.find_all(True)] == ["p"] + ["br"] * 8
    parsed = parse_dump_file(FIXTURES / "tricky.txt")
    assert rendered_text(post, SITE_MARKDOWN) == " ".join("\n".join(parsed.body).split())
    comment = body_of(tmp_path / "c" / "comments" / "tricky-characters" / "comment-001.md")
    html = BeautifulSoup(markdown.markdown(comment, extensions=["nl2br"]), "html.parser")
    assert html.find("p").get_text() == "Line one\nline two *still plain*"
    assert [li.get_text() for li in html.find_all("li")] == ["a real list item", "another"]


def test_reimport_writes_byte_identical_files(imported: Path, tmp_path: Path) -> None:
    before = {path: path.read_bytes() for path in imported.rglob("*.md")}
    report = import_legacy(sorted(SEEDS.glob("*.txt")), imported, OVERRIDES)
    assert report.errors == [] and report.written == []
    assert len(report.unchanged) == len(before) == 28
    assert {path: path.read_bytes() for path in imported.rglob("*.md")} == before


def test_committed_content_matches_a_fresh_import(imported: Path) -> None:
    committed = OVERRIDES.parent
    for path in imported.rglob("*.md"):
        assert path.read_bytes() == (committed / path.relative_to(imported)).read_bytes()


def test_edited_file_is_never_overwritten_without_force(imported: Path) -> None:
    edited = imported / "comments" / "recalibrating-customer-interactions" / "comment-002.md"
    edited.write_text(
        edited.read_text(encoding="utf-8") + "\nAn editor's note.\n", encoding="utf-8"
    )
    seed = SEEDS / "003_42d3c8ad3e218974.txt"
    others = [SEEDS / "000_56cac8401c5a3c04.txt"]
    report = import_legacy([seed, *others], imported, OVERRIDES)
    assert len(report.errors) == 1
    assert "comment-002.md" in report.errors[0] and "--force" in report.errors[0]
    assert "An editor's note." in edited.read_text(encoding="utf-8")
    assert report.posts == 1  # the other dump still went through
    forced = import_legacy([seed], imported, OVERRIDES, force=True)
    assert forced.errors == []
    assert "An editor's note." not in edited.read_text(encoding="utf-8")


def test_changed_dump_replaces_pristine_files_and_removes_stale_comments(tmp_path: Path) -> None:
    dump = tmp_path / "post.txt"
    shutil.copy(FIXTURES / "tricky.txt", dump)
    content = tmp_path / "c"
    import_legacy([dump], content)
    text = dump.read_text(encoding="utf-8")
    dump.write_text(text[: text.index("    • mailto")] + "Leave A Reply", encoding="utf-8")
    report = import_legacy([dump], content)
    assert report.errors == []
    assert [path.name for path in report.removed] == ["comment-002.md"]


@pytest.mark.parametrize(
    ("dump", "line", "words"),
    [
        ("no_body.txt", 2, "no body text"),
        ("bad_date.txt", 6, "cannot parse date 'Feb 30, 2009 - 09:14 am'"),
        ("orphan_reply.txt", 10, "has no parent comment"),
    ],
)
def test_unreadable_dump_gets_one_line_and_the_others_still_import(
    tmp_path: Path, dump: str, line: int, words: str
) -> None:
    dumps = [FIXTURES / dump, SEEDS / "003_42d3c8ad3e218974.txt"]
    report = import_legacy(dumps, tmp_path / "c")
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"{dump}:{line}: ")
    assert words in report.errors[0]
    assert "\n" not in report.errors[0]
    assert (tmp_path / "c" / "posts" / "recalibrating-customer-interactions.md").exists()


def test_command_line_prints_one_line_per_error_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [str(FIXTURES / "bad_date.txt"), str(SEEDS / "003*.txt"), "--content", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: bad_date.txt:6: ")
    assert "imported 1 posts with 2 comments" in out


def test_broken_overrides_file_is_one_line_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "o.toml"
    broken.write_text('["000.txt"]\ntitle = \n', encoding="utf-8")
    report = import_legacy([SEEDS / "000_56cac8401c5a3c04.txt"], tmp_path / "c", broken)
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"{broken}: invalid TOML")
