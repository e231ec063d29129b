"""The comments plugin: comment files rendered as a threaded, sanitised, machine-readable archive."""

from __future__ import annotations

import functools
import importlib.util
import random
from pathlib import Path

import markdown
import nh3
import pytest
from bs4 import Tag
from pelican.settings import read_settings

from encounter_habit.legacy import import_legacy

ROOT = Path(__file__).resolve().parent.parent
SEEDS = Path(__file__).parent / "fixtures" / "legacy" / "seeds"
PLUGINS = [*dict.fromkeys([*read_settings(str(ROOT / "pelicanconf.py"))["PLUGINS"], "comments"])]
POST_URL = "2009/09/a-post/index.html"
COMMENT = "https://schema.org/Comment"
XSS_PAYLOADS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)" onclick="alert(2)">click</a>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<svg onload=alert(1)></svg>",
    '<iframe src="https://evil.example/"></iframe>',
    "[link](javascript:alert(1))",
    '<div onmouseover="alert(1)">hover</div>',
    "<style>body{display:none}</style>",
]


def comment(site, name: str, author: str, date: str, body: str, **header: str) -> None:
    """Write one comment file for the post 'a-post'."""
    lines = [f"Author: {author}", f"Date: {date}"]
    lines += [f"{key.replace('_', '-').title()}: {value}" for key, value in header.items()]
    site.write(f"comments/a-post/{name}.md", "\n".join(lines) + "\n\n" + body + "\n")


def thread_of(element: Tag) -> list[tuple[str, list]]:
    """(comment id, replies) for each direct comment of a thread element."""
    replies = element.find("ol", class_="comment-thread", recursive=False)
    items = replies.find_all("li", recursive=False) if replies else []
    return [(li["id"], thread_of(li)) for li in items]


@pytest.fixture
def threaded(site):
    """A post by Steve Yastrow with a three-level thread, out of date order on disk."""
    site.post("a-post", author="Steve Yastrow")
    comment(site, "c1", "Amanda Cullen", "2009-09-21T09:14:00", "First.")
    comment(site, "c2", "Tom McCallum", "2009-09-21T08:00:00", "Earlier, so shown first.")
    comment(site, "c3", "  steve   YASTROW ", "2009-09-21T20:14:00", "Reply.", reply_to="c1")
    comment(site, "c4", "Amanda Cullen", "2009-09-22T10:00:00", "Reply to reply.", reply_to="c3")
    comment(site, "c5", "Tom McCallum", "2009-09-21T12:00:00", "Earlier reply.", reply_to="c1")
    comment(
        site,
        "c6",
        "Blog » A post about us",
        "2009-09-23T10:00:00",
        "\\[…\\] excerpt \\[…\\]",
        type="pingback",
    )
    return site


def test_replies_nest_under_their_parent_in_date_order(threaded) -> None:
    report = threaded.build(PLUGINS=PLUGINS)
    assert report.errors == []
    section = threaded.soup(POST_URL).find(id="comments")
    assert thread_of(section) == [
        ("c2", []),
        ("c1", [("c5", []), ("c3", [("c4", [])])]),
    ]


def test_every_comment_is_schema_org_microdata_with_nested_replies(threaded) -> None:
    threaded.build(PLUGINS=PLUGINS)
    section = threaded.soup(POST_URL).find(id="comments")
    c1 = section.find(id="c1")
    assert c1["itemtype"] == COMMENT and c1.has_attr("itemscope")
    assert not c1.has_attr("itemprop")  # a top-level comment is not a property of anything
    author = c1.find(itemprop="author")
    assert author.get_text(strip=True) == "Amanda Cullen"
    created = c1.find("time", itemprop="dateCreated")
    assert created["datetime"] == "2009-09-21T09:14:00"
    assert c1.find(itemprop="text").get_text(strip=True) == "First."
    c3 = section.find(id="c3")
    assert c3["itemprop"] == "comment" and c3["itemtype"] == COMMENT
    assert c3.find_parent("li", itemscope=True) is c1
    assert c3.find_parent("li").find(itemprop="author").get_text(strip=True) == "Amanda Cullen"


