"""Build benchmark: our site against plain Pelican (and Hugo when installed), full and incremental.

    python bench/bench_build.py --sizes 200,2000 --runs 3

For each size it generates a corpus (bench/corpus.py), then times, as medians with peak memory:
a clean full build of our site; plain Pelican (default theme, no plugins) on the same posts; our
rebuild after editing one post's body, after adding one comment, and with nothing changed. It
prints one Markdown table and writes it to bench/RESULTS.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from corpus import generate  # noqa: E402

PYTHON = sys.executable
MEASURE = textwrap.dedent(
    """
    import json, resource, subprocess, sys, time
    start = time.perf_counter()
    code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "code": code.returncode,
                      "stderr": code.stderr.decode(errors="replace")[-2000:]}))
    """
)
# Our site's settings for a corpus: pelicanconf.py with the corpus as content. Our builds are
# timed as the author runs them, `invoke build --settings` (which first asks the last build's warm
# process: encounter_habit.warm), and the clean ones as `invoke build --cold`.
OURS_CONF = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from pelicanconf import *  # noqa: F403
    PATH = {content!r}
    OUTPUT_PATH = {output!r}
    CACHE_PATH = {cache!r}
    THEME = {theme!r}
    PLUGIN_PATHS = [{plugins!r}]
    """
)
# What `invoke livereload` does: one process, a build after each save, the last build kept in
# memory (encounter_habit.live). The first save after start builds the ordinary way and is not
# timed; the saves after it are.
LIVERELOAD = textwrap.dedent(
    """
    import json, os, statistics, sys, time
    sys.path.insert(0, {root!r})
    from encounter_habit.build import configure_logging
    from encounter_habit.live import LiveSite
    configure_logging()
    content, output, cache, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    site = LiveSite({conf!r}, {{"PATH": content, "OUTPUT_PATH": output, "CACHE_PATH": cache}})
    site.build()
    post = content + "/posts/post-00003.md"
    thread = content + "/comments/post-00004"
    os.makedirs(thread, exist_ok=True)

    def edit(n):
        with open(post, "a", encoding="utf-8") as handle:
            handle.write(f"\\nA livereload edit, number {{n}}.\\n")

    def comment(n):
        with open(f"{{thread}}/live-{{n:04d}}.md", "w", encoding="utf-8") as handle:
            handle.write(f"Author: Live Reader\\nDate: 2030-01-01T00:{{n % 60:02d}}:00\\n"
                         f"Type: comment\\n\\nA live comment, number {{n}}.\\n")

    result = {{}}
    for name, change in (("edit", edit), ("comment", comment)):
        times, quick = [], []
        for n in range(runs + 1):
            change(n)
            start = time.perf_counter()
            report = site.build()
            if n:  # the first one may be the ordinary build that fills the memory
                times.append(time.perf_counter() - start)
                quick.append(report.quick)
        result[name] = {{"seconds": statistics.median(times), "quick": all(quick)}}
    print(json.dumps(result))
    """
)
PLAIN_CONF = textwrap.dedent(
    """
    AUTHOR = "Steve Yastrow"
    SITENAME = "Plain Pelican"
    SITEURL = ""
    TIMEZONE = "UTC"
    ARTICLE_PATHS = ["posts"]
    PAGE_PATHS = ["pages"]
    ARTICLE_EXCLUDES = ["comments", "ebook"]
    PAGE_EXCLUDES = ["comments", "ebook"]
    PLUGINS = []
    IGNORE_FILES = ["404.md"]  # it names a template of our theme that the default theme lacks
    """
)
HUGO_CONFIG = (
    'baseURL = "http://localhost/"\ntitle = "Hugo reference"\ndisableKinds = ["taxonomy", "term"]\n'
)
HUGO_SINGLE = "<!doctype html><title>{{ .Title }}</title><h1>{{ .Title }}</h1>{{ .Content }}\n"
HUGO_LIST = '<!doctype html><title>{{ .Title }}</title>{{ range .Pages }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}\n'


def measure(command: list[str]) -> dict:
    result = subprocess.run(
        [PYTHON, "-c", MEASURE, *command], capture_output=True, text=True, check=True
    )
    data = json.loads(result.stdout)
    if data["code"] != 0:
        raise SystemExit(f"bench: {' '.join(command[:3])}... failed:\n{data['stderr']}")
    return data


def median_of(runs: int, command: list[str], before=None) -> dict:
    samples = []
    for _ in range(runs):
        if before:
            before()
        samples.append(measure(command))
    return summary(samples)


