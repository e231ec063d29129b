"""Incremental builds: after any sequence of edits, the output equals a clean build, byte for byte."""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from encounter_habit import inputs
from encounter_habit.build import BuildFailed, build_site, load_settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from corpus import generate  # noqa: E402


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def differences(a: Path, b: Path) -> list[str]:
    left, right = tree(a), tree(b)
    missing = sorted(set(left) ^ set(right))
    changed = sorted(name for name in set(left) & set(right) if left[name] != right[name])
    return [f"only in one: {name}" for name in missing] + [f"differs: {name}" for name in changed]


class Workspace:
    """A content tree and theme copy, built incrementally and cleanly side by side."""

    def __init__(self, root: Path, posts: int = 12) -> None:
        self.root = root
        self.content = generate(posts, root)
        self.theme = root / "theme"
        shutil.copytree(ROOT / "theme", self.theme)
        self.settings: dict = {"SITESUBTITLE": "Every interaction counts."}
        self.clean_builds = 0

    def overrides(self, output: str, cache: str) -> dict:
        return {
            "PATH": str(self.content),
            "OUTPUT_PATH": str(self.root / output),
            "CACHE_PATH": str(self.root / cache),
            "THEME": str(self.theme),
            **self.settings,
        }

    def build_incrementally(self):
        return build_site(ROOT / "pelicanconf.py", self.overrides("incremental", "cache"))

    def build_clean(self) -> Path:
        output = self.root / "clean"
        shutil.rmtree(output, ignore_errors=True)
        shutil.rmtree(self.root / "clean-cache", ignore_errors=True)
        build_site(
            ROOT / "pelicanconf.py", self.overrides("clean", "clean-cache"), incremental=False
        )
        return output

    def assert_same_as_clean(self, step: str) -> None:
        assert differences(self.root / "incremental", self.build_clean()) == [], step


# Edits an author makes. Each takes the workspace and a seeded random generator.
def edit_body(ws: Workspace, rng: random.Random) -> str:
    post = rng.choice(sorted((ws.content / "posts").glob("*.md")))
    post.write_text(
        post.read_text(encoding="utf-8") + f"\nA new closing line {rng.random()}.\n",
        encoding="utf-8",
    )
    return f"edit body of {post.name}"


def edit_chapter(ws: Workspace, rng: random.Random) -> str:
    """A new section in an ebook chapter: its table of contents and reading time change."""
    chapter = rng.choice(sorted((ws.content / "ebook").glob("0[1-7]-*.md")))
    words = " ".join(["encounter"] * rng.randint(200, 600))
    chapter.write_text(
        chapter.read_text(encoding="utf-8")
        + f"\n## A new section {rng.randint(1, 99)}\n\n{words}\n",
        encoding="utf-8",
    )
    return f"edit chapter {chapter.name}"


def edit_title(ws: Workspace, rng: random.Random) -> str:
    post = rng.choice(sorted((ws.content / "posts").glob("*.md")))
    text = post.read_text(encoding="utf-8").replace(
        "Title: ", f"Title: Revised {rng.randint(1, 99)} ", 1
    )
    post.write_text(text, encoding="utf-8")
    return f"retitle {post.name}"


def add_post(ws: Workspace, rng: random.Random) -> str:
    number = rng.randint(100, 999)
    (ws.content / "posts" / f"added-{number}.md").write_text(
        f"Title: Added post {number}\nDate: 2008-02-{rng.randint(1, 28):02d} 10:00\nAuthor: Steve Yastrow\n"
        f"Slug: added-{number}\nTags: topic-1, added\nWeek: Encounter 1\n\nA new post about encounters.\n",
        encoding="utf-8",
    )
    return f"add post {number}"


def delete_post(ws: Workspace, rng: random.Random) -> str:
    post = rng.choice(sorted((ws.content / "posts").glob("*.md")))
    post.unlink()
    shutil.rmtree(ws.content / "comments" / post.stem, ignore_errors=True)
    return f"delete {post.name}"


def rename_post(ws: Workspace, rng: random.Random) -> str:
    post = rng.choice(sorted((ws.content / "posts").glob("*.md")))
    text = post.read_text(encoding="utf-8")
    slug = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Slug: "))
    renamed = post.with_name(f"{slug}-renamed.md")
    post.unlink()
    renamed.write_text(text.replace(f"Slug: {slug}", f"Slug: {slug}-renamed"), encoding="utf-8")
    comments = ws.content / "comments" / slug
    if comments.is_dir():
        comments.rename(ws.content / "comments" / f"{slug}-renamed")
    return f"rename {slug}"