def test_each_comment_has_a_permalink_anchor(threaded) -> None:
    threaded.build(PLUGINS=PLUGINS)
    section = threaded.soup(POST_URL).find(id="comments")
    for cid in ("c1", "c2", "c3", "c4", "c5"):
        link = section.find(id=cid).find("a", class_="comment__permalink")
        assert link["href"] == f"#{cid}"


def test_replies_by_the_post_author_are_marked(threaded) -> None:
    threaded.build(PLUGINS=PLUGINS)
    section = threaded.soup(POST_URL).find(id="comments")
    marked = [li["id"] for li in section.find_all("li", class_="comment--by-author")]
    assert marked == ["c3"]
    assert section.find(id="c3").find(class_="comment__badge").get_text() == "Author"


def test_count_on_the_post_and_in_listings_excludes_pingbacks(threaded) -> None:
    threaded.build(PLUGINS=PLUGINS)
    page = threaded.soup(POST_URL)
    assert page.find(id="comments-heading").get_text(strip=True) == "5 comments"
    listing = threaded.soup("index.html")
    link = listing.find("a", href="/2009/09/a-post/#comments")
    assert link.get_text(strip=True) == "5 comments"


def test_pingbacks_are_listed_apart_as_mentioned_on(threaded) -> None:
    threaded.build(PLUGINS=PLUGINS)
    section = threaded.soup(POST_URL).find(id="comments")
    mentions = section.find("section", class_="mentions")
    assert mentions.find("h3").get_text() == "Mentioned on"
    assert [li["id"] for li in mentions.find_all("li")] == ["c6"]
    assert section.find("ol", class_="comment-thread").find(id="c6") is None


def test_leave_a_reply_says_the_archive_is_closed_and_offers_email(threaded) -> None:
    threaded.build(PLUGINS=PLUGINS, COMMENTS={"reply_email": "steve@example.com"})
    reply = threaded.soup(POST_URL).find(id="reply")
    assert reply.find_parent(id="comments") is not None
    assert "closed to new comments" in reply.get_text()
    assert reply.find("a")["href"].startswith("mailto:steve@example.com?subject=Re%3A")


def test_comment_body_keeps_line_breaks_and_marks_links_nofollow(site) -> None:
    site.post("a-post")
    comment(
        site, "c1", "Omer", "2008-02-08T03:08:00", "Hi Steve,\nsee [my site](https://e.example/)"
    )
    site.build(PLUGINS=PLUGINS)
    text = site.soup(POST_URL).find(id="c1").find(itemprop="text")
    assert text.find("br") is not None
    assert text.find("a")["rel"] == ["nofollow", "ugc", "noopener"]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_untrusted_comment_html_comes_out_inert(site, payload: str) -> None:
    site.post("a-post")
    comment(site, "c1", "Mallory <b onclick=x>", "2009-09-21T09:14:00", payload)
    site.build(PLUGINS=PLUGINS)
    section = site.soup(POST_URL).find(id="comments")
    for tag in section.find_all(True):
        assert tag.name not in {"script", "style", "iframe", "svg", "img"}
        for attribute, value in tag.attrs.items():
            assert not attribute.startswith("on"), (tag.name, attribute)
            assert attribute != "style" or "comment" not in " ".join(tag.get("class", []))
            assert "javascript:" not in str(value).lower()
    text = section.find(id="c1").find(itemprop="text")
    assert all(tag.name in {"p", "br", "a", "em", "strong"} for tag in text.find_all(True))
    assert not any(tag.has_attr("style") for tag in text.find_all(True))


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ({"date": "yesterday"}, "bad Date 'yesterday'"),
        ({"author": ""}, "no Author"),
        ({"reply_to": "nobody"}, "Reply-To 'nobody' names no comment"),
    ],
)
def test_bad_comment_file_gets_one_line_and_is_still_shown(site, header, problem) -> None:
    site.post("a-post")
    comment(site, "ok", "Amanda", "2009-09-21T09:14:00", "Fine.")
    fields = {"author": "Tom", "date": "2009-09-21T10:00:00", **header}
    lines = [f"Author: {fields['author']}", f"Date: {fields['date']}"]
    if "reply_to" in fields:
        lines.append(f"Reply-To: {fields['reply_to']}")
    site.write("comments/a-post/bad.md", "\n".join(lines) + "\n\nStill here.\n")
    report = site.build(PLUGINS=PLUGINS)
    mine = [line for line in report.errors if "comments/" in line or "a-post/bad.md" in line]
    assert len(mine) == 1 and "a-post/bad.md" in mine[0] and problem in mine[0]
    section = site.soup(POST_URL).find(id="comments")
    assert sorted(li["id"] for li in section.find("ol").find_all("li", recursive=False)) == [
        "bad",
        "ok",
    ]