def by_turns(runs: int, *commands: tuple[list[str], Callable[[], None]]) -> list[list[dict]]:
    """The samples of each (command, before) run by turns, a, b, a, b...: this machine's speed
    drifts by as much as a third within a benchmark, and taken by turns, two builds share the
    drift rather than one meeting a slow spell the other missed."""
    samples: list[list[dict]] = [[] for _ in commands]
    for _ in range(runs):
        for taken, (command, before) in zip(samples, commands, strict=True):
            before()
            taken.append(measure(command))
    return samples


def summary(samples: list[dict]) -> dict:
    return {
        "seconds": statistics.median(s["seconds"] for s in samples),
        "peak_mb": max(s["peak_mb"] for s in samples),
    }


def ours_command(conf: Path, *options: str) -> list[str]:
    invoke = str(Path(PYTHON).with_name("invoke"))
    return [invoke, "--search-root", str(ROOT), "build", "--settings", str(conf), *options]


def warm_process(conf: Path, stop: bool = False) -> int | None:
    """The resident memory (MB) of the warm process of these builds; ended with ``stop``."""
    sys.path.insert(0, str(ROOT))
    from encounter_habit import warm

    cwd = os.getcwd()
    os.chdir(ROOT)  # where the build task runs: part of what names the warm process
    try:
        path = warm.socket_path(conf, None)
        if stop:
            warm.stop(conf)
            return None
    finally:
        os.chdir(cwd)
    try:
        pid = int(warm.pid_file(path).read_text())
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, ValueError, AttributeError):
        return None
    rss = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")), 0)
    return int(rss) // 1024


def hugo_site(content: Path, work: Path) -> Path | None:
    """A minimal Hugo site over the same posts (front matter translated), or None without hugo."""
    if not shutil.which("hugo"):
        return None
    site = work / "hugo"
    shutil.rmtree(site, ignore_errors=True)
    (site / "content/posts").mkdir(parents=True)
    (site / "layouts/_default").mkdir(parents=True)
    (site / "hugo.toml").write_text(HUGO_CONFIG)
    (site / "layouts/_default/single.html").write_text(HUGO_SINGLE)
    (site / "layouts/_default/list.html").write_text(HUGO_LIST)
    for post in (content / "posts").glob("*.md"):
        head, _, text = post.read_text(encoding="utf-8").partition("\n\n")
        meta = dict(line.split(": ", 1) for line in head.splitlines())
        date = dt.datetime.strptime(meta["Date"], "%Y-%m-%d %H:%M").isoformat()
        front = (
            f"---\ntitle: {json.dumps(meta['Title'])}\ndate: {date}\nslug: {meta['Slug']}\n---\n"
        )
        (site / "content/posts" / post.name).write_text(
            front + text.replace("{filename}/posts/", "/posts/"), encoding="utf-8"
        )
    return site


def retire(folder: Path, work: Path) -> None:
    """Move a build's output out of the way of a clean build; main() deletes it at the end.

    Deleting it here would bill the deletion to the build timed next: on an ext4 file system
    without a journal (this benchmark's machine), the kernel skips over every inode freed in the
    last minute or more, one by one, each time it makes a file or folder (``recently_deleted`` in
    its inode allocator). After deleting the 24,000 files and folders of a 2,000-post site, our
    clean build took 19-24 s instead of 15-17 s. Plain Pelican is treated the same way.
    """
    if folder.exists():
        trash = work / ".trash"
        trash.mkdir(exist_ok=True)
        os.replace(folder, trash / f"{folder.parent.name}-{folder.name}-{time.monotonic_ns()}")