def add_comment(ws: Workspace, rng: random.Random) -> str:
    post = rng.choice(sorted((ws.content / "posts").glob("*.md")))
    slug = next(
        line.split(": ", 1)[1]
        for line in post.read_text(encoding="utf-8").splitlines()
        if line.startswith("Slug: ")
    )
    folder = ws.content / "comments" / slug
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("*.md"))
    number = len(existing) + rng.randint(500, 999)
    reply = f"Reply-To: {existing[0].stem}\n" if existing and rng.random() < 0.5 else ""
    (folder / f"comment-{number}.md").write_text(
        f"Author: Pat Reader\nDate: 2031-01-01T10:{rng.randint(0, 59):02d}:00\n{reply}Type: comment\n\n"
        f"Thanks, this helped. <script>alert({number})</script>\n",
        encoding="utf-8",
    )
    return f"comment on {slug}"


def change_template(ws: Workspace, rng: random.Random) -> str:
    base = ws.theme / "templates" / "base.html"
    base.write_text(
        base.read_text(encoding="utf-8").replace(
            "</footer>", f"<p>Edition {rng.randint(1, 999)}</p></footer>", 1
        ),
        encoding="utf-8",
    )
    return "change base.html"


def change_setting(ws: Workspace, rng: random.Random) -> str:
    ws.settings["SITESUBTITLE"] = f"Every interaction counts, take {rng.randint(1, 999)}."
    return "change SITESUBTITLE"


EDITS = [
    edit_body,
    edit_chapter,
    edit_title,
    add_post,
    delete_post,
    rename_post,
    add_comment,
    change_template,
    change_setting,
]


def test_a_second_build_with_nothing_changed_renders_nothing(tmp_path):
    ws = Workspace(tmp_path, posts=6)
    first = ws.build_incrementally()
    second = ws.build_incrementally()
    assert first.made > 20 and first.reused == 0 and not first.unchanged
    assert second.unchanged and second.made == 0 and second.reused >= first.made
    assert (second.articles, second.pages) == (first.articles, first.pages)
    ws.assert_same_as_clean("nothing changed")


def test_the_pages_are_reused_when_only_the_stamp_is_gone(tmp_path):
    """Without the input stamp the build runs, and the memo still makes nothing again."""
    ws = Workspace(tmp_path, posts=6)
    first = ws.build_incrementally()
    shutil.rmtree(ws.root / "cache" / inputs.STAMPS)
    second = ws.build_incrementally()
    assert not second.unchanged and second.made == 0 and second.reused == first.made


def test_a_change_within_the_same_timestamp_is_still_seen(tmp_path):
    """Same size, same mtime, same inode: only the racy-file hash can tell the edit apart."""
    ws = Workspace(tmp_path, posts=6)
    post = ws.content / "posts" / "post-00002.md"
    ws.build_incrementally()
    before = post.stat()
    text = post.read_text(encoding="utf-8")
    edited = text.replace("e", "a", 1)
    assert len(edited) == len(text) and edited != text
    with open(post, "r+", encoding="utf-8") as handle:  # in place: the inode stays
        handle.write(edited)
    os.utime(post, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = ws.build_incrementally()
    assert not again.unchanged and again.made > 0
    ws.assert_same_as_clean("edit within the same timestamp")


def test_a_deleted_output_file_is_made_again(tmp_path):
    ws = Workspace(tmp_path, posts=6)
    ws.build_incrementally()
    page = ws.root / "incremental" / "index.html"
    page.unlink()
    again = ws.build_incrementally()
    assert not again.unchanged and page.is_file()
    ws.assert_same_as_clean("deleted output")


def test_a_settings_variable_in_the_environment_counts_as_a_change(tmp_path, monkeypatch):
    ws = Workspace(tmp_path, posts=4)
    ws.build_incrementally()
    monkeypatch.setenv("ENCOUNTER_SOMETHING", "new value")
    assert not ws.build_incrementally().unchanged
    assert ws.build_incrementally().unchanged


def test_a_future_post_going_live_ends_the_unchanged_output(tmp_path):
    ws = Workspace(tmp_path, posts=4)
    post = ws.content / "posts" / "post-00001.md"
    text = post.read_text(encoding="utf-8")
    post.write_text(re.sub(r"Date: [^\n]+", "Date: 2099-01-05 09:00", text, count=1), "utf-8")
    first = ws.build_incrementally()
    assert first.valid_until is not None and first.valid_until > time.time()
    assert ws.build_incrementally().unchanged
    # the moment passes (the clock cannot be moved, so the stamp is made older instead)
    stamp_file = next((ws.root / "cache" / inputs.STAMPS).iterdir())
    stamp = inputs.Stamp.load(stamp_file)
    stamp.valid_until = time.time() - 1
    stamp.save(stamp_file)
    assert not ws.build_incrementally().unchanged


def test_a_theme_edit_counts_as_a_change(tmp_path):
    ws = Workspace(tmp_path, posts=4)
    ws.build_incrementally()
    css = ws.theme / "static" / "css" / "post.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n/* darker */\n", encoding="utf-8")
    again = ws.build_incrementally()
    assert not again.unchanged
    ws.assert_same_as_clean("theme css")