def test_replies_that_loop_are_shown_at_the_top_level(site) -> None:
    site.post("a-post")
    comment(site, "a", "Amanda", "2009-09-21T09:14:00", "A.", reply_to="b")
    comment(site, "b", "Tom", "2009-09-21T10:00:00", "B.", reply_to="a")
    report = site.build(PLUGINS=PLUGINS)
    assert any("loop" in line for line in report.errors)
    ids = [li["id"] for li in site.soup(POST_URL).find(id="comments").find_all("li")]
    assert sorted(ids) == ["a", "b"]


def test_imported_seeds_render_with_their_threads(site) -> None:
    overrides = ROOT / "content" / "legacy-overrides.toml"
    import_legacy(sorted(SEEDS.glob("*.txt")), site.content, overrides)
    report = site.build(PLUGINS=PLUGINS)
    assert report.errors == []
    week = site.soup("2009/09/make-this-the-week-of-encounter/index.html")
    assert week.find(id="comments-heading").get_text(strip=True) == "4 comments"
    slug = "ask-yourself-this-question-did-our-relationship-improve"
    page = site.soup(f"2008/02/{slug}/index.html").find(id="comments")
    assert page.find(id="comments-heading").get_text(strip=True) == "14 comments"
    deepest = page.find(id="comment-007")  # omer rosen answering Steve answering omer rosen
    parents = [li["id"] for li in deepest.find_parents("li")]
    assert parents == ["comment-006", "comment-005"]
    assert page.find("section", class_="mentions").find(id="comment-015") is not None
    review = site.soup(
        "2011/11/us-and-them-or-we-a-review-of-we-the-ideal-customer-relationship/index.html"
    )
    typepad = review.find(id="comment-001")
    assert typepad.find(itemprop="author").get_text(strip=True) == "Agenda Software"
    assert typepad.find("time")["datetime"] == "2011-11-05T03:17:00"


def test_rebuilding_in_one_process_never_doubles_a_reply(site):
    """livereload builds again and again in one process, from the comment cache."""
    site.post("threaded", "Threaded")
    site.write("comments/threaded/c1.md", "Author: Ann\nDate: 2009-09-22T10:00:00\n\nFirst.\n")
    site.write(
        "comments/threaded/c2.md",
        "Author: Bob\nDate: 2009-09-22T11:00:00\nReply-To: c1\n\nReply.\n",
    )
    post = site.content / "posts/threaded.md"
    for round_ in range(3):
        post.write_text(post.read_text() + f"\nRound {round_}.\n")  # the page is made again
        site.build()
    soup = site.soup("2009/09/threaded/index.html")
    assert "Round 2." in soup.get_text()
    assert len(soup.select('[itemtype="https://schema.org/Comment"]')) == 2


# -- the plain-prose fast path ------------------------------------------------------------------
# Most comments are plain prose; for those the plugin skips Markdown and makes the paragraphs and
# line breaks itself. These tests hold it to the bytes the full pipeline makes.

