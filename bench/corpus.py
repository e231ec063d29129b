"""Generate a realistic content tree for build benchmarks: posts, weeks, series, comments, ebook.

    python bench/corpus.py 2000 bench/corpus/2000

Deterministic for a given N (seeded), so runs on different days compare like with like.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORDS = [
    "customer",
    "relationship",
    "encounter",
    "transaction",
    "conversation",
    "uniqueness",
    "engagement",
    "moment",
    "interaction",
    "trust",
    "attention",
    "listen",
    "question",
    "story",
    "brand",
    "harmony",
    "service",
    "team",
    "client",
    "meeting",
    "call",
    "email",
    "promise",
    "value",
    "habit",
    "practice",
    "notice",
    "better",
    "worse",
    "same",
    "build",
    "improve",
    "every",
    "person",
    "business",
    "company",
    "people",
    "time",
    "work",
    "week",
    "today",
    "idea",
    "answer",
    "problem",
    "help",
    "care",
    "understand",
    "remember",
    "learn",
    "share",
    "change",
    "choose",
    "follow",
    "offer",
    "respect",
    "simple",
    "real",
    "honest",
]
COMMON = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "that",
    "is",
    "for",
    "it",
    "with",
    "as",
    "on",
    "be",
    "at",
    "by",
    "this",
    "we",
    "you",
    "your",
    "our",
]
THEMES = [
    "Encounter",
    "Conversation",
    "Uniqueness",
    "Engagement",
    "Listening",
    "Curiosity",
    "Patience",
    "Generosity",
    "Candor",
    "Follow-through",
    "Memory",
    "Attention",
    "Gratitude",
    "Surprise",
    "Context",
    "Timing",
    "Clarity",
    "Trust",
]
TAGS = [f"topic-{n}" for n in range(40)]
FIRST = [
    "Amanda",
    "Tom",
    "Michael",
    "Dave",
    "Omer",
    "David",
    "Greg",
    "Richard",
    "Mary",
    "Susie",
    "Andy",
    "Lena",
    "Ravi",
    "Chloe",
    "Ines",
    "Kofi",
]
LAST = [
    "Cullen",
    "McCallum",
    "Navarro",
    "Rosen",
    "Balanko",
    "Morton",
    "Schmidt",
    "Dias",
    "Thorp",
    "Park",
    "Okafor",
    "Silva",
    "Brandt",
]
AUTHOR = "Steve Yastrow"


def sentence(rng: random.Random, low: int = 8, high: int = 20) -> str:
    words = [
        rng.choice(WORDS if rng.random() < 0.6 else COMMON) for _ in range(rng.randint(low, high))
    ]
    return " ".join(words).capitalize() + rng.choice(".....?!")


def paragraph(rng: random.Random, words_left: int) -> tuple[str, int]:
    sentences = [sentence(rng) for _ in range(rng.randint(2, 5))]
    text = " ".join(sentences)
    return text, len(text.split())


def body(rng: random.Random, slugs: list[str], base_date: dt.datetime) -> str:
    target = rng.randint(400, 900)
    parts, count = [], 0
    while count < target:
        kind = rng.random()
        if kind < 0.12:
            items = [sentence(rng, 4, 10) for _ in range(rng.randint(3, 5))]
            marker = (lambda i: f"{i + 1}.") if rng.random() < 0.5 else (lambda i: "-")
            parts.append("\n".join(f"{marker(i)} {item}" for i, item in enumerate(items)))
            count += sum(len(i.split()) for i in items)
        elif kind < 0.2:
            quote = sentence(rng, 10, 25)
            parts.append(f"> {quote}")
            count += len(quote.split())
        elif kind < 0.25:
            parts.append(f"## {sentence(rng, 3, 6).rstrip('.?!')}")
        else:
            text, n = paragraph(rng, target - count)
            if rng.random() < 0.3 and slugs:
                other = rng.choice(slugs)
                text += f" See [an earlier post]({{filename}}/posts/{other}.md)."
            if rng.random() < 0.2:
                text += " More at [the library](https://example.org/reading)."
            parts.append(text)
            count += n
    return "\n\n".join(parts)


def comment_tree(rng: random.Random, count: int, start: dt.datetime) -> list[dict]:
    comments: list[dict] = []
    when = start
    for number in range(1, count + 1):
        when += dt.timedelta(minutes=rng.randint(5, 600))
        parent = None
        if comments and rng.random() < 0.45:
            candidate = rng.choice(comments)
            if candidate["depth"] < 5:
                parent = candidate
        author = (
            AUTHOR if parent and rng.random() < 0.3 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        )
        comments.append(
            {
                "id": f"comment-{number:03d}",
                "author": author,
                "date": when,
                "reply_to": parent["id"] if parent else None,
                "depth": parent["depth"] + 1 if parent else 0,
                "text": "\n\n".join(sentence(rng, 6, 30) for _ in range(rng.randint(1, 3))),
            }
        )
    return comments


def generate(count: int, target: Path, seed: int = 2009) -> Path:
    """Write a content tree of ``count`` posts under ``target/content``; return it."""
    rng = random.Random(seed)
    content = target / "content"
    if content.exists():
        shutil.rmtree(content)
    (content / "posts").mkdir(parents=True)
    (content / "pages").mkdir()
    shutil.copy(ROOT / "content/pages/about.md", content / "pages/about.md")
    shutil.copy(ROOT / "content/pages/404.md", content / "pages/404.md")
    if (ROOT / "content/ebook").is_dir():
        shutil.copytree(ROOT / "content/ebook", content / "ebook")
    start = dt.datetime(2008, 1, 7, 9, 0)
    slugs: list[str] = []
    series_names = [f"Field Notes {n}" for n in range(max(1, count // 50))]
    for number in range(count):
        date = start + dt.timedelta(days=number * 2, hours=rng.randint(0, 8))
        slug = f"post-{number:05d}"
        meta = [
            f"Title: {sentence(rng, 3, 8).rstrip('.?!')}",
            f"Date: {date:%Y-%m-%d %H:%M}",
            f"Author: {AUTHOR}",
            f"Slug: {slug}",
            f"Tags: {', '.join(rng.sample(TAGS, rng.randint(1, 3)))}",
        ]
        week_number = number // 3  # a kick-off post and follow-ups each week
        if rng.random() < 0.6:
            meta.append(
                f"Week: {THEMES[week_number % len(THEMES)]} {week_number // len(THEMES) + 1}"
            )
        elif rng.random() < 0.3:
            series = rng.choice(series_names)
            meta += [f"Series: {series}", f"Series-part: {number}"]
        (content / "posts" / f"{slug}.md").write_text(
            "\n".join(meta) + "\n\n" + body(rng, slugs[-50:], date) + "\n", encoding="utf-8"
        )
        slugs.append(slug)
        comments = comment_tree(rng, rng.randint(0, 40), date)
        if comments:
            folder = content / "comments" / slug
            folder.mkdir(parents=True)
            for c in comments:
                header = [f"Author: {c['author']}", f"Date: {c['date']:%Y-%m-%dT%H:%M:%S}"]
                if c["reply_to"]:
                    header.append(f"Reply-To: {c['reply_to']}")
                header.append("Type: comment")
                (folder / f"{c['id']}.md").write_text(
                    "\n".join(header) + "\n\n" + c["text"] + "\n", encoding="utf-8"
                )
    return content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    content = generate(args.count, args.target)
    print(f"wrote {args.count} posts into {content}")


if __name__ == "__main__":
    main()