def test_editing_one_body_remakes_only_the_pages_that_show_it(tmp_path):
    ws = Workspace(tmp_path, posts=12)
    full = ws.build_incrementally()
    out = ws.root / "incremental"
    inodes = {p: p.stat().st_ino for p in out.rglob("*.html")}
    post = ws.content / "posts" / "post-00003.md"
    post.write_text(post.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    after = ws.build_incrementally()
    assert 0 < after.made < full.made / 5, (after.made, full.made)
    remade = {p.relative_to(out).as_posix() for p, ino in inodes.items() if p.stat().st_ino != ino}
    page = next(p for p in remade if p.endswith("/post-00003/index.html") and "email" not in p)
    assert page in remade
    # pages that name the post without showing its text are kept as they were
    assert not remade & {"archives/index.html", "tags/index.html", "authors/index.html"}
    weeks = [p for p in remade if p.startswith("week-of/")]
    assert len(weeks) <= 1, weeks  # the post's own week shows its summary; no other week does
    ws.assert_same_as_clean("edit one body")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_edit_sequences_give_the_same_bytes_as_a_clean_build(tmp_path, seed):
    rng = random.Random(seed)
    ws = Workspace(tmp_path, posts=10)
    ws.build_incrementally()
    steps = []
    for _ in range(6):
        steps.append(rng.choice(EDITS)(ws, rng))
        ws.build_incrementally()
        ws.assert_same_as_clean(" -> ".join(steps))


def test_problems_are_reported_again_by_a_build_that_reuses_everything(site):
    site.post("good", "Good post")
    site.write("posts/bad.md", "Title: Bad\nDate: someday\n\nBody.\n")
    site.write("comments/good/comment-001.md", "Date: 2009-09-22T10:00:00\n\nNo author here.\n")
    first = site.build()
    second = site.build()
    assert len(first.errors) == 2
    assert second.errors == first.errors
    assert second.made == 0 and second.unchanged


def test_a_strict_build_fails_on_errors_even_when_nothing_changed(site):
    site.post("good", "Good post")
    site.write("posts/bad.md", "Title: Bad\nDate: someday\n\nBody.\n")
    site.build()
    with pytest.raises(BuildFailed, match="1 error"):
        build_site(ROOT / "pelicanconf.py", site.settings_overrides(), strict=True)


def test_frozen_urls_change_no_byte_of_the_site(tmp_path):
    """The same site built without the frozen_urls plugin (in a fresh process, since Pelican's
    signals keep every plugin that was ever registered in a process)."""
    ws = Workspace(tmp_path, posts=8)
    with_plugin = ws.build_clean()
    settings = load_settings(ROOT / "pelicanconf.py")
    plugins = [p for p in settings["PLUGINS"] if p != "frozen_urls"]
    assert len(plugins) == len(settings["PLUGINS"]) - 1
    overrides = {**ws.overrides("without", "without-cache"), "PLUGINS": plugins}
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from encounter_habit.build import build_site;"
        "build_site(sys.argv[2], json.loads(sys.argv[3]), incremental=False)"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(ROOT),
            str(ROOT / "pelicanconf.py"),
            json.dumps(overrides),
        ],
        check=True,
    )
    assert differences(tmp_path / "without", with_plugin) == []


def test_a_build_leaves_no_post_alive_in_pelicans_caches(site):
    """livereload builds again and again in one process: no build may keep the last one's posts."""
    from pelican.contents import Content

    site.post("kept", "Kept")
    site.build()
    assert Content.__dict__["get_content"].cache == {}
    assert Content.__dict__["get_summary"].cache == {}