# Pieces of comment bodies: plain words and punctuation, and everything that should send a body
# down the full pipeline (Markdown syntax, odd whitespace, digits and markers at line starts).
PLAIN_PIECES = [
    "word",
    "Steve",
    "encounter",
    "café",
    "Ünïcödé",
    "日本語",
    "2009",
    "٣",
    "½",
    "e\u0301",
    "🙂",
    "’",
    "“quoted”",
    "…",
    "–",
    "—",
    "(aside)",
    "it's",
    '"said"',
    "a/b",
    "100%",
    "$5",
    "me@example.com",
    "http://example.com/x?y=1",
    "1+1=2",
    "~",
    ".",
    ",",
    ";",
    ":",
    "?",
    "!",
    "-",
]
SYNTAX_PIECES = [
    "*em*",
    "_em_",
    "**strong**",
    "`code`",
    "\\*",
    "[link](https://e.example/)",
    "![img](x.png)",
    "<b>bold</b>",
    "<https://e.example/>",
    "&amp;",
    "&",
    "AT&T",
    "#",
    ">",
    "<",
    "|",
    "{x}",
    "^",
    "\t",
    "\xa0",
    "\u2028",
    "\u200b",
    "\x0c",
    "\r",
    "\x02",
    "  ",
]
LINE_STARTS = ["", "", "", "", "- ", "* ", "+ ", "1. ", "2009. ", "٣. ", "# ", "> ", "    ", " "]
LINE_ENDS = ["", "", "", "", " ", "  ", "\t"]
SPECIAL_LINES = ["---", "===", "***", "- - -", "", " ", "[x]: https://e.example/"]


def generated_bodies(count: int, seed: int = 6) -> list[str]:
    """Random plain-prose bodies, most of them then spoilt in one place, so that each way a body
    can stop being plain is tried on its own."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        lines = []
        for _ in range(rng.randint(0, 6)):
            if rng.random() < 0.25:
                lines.append("")  # a paragraph break
            else:
                lines.append(" ".join(rng.choice(PLAIN_PIECES) for _ in range(rng.randint(1, 9))))
                if lines[-1][0] in "0123456789٣½-.,;:?!~$1+/":  # plain lines start with a letter
                    lines[-1] = "Well " + lines[-1]
        for _ in range(rng.choice([0, 0, 1, 1, 1, 2])):
            if not lines:
                lines.append("Hello")
            number = rng.randrange(len(lines))
            line = lines[number]
            spoil = rng.random()
            if spoil < 0.5:
                at = rng.randint(0, len(line))
                lines[number] = line[:at] + rng.choice(SYNTAX_PIECES + PLAIN_PIECES) + line[at:]
            elif spoil < 0.7:
                lines[number] = rng.choice(LINE_STARTS + PLAIN_PIECES) + line
            elif spoil < 0.85:
                lines[number] = line + rng.choice(LINE_ENDS)
            else:
                lines.insert(number, rng.choice(SPECIAL_LINES))
        body = "\n".join(lines)
        if rng.random() < 0.3:
            body = "\n" * rng.randint(1, 3) + body + "\n" * rng.randint(1, 3)
        bodies.append(body)
    return bodies


def corpus_bodies(count: int) -> list[str]:
    """Comment bodies as the benchmark corpus makes them (bench/corpus.py)."""
    spec = importlib.util.spec_from_file_location("bench_corpus", ROOT / "bench" / "corpus.py")
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    rng = random.Random(2009)
    bodies: list[str] = []
    while len(bodies) < count:
        bodies += [c["text"] for c in corpus.comment_tree(rng, 40, corpus.dt.datetime(2008, 1, 7))]
    return bodies[:count]


def archive_bodies() -> list[str]:
    """The body of every comment in the author's real archive (content/comments)."""
    from comments.comments import decode, split_file

    files = sorted((ROOT / "content" / "comments").rglob("*.md"))
    assert files, "the real comment archive is missing"
    return [split_file(decode(path.read_bytes()))[1] for path in files]


@functools.cache
def reference_markdown() -> markdown.Markdown:
    return markdown.Markdown(extensions=["nl2br"], output_format="html")