def bench_size(count: int, runs: int, work: Path) -> list[tuple[str, dict]]:
    target = work / str(count)
    content = generate(count, target)
    output, cache = target / "output", target / ".build-cache"
    conf = target / "oursconf.py"
    conf.write_text(
        OURS_CONF.format(
            root=str(ROOT),
            content=str(content),
            output=str(output),
            cache=str(cache),
            theme=str(ROOT / "theme"),
            plugins=str(ROOT / "plugins"),
        )
    )
    rows = []

    def clean():
        warm_process(conf, stop=True)
        retire(output, work)
        retire(cache, work)
        shutil.rmtree(target / "cache", ignore_errors=True)  # where earlier versions kept it

    cold = ours_command(conf, "--cold")
    ours = ours_command(conf)

    plain_conf = target / "plainconf.py"
    plain_conf.write_text(PLAIN_CONF)
    plain_out = target / "plain-output"
    plain = [
        PYTHON,
        "-m",
        "pelican",
        str(content),
        "-o",
        str(plain_out),
        "-s",
        str(plain_conf),
        "-q",
    ]
    ours_samples, plain_samples = by_turns(
        runs, (cold, clean), (plain, lambda: retire(plain_out, work))
    )
    rows.append(("our site, clean full build", summary(ours_samples)))
    rows.append(("plain Pelican, clean full build", summary(plain_samples)))
    ratios = [o["seconds"] / p["seconds"] for o, p in zip(ours_samples, plain_samples, strict=True)]

    site = hugo_site(content, target)
    if site:
        hugo = ["hugo", "--quiet", "-s", str(site), "-d", str(target / "hugo-output")]
        rows.append(("Hugo, minimal layout", median_of(runs, hugo)))

    clean()
    measure(ours)  # the build to start the incremental runs from: it leaves a warm process
    post = content / "posts" / "post-00001.md"
    comments = content / "comments" / "post-00002"
    counter = iter(range(10_000))

    def edit_post():
        post.write_text(
            post.read_text(encoding="utf-8") + f"\nAn edit, number {next(counter)}.\n",
            encoding="utf-8",
        )

    def add_comment():
        comments.mkdir(parents=True, exist_ok=True)
        n = next(counter)
        (comments / f"bench-{n:04d}.md").write_text(
            f"Author: Bench Reader\nDate: 2030-01-01T00:{n % 60:02d}:00\nType: comment\n\nComment {n}.\n",
            encoding="utf-8",
        )

    # repeated `invoke build`s: answered by the warm process (peak memory: the asking process)
    rows.append(("our site, after editing one post", median_of(runs, ours, before=edit_post)))
    rows.append(("our site, after adding one comment", median_of(runs, ours, before=add_comment)))
    rows.append(("our site, nothing changed", median_of(runs, ours)))
    resident = warm_process(conf)
    rows.append(
        (
            "our site, the warm process those builds asked (resident memory)",
            {"seconds": float("nan"), "peak_mb": float("nan") if resident is None else resident},
        )
    )
    warm_process(conf, stop=True)
    live = subprocess.run(
        [
            PYTHON,
            "-c",
            LIVERELOAD.format(root=str(ROOT), conf=str(ROOT / "pelicanconf.py")),
            str(content),
            str(output),
            str(cache),
            str(runs),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(live.stdout.strip().splitlines()[-1])
    for name, what in (("edit", "editing one post"), ("comment", "adding one comment")):
        how = "from memory" if measured[name]["quick"] else "ordinary builds"
        rows.append(
            (
                f"our site, livereload rebuild after {what} ({how})",
                {"seconds": measured[name]["seconds"], "peak_mb": float("nan")},
            )
        )
    return rows, ratios


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,2000", help="comma-separated post counts")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--large-runs",
        type=int,
        default=1,
        help="runs per measurement from 5,000 posts up (a clean build there takes minutes)",
    )
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "corpus")
    args = parser.parse_args()
    # Plain Pelican runs from bytecode pip compiled at install; so does ours (./dev compiles it
    # when PYTHONDONTWRITEBYTECODE keeps Python from doing so on first import).
    compileall.compile_dir(ROOT / "encounter_habit", quiet=1)
    compileall.compile_dir(ROOT / "plugins", quiet=1)
    lines = ["| posts | build | median seconds | peak memory MB |", "|---:|---|---:|---:|"]
    pairs = []
    for count in (int(s) for s in args.sizes.split(",")):
        runs = args.runs if count < 5000 else args.large_runs
        rows, ratios = bench_size(count, runs, args.work)
        pairs.append(
            f"- {count} posts: {', '.join(f'{r:.2f}' for r in ratios)} "
            f"(median {statistics.median(ratios):.2f})"
        )
        print(pairs[-1], flush=True)
        for label, result in rows:
            peak = result["peak_mb"]
            shown = "n/a" if peak != peak else f"{peak:.0f}"  # NaN: not measured (in-process run)
            seconds = result["seconds"]
            timed = "n/a" if seconds != seconds else f"{seconds:.2f}"
            lines.append(f"| {count} | {label} | {timed} | {shown} |")
            print(lines[-1], flush=True)
    shutil.rmtree(args.work / ".trash", ignore_errors=True)  # see retire()
    table = "\n".join(lines)
    report = (
        f"# Build benchmark\n\nRun on {dt.date.today().isoformat()}: {machine()}.\n"
        f"Medians of {args.runs} runs ({args.large_runs} from 5,000 posts up); "
        f"`python bench/bench_build.py --sizes {args.sizes} --runs {args.runs} "
        f"--large-runs {args.large_runs}`. Before each clean build the last output is moved "
        "aside, and deleted after the last measurement (see `retire` in bench_build.py: on this "
        "machine a deletion slows down the file creations of the next minutes).\n\n"
        f"{table}\n\n"
        "The clean builds of our site and of plain Pelican ran by turns (ours, plain, ours...). "
        "Our time over plain Pelican's, pair by pair:\n\n" + "\n".join(pairs) + "\n"
    )
    (ROOT / "bench" / "RESULTS.md").write_text(report, encoding="utf-8")
    print("\n" + table)


if __name__ == "__main__":
    main()