def test_editing_a_chapter_remakes_what_shows_its_outline(tmp_path):
    """The ebook's pages show each chapter's sections and reading time, derived from its body."""
    ws = Workspace(tmp_path, posts=3)
    ws.build_incrementally()
    edit_chapter(ws, random.Random(7))
    ws.build_incrementally()
    ws.assert_same_as_clean("edit a chapter")


def awkward_comments(content: Path) -> Path:
    """The generated comment archive, with what a scan must treat just so: a file that is no
    comment, a link to a file, a link to a folder, a dangling link, a folder scans leave out,
    an unreadable comment and a nested folder."""
    comments = content / "comments"
    first = sorted(p for p in comments.iterdir() if p.is_dir())[0]
    (first / "notes.txt").write_text("not a comment\n")
    (first / "linked.md").symlink_to(next(first.glob("*.md")))
    (first / "folder-link").symlink_to(content / "posts")
    (first / "gone.md").symlink_to(first / "nowhere.md")
    (first / "__pycache__").mkdir()
    (first / "__pycache__" / "x.pyc").write_bytes(b"x")
    (first / "broken.md").write_bytes(b"\xff\xfe not UTF-8")
    (first / "deeper").mkdir()
    (first / "deeper" / "comment-009.md").write_text((next(first.glob("comment-*.md"))).read_text())
    return comments


def test_a_folder_stamped_by_its_reader_gives_the_digest_of_a_scan(tmp_path):
    """The comments plugin stamps its files as it reads them (fstat of the open file); the start
    scan leaves them out. The stamp's inputs equal a scan of everything, racy hashes included."""
    from comments.comments import read_entries

    content = generate(3, tmp_path)
    comments = awkward_comments(content)
    roots, started = [str(content.resolve()), str(ROOT / "theme")], time.time_ns()
    whole = inputs.StartScan(roots, str(ROOT / "theme"), [], started, {})
    whole.take()  # as a build does, before it reads
    everything = whole.inputs()
    assert everything[2], "the files just written are racy: their bytes are hashed"

    def stamped_by_reader(in_child: bool):
        with inputs.StartScan(roots, str(ROOT / "theme"), [], started, {}) as scan:
            inputs.leave_to_reader(comments)
            assert list(scan.readers) == [str(comments.resolve())]
            scan.take()
            stamps = inputs.reader_stamps(comments)
            read_entries(comments, None, stamps=stamps)
            if in_child:  # as the comments child sends them: sealed, pickled
                inputs.stamps_read(pickle.loads(pickle.dumps(stamps.seal())))
        return scan.inputs()

    assert stamped_by_reader(in_child=False) == everything
    assert stamped_by_reader(in_child=True) == everything


def test_without_its_readers_stamps_a_build_saves_no_stamp(tmp_path):
    """A folder left to a reader that never read it (or stamps of another build) cannot be
    vouched for: no stamp, and the next build runs."""
    content = generate(2, tmp_path)
    roots, started = [str(content.resolve())], time.time_ns()
    with inputs.StartScan(roots, str(ROOT / "theme"), [], started, {}) as scan:
        inputs.leave_to_reader(content / "comments")
        inputs.leave_to_reader(content / "nowhere")  # not a folder: scanned as usual
        inputs.leave_to_reader(tmp_path)  # not inside the content
        assert list(scan.readers) == [str((content / "comments").resolve())]
        scan.take()
        other = inputs.ReaderStamps(str((content / "comments").resolve()), (), started - 1)
        list(other.walk())
        inputs.stamps_read(other.seal())  # another build's
        assert scan.inputs() is None


def test_a_reader_that_cannot_stat_a_file_vouches_for_nothing(tmp_path):
    """A link to itself can be neither read nor stat-ed: its folder's stamps are incomplete."""
    from comments.comments import read_entries

    content = generate(2, tmp_path)
    comments = content / "comments"
    stamps = inputs.ReaderStamps(str(comments.resolve()), (), time.time_ns())
    read_entries(comments, None, stamps=stamps)
    assert stamps.complete and stamps.table
    loop = next(p for p in comments.iterdir() if p.is_dir()) / "loop.md"
    loop.symlink_to(loop)
    stamps = inputs.ReaderStamps(str(comments.resolve()), (), time.time_ns())
    read_entries(comments, None, stamps=stamps)
    assert stamps.walked and not stamps.complete