def full_pipeline(text: str) -> str:
    """What every comment went through before the fast path: Markdown + nl2br, then nh3."""
    from comments import comments

    html = reference_markdown().reset().convert(text)
    return nh3.clean(
        html,
        tags=comments.ALLOWED_TAGS,
        attributes=comments.ALLOWED_ATTRIBUTES,
        url_schemes=comments.URL_SCHEMES,
        link_rel=comments.LINK_REL,
    )


@pytest.fixture
def comments_module(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "plugins"))
    from comments import comments

    return comments


@pytest.mark.parametrize(
    "bodies",
    [
        pytest.param(lambda: generated_bodies(3000), id="generated"),
        pytest.param(lambda: corpus_bodies(400), id="bench-corpus"),
        pytest.param(archive_bodies, id="real-archive"),
    ],
)
def test_plain_prose_fast_path_makes_the_same_bytes_as_markdown_and_nh3(
    comments_module, bodies
) -> None:
    renderer = comments_module.BodyRenderer()
    texts = bodies()
    fast = 0
    for text in texts:
        assert renderer.render(text) == full_pipeline(text), text
        fast += comments_module.plain_html(text) is not None
    assert fast >= len(texts) // 4  # the fast path was really taken, not only the fallback


def test_only_plain_prose_takes_the_fast_path(comments_module) -> None:
    plain = comments_module.plain_html
    assert plain("Hi Steve,\nsee you.\n\n\nAgain “soon” – 100% (really)!\n") == (
        "<p>Hi Steve,<br>\nsee you.</p>\n<p>Again “soon” – 100% (really)!</p>"
    )
    assert plain("\n\n") == ""
    for text in ["*a*", "a_b", "1. one", "٣. three", "- item", "> quote", "a  \nb", "A&B", "a\tb"]:
        assert plain(text) is None, text
    assert plain("a\xa0b") is None and plain("    code") is None and plain("a\n===") is None


def test_comment_files_are_read_as_text_mode_would(comments_module, tmp_path) -> None:
    for data in [b"\xef\xbb\xbfAuthor: A\r\n\r\nOne\rtwo\r\n", b"Author: A\n\nx\xe2\x80\x99\n"]:
        path = tmp_path / "c.md"
        path.write_bytes(data)
        assert comments_module.decode(data) == path.read_text(encoding="utf-8-sig")


def test_a_comment_file_is_read_with_the_stat_the_cache_and_the_stamp_compare(
    comments_module, tmp_path
):
    path = tmp_path / "c.md"
    path.write_bytes(b"Author: A\n\n" + b"x" * 70_000)  # more than one read's worth of pages
    data, stat = comments_module.read_stamped(str(path))
    assert data == path.read_bytes()
    assert (stat.st_mtime_ns, stat.st_size, stat.st_ino) == (
        path.stat().st_mtime_ns,
        path.stat().st_size,
        path.stat().st_ino,
    )
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    data, stat = comments_module.read_stamped(str(empty))
    assert (data, stat.st_size, stat.st_mtime_ns) == (b"", 0, empty.stat().st_mtime_ns)


def test_a_changed_comment_is_read_again_and_an_unchanged_one_comes_from_the_cache(
    comments_module, tmp_path
):
    folder = tmp_path / "post"
    folder.mkdir()
    (folder / "a.md").write_text("Author: Ann\nDate: 2009-09-21T10:00:00\n\nFirst.\n")
    (folder / "b.md").write_text("Author: Bob\nDate: 2009-09-21T11:00:00\n\nSecond.\n")
    first = comments_module.FolderReader({})
    first.entries(str(folder), "post", ["a.md", "b.md"])
    assert first.changed
    (folder / "b.md").write_text("Author: Bob\nDate: 2009-09-21T11:00:00\n\nSecond, edited.\n")
    again = comments_module.FolderReader(first.fresh)
    entries = again.entries(str(folder), "post", ["a.md", "b.md"])
    assert again.fresh["post/a.md"] is first.fresh["post/a.md"], "unchanged: the cached entry"
    assert "edited" in entries[1][0][5] and again.fresh["post/b.md"] is not first.fresh["post/b.md"]