def test_a_build_with_the_comments_stamped_by_their_reader_is_unchanged_the_next_time(tmp_path):
    """In a fresh interpreter, where the comments are read (and stamped) by a child: the stamp
    agrees with the next build's own scan, and with a scan of the whole content."""
    ws = Workspace(tmp_path, posts=4)
    awkward_comments(ws.content)
    script = (
        "import json, sys\n"
        "from encounter_habit import inputs\n"
        "from encounter_habit.build import build_site\n"
        "reports = [build_site(sys.argv[1], json.loads(sys.argv[2])) for _ in range(2)]\n"
        "print(json.dumps([[r.unchanged, r.made] for r in reports]))\n"
    )
    overrides = ws.overrides("incremental", "cache")
    found = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "pelicanconf.py"), json.dumps(overrides)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.splitlines()[-1]
    (first_unchanged, first_made), (second_unchanged, second_made) = json.loads(found)
    assert not first_unchanged and first_made > 20
    assert second_unchanged and second_made == 0
    stamp = inputs.Stamp.load(inputs.stamp_path(ROOT / "pelicanconf.py", overrides))
    content = os.path.realpath(ws.content)
    assert stamp.inputs[content] == inputs.scan(content, skip=tuple(stamp.skip))[0]


def test_the_files_under_a_folder_are_those_os_walk_lists(tmp_path):
    from encounter_habit.build import files_under

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "page.html").write_text("x")
    (tmp_path / "top.xml").write_text("x")
    (tmp_path / "link-to-folder").symlink_to(tmp_path / "a")
    (tmp_path / "link-to-file").symlink_to(tmp_path / "top.xml")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    walked = [
        os.path.relpath(os.path.join(folder, name), tmp_path).replace(os.sep, "/")
        for folder, _folders, names in os.walk(tmp_path)
        for name in names
    ]
    assert sorted(files_under(tmp_path)) == sorted(walked)
    assert sorted(walked) == ["a/b/page.html", "dangling", "link-to-file", "top.xml"]
    assert files_under(tmp_path / "missing") == []


def test_each_template_is_parsed_once_for_the_variables_of_every_page(tmp_path):
    """The variables of a template include those of the partials it includes; a partial that
    twenty templates include is still parsed once a build."""
    sys.path.insert(0, str(ROOT / "plugins"))
    from incremental.incremental import template_variables
    from jinja2 import Environment, FileSystemLoader

    from encounter_habit import incremental

    (tmp_path / "partial.html").write_text("{{ shared }}{% include 'deeper.html' %}")
    (tmp_path / "deeper.html").write_text("{{ deep }}")
    for name in ("one", "two", "three"):
        (tmp_path / f"{name}.html").write_text(f"{{{{ {name} }}}}{{% include 'partial.html' %}}")
    (tmp_path / "computed.html").write_text("{% include name_of_it %}")
    environment = Environment(loader=FileSystemLoader(str(tmp_path)))
    parsed = []
    parse = environment.parse
    environment.parse = lambda source, *args: parsed.append(source) or parse(source, *args)
    incremental.activate(None)
    try:
        found = {
            name: template_variables(environment, f"{name}.html")
            for name in ("one", "two", "three", "computed")
        }
    finally:
        incremental.activate(None)
    assert found["one"] == {"one", "shared", "deep"}
    assert found["three"] == {"three", "shared", "deep"}
    assert found["computed"] is None, "a template named at render time: variables unknown"
    assert len(parsed) == 6, "one, two, three, partial, deeper, computed: once each"


def test_a_posts_fingerprint_is_of_the_bytes_the_build_read(tmp_path):
    """content_checks hands each post's bytes to the memo as it reads them: the feeds' and emails'
    keys then come from those bytes, exactly as from reading the file, and without reading it."""
    from encounter_habit.incremental import Memo

    post = tmp_path / "post.md"
    post.write_bytes(b"Title: A\n\nOne.\n")

    class Post:
        source_path, status, comments_fingerprint = str(post), "published", "c1"

    def memo() -> Memo:
        return Memo(tmp_path / "out", tmp_path / "staging", tmp_path / "manifest.json", "code")

    noted = memo()
    noted.note_source(str(post), post.read_bytes())
    read = memo().content_fingerprint(Post())
    assert noted.content_fingerprint(Post()) == read
    post.write_bytes(b"Title: A\n\nTwo.\n")  # saved again once the build had read it
    assert memo().content_fingerprint(Post()) != read
    again = memo()
    again.note_source(str(post), b"Title: A\n\nOne.\n")
    assert again.content_fingerprint(Post()) == read  # the bytes read, not the file's bytes now
