"""Week of: weekly themes and ordinary multi-part series as navigation, listings and pages.

A post joins a weekly theme with ``Week: Encounter``; the weeks, ordered by their first post's
date and numbered from 1, form the "Week of" series. ``Next-week: Uniqueness`` on the latest week
announces the coming theme. A post joins an ordinary series with ``Series: Name`` and optionally
``Series-part: N``. Only published posts dated up to "now" take part: drafts, hidden and
future-dated posts never appear in any navigation, count or listing.

Everything is computed once, after the articles are read (``article_generator_finalized``), in
time for the articles' own pages and for other plugins (the feeds read ``series_collections``);
the series pages are written by a Generator through Pelican's writer. Each step is linear in the
number of posts: one pass groups them, then each group is sorted on its own.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pelican import signals
from pelican.generators import Generator
from pelican.utils import slugify

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "name": "The Week of …",  # the whole weekly series, as readers see it (nav aria-label too)
    "url": "week-of/",  # the series page listing every week
    "save_as": "week-of/index.html",
    "week_url": "week-of/{slug}/",  # one page per week; {slug} is the theme's slug
    "week_save_as": "week-of/{slug}/index.html",
    "series_url": "series/{slug}/",  # one page per ordinary series
    "series_save_as": "series/{slug}/index.html",
    "week_title": "The Week of {theme}",
    "week_label": "Week {number} of {series}",
    "next_week_label": "Next week: the Week of {theme}",
    "part_label": "Part {part} of {total}",
    # A post's navigation lists the other posts of its week or series up to this many; longer
    # ones show only prev/next and the series page, so pages stay linear in the series' size.
    "nav_list_limit": 12,
    # The moment that separates published from future-dated posts: None means the build's
    # time; an ISO date-time (naive ones are read in TIMEZONE) pins it, for tests and previews.
    "now": None,
}
# The placeholders each pattern may use (anything else would fail mid-build).
PLACEHOLDERS = {
    "week_url": {"slug": "x"},
    "week_save_as": {"slug": "x"},
    "series_url": {"slug": "x"},
    "series_save_as": {"slug": "x"},
    "week_title": {"theme": "x"},
    "week_label": {"number": 1, "series": "x", "theme": "x"},
    "next_week_label": {"theme": "x"},
    "part_label": {"part": 1, "total": 1, "name": "x"},
}
TEMPLATES = {"weeks": "week_of", "week": "week", "series": "series"}
PATTERN_FIELDS = {
    "week_url": "{slug}",
    "week_save_as": "{slug}",
    "series_url": "{slug}",
    "series_save_as": "{slug}",
    "week_title": "{theme}",
    "next_week_label": "{theme}",
}
KIND_WEEK_OF = "week-of"
KIND_SERIES = "series"


# -- model -------------------------------------------------------------------------------------


@dataclass(eq=False)
class SeriesCollection:
    """A whole series (the "Week of" one or an ordinary one), as pages and feeds see it."""

    kind: str
    name: str
    slug: str
    url: str
    save_as: str
    ordered: list[Any] = field(default_factory=list)  # reading order

    @cached_property
    def articles(self) -> list[Any]:
        """Published posts, newest first (the order feeds want); read once the build grouped them."""
        return sorted(self.ordered, key=lambda article: article.date, reverse=True)

    @property
    def total(self) -> int:
        """How many published posts the series has."""
        return len(self.ordered)


@dataclass(eq=False)
class Week:
    """One weekly theme and its published posts, oldest first."""

    number: int
    theme: str
    slug: str
    title: str
    url: str
    save_as: str
    label: str
    series: SeriesCollection
    articles: list[Any] = field(default_factory=list)
    prev: Week | None = None
    next: Week | None = None
    next_theme: str | None = None  # announced by Next-week, only on the latest week
    next_label: str | None = None
    kind: str = "week"

    @property
    def first_date(self) -> datetime:
        """Date of the week's first post."""
        return self.articles[0].date

    @property
    def last_date(self) -> datetime:
        """Date of the week's last post."""
        return self.articles[-1].date


@dataclass(eq=False)
class SeriesPart:
    """One post's place in an ordinary series: what ``article.series`` is."""

    collection: SeriesCollection
    part: int | None  # as the author wrote it (orders the series)
    index: int  # 1-based position among the published parts (what readers see)
    label: str
    prev: Any = None
    next: Any = None
    kind: str = KIND_SERIES

    name = property(lambda self: self.collection.name)
    slug = property(lambda self: self.collection.slug)
    url = property(lambda self: self.collection.url)
    save_as = property(lambda self: self.collection.save_as)
    total = property(lambda self: self.collection.total)

    @property
    def articles(self) -> list[Any]:
        """The series' published posts in reading order (part, then date)."""
        return self.collection.ordered


@dataclass
class Member:
    """A post with the values it claims, before grouping."""

    article: Any
    shown: str  # the file as the author knows it
    name: str  # the theme or series name as written


# -- settings ----------------------------------------------------------------------------------


def weekof_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The WEEKOF settings merged over DEFAULTS."""
    user = settings.get("WEEKOF") or {}
    return {**DEFAULTS, **(user if isinstance(user, dict) else {})}


def parse_now(value: Any, zone: str) -> datetime | None:
    """An aware datetime from a datetime or ISO string (naive ones in TIMEZONE); None stays None."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            moment = moment.replace(tzinfo=UTC)
    return moment


def check_settings(pelican: Any) -> None:
    """Validate WEEKOF once at start-up; each problem is one line and the default is used."""
    user = pelican.settings.get("WEEKOF") or {}
    if not isinstance(user, dict):
        logger.error("weekof: WEEKOF must be a dict, got %r; using the defaults", user)
        user = {}
    user = dict(user)
    for key in sorted(set(user) - set(DEFAULTS)):
        logger.warning("weekof: unknown WEEKOF key %r ignored; known: %r", key, sorted(DEFAULTS))
        del user[key]
    for key, value in list(user.items()):
        if key == "now":
            continue
        if key == "nav_list_limit":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                logger.error(
                    "weekof: WEEKOF['nav_list_limit'] must be a whole number >= 0, got %r; using %r",
                    value,
                    DEFAULTS[key],
                )
                del user[key]
            continue
        needed = PATTERN_FIELDS.get(key)
        if not isinstance(value, str) or (needed and needed not in value):
            wanted = f"a string containing {needed!r}" if needed else "a string"
            logger.error(
                "weekof: WEEKOF[%r] must be %s, got %r; using %r", key, wanted, value, DEFAULTS[key]
            )
            del user[key]
            continue
        if key in PLACEHOLDERS:
            try:
                value.format(**PLACEHOLDERS[key])
            except (KeyError, IndexError, ValueError):
                logger.error(
                    "weekof: WEEKOF[%r] = %r uses a placeholder other than %r; using %r",
                    key,
                    value,
                    sorted(PLACEHOLDERS[key]),
                    DEFAULTS[key],
                )
                del user[key]
    for key in ("save_as", "week_save_as", "series_save_as"):
        if key in user and not user[key].endswith(".html"):
            logger.error(
                "weekof: WEEKOF[%r] must end in '.html', got %r; using %r",
                key,
                user[key],
                DEFAULTS[key],
            )
            del user[key]
    try:
        user["now"] = parse_now(user.get("now"), pelican.settings.get("TIMEZONE", "UTC"))
    except (TypeError, ValueError):
        logger.error(
            "weekof: WEEKOF['now'] %r is not a date-time; write it like '2009-09-21T09:00' "
            "or leave it out to use the build's time",
            user.get("now"),
        )
        user["now"] = None
    # Stored merged so templates and the generator read WEEKOF.name without knowing the defaults.
    pelican.settings["WEEKOF"] = weekof_settings({"WEEKOF": user})


# -- reading the posts -------------------------------------------------------------------------


def display_path(path: str) -> str:
    """A path as the author would type it: relative to the working directory when inside it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def metadata_line(path: str, key: str) -> int:
    """The line of ``key:`` in a file's header (1 when it cannot be found); read only on errors."""
    pattern = re.compile(rf"^\s{{0,3}}{re.escape(key)}\s*:", re.IGNORECASE)
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    break
                if pattern.match(line):
                    return number
    except OSError:
        pass
    return 1


def where(article: Any, key: str) -> str:
    """'path:line' of a metadata field, for error lines."""
    path = article.source_path
    return f"{display_path(path)}:{metadata_line(path, key)}"


def meta_text(article: Any, key: str) -> str:
    """A metadata value as written, without surrounding spaces ('' when absent)."""
    value = article.metadata.get(key)
    if value is None:
        return ""
    return str(value).strip()


def is_listed(article: Any, now: datetime) -> bool:
    """True for a post that may appear in navigation: published, listed and not in the future."""
    date = article.date
    if date.tzinfo is None:
        date = date.replace(tzinfo=now.tzinfo)
    return article.status == "published" and date <= now


def squeeze(text: str) -> str:
    """Text with every run of whitespace made one space."""
    return " ".join(text.split())


def spelling_difference(name: str, first: str) -> str:
    """How a second spelling differs from the first: in case, in spacing, both, or only the slug."""
    if name.casefold() == first.casefold():
        return "differs only in case from"
    if squeeze(name) == squeeze(first):
        return "differs only in spacing from"
    if squeeze(name).casefold() == squeeze(first).casefold():
        return "differs only in case and spacing from"
    return "has the same URL slug as"


def group_by_slug(
    members: Iterable[Member], what: str, slug_of: Any
) -> dict[str, tuple[str, list[Member]]]:
    """Group posts (oldest first) by the slug of their name; other spellings get one line each."""
    groups: dict[str, tuple[str, list[Member]]] = {}
    first: dict[str, Member] = {}
    for member in sorted(members, key=by_date):
        slug = slug_of(member.name)
        if slug not in groups:
            # The oldest post's spelling names the group, tidied of stray spaces.
            groups[slug] = (squeeze(member.name), [member])
            first[slug] = member
            continue
        name, group = groups[slug]
        group.append(member)
        if member.name != first[slug].name:
            logger.error(
                "weekof: %s: %s %r %s %r in %s; spell it %r so both are one %s",
                where(member.article, what),
                what,
                member.name,
                spelling_difference(member.name, first[slug].name),
                first[slug].name,
                display_path(first[slug].article.source_path),
                name,
                "week" if what == "Week" else "series",
            )
    return groups


def by_date(member: Member) -> tuple[datetime, str]:
    """Date order, then file name for a stable order of posts written at the same minute."""
    return (member.article.date, member.article.source_path)


# -- weeks -------------------------------------------------------------------------------------


def build_weeks(
    members: list[Member], config: dict[str, Any], slug_of: Any
) -> tuple[list[Week], SeriesCollection]:
    """Group posts into weeks, number them by their first post's date and link them."""
    collection = SeriesCollection(
        kind=KIND_WEEK_OF,
        name=config["name"],
        slug=slug_of(config["url"].strip("/").split("/")[-1] or "week-of"),
        url=config["url"],
        save_as=config["save_as"],
    )
    groups = group_by_slug(members, "Week", slug_of)
    weeks: list[Week] = []
    for slug, (theme, group) in groups.items():
        group.sort(key=by_date)
        weeks.append(
            Week(
                number=0,
                theme=theme,
                slug=slug,
                title=config["week_title"].format(theme=theme),
                url=config["week_url"].format(slug=slug),
                save_as=config["week_save_as"].format(slug=slug),
                label="",
                series=collection,
                articles=[member.article for member in group],
            )
        )
    weeks.sort(key=lambda week: (week.first_date, week.slug))
    for number, week in enumerate(weeks, start=1):
        week.number = number
        week.label = config["week_label"].format(
            number=number, series=config["name"], theme=week.theme
        )
        week.prev = weeks[number - 2] if number > 1 else None
        week.next = weeks[number] if number < len(weeks) else None
        collection.ordered.extend(week.articles)
    return weeks, collection


def announce_next_week(
    weeks: list[Week], members: list[Member], config: dict[str, Any], slug_of: Any
) -> None:
    """Set the latest week's announcement from its newest Next-week, unless that week is out."""
    if not weeks:
        return
    latest = weeks[-1]
    in_latest = {id(article) for article in latest.articles}
    announced = ""
    for member in sorted(members, key=by_date):
        if id(member.article) in in_latest:
            announced = squeeze(member.name)
    published = {week.slug for week in weeks}
    if announced and slug_of(announced) not in published:
        latest.next_theme = announced
        latest.next_label = config["next_week_label"].format(theme=announced)


# -- ordinary series ---------------------------------------------------------------------------


def read_part(article: Any) -> int | None:
    """The Series-part as an int; a value that is not a whole number >= 1 gets one line."""
    raw = meta_text(article, "series-part")
    if not raw:
        return None
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    logger.error(
        "weekof: %s: Series-part %r is not a whole number from 1 up; write it like "
        "'Series-part: 2' (ordered by date meanwhile)",
        where(article, "Series-part"),
        raw,
    )
    return None


def build_series(
    members: list[Member], config: dict[str, Any], slug_of: Any
) -> list[SeriesCollection]:
    """Group posts into ordinary series, ordered by part then date, and attach each post's place."""
    collections: list[SeriesCollection] = []
    for slug, (name, group) in group_by_slug(members, "Series", slug_of).items():
        parts = {id(member): read_part(member.article) for member in group}
        claimed: dict[int, Member] = {}
        for member in sorted(group, key=by_date):
            part = parts[id(member)]
            if part is None:
                continue
            if part in claimed:
                logger.error(
                    "weekof: %s: Series-part %d of series %r is also claimed by %s; give each "
                    "post its own part (both kept, in date order)",
                    where(member.article, "Series-part"),
                    part,
                    name,
                    display_path(claimed[part].article.source_path),
                )
            else:
                claimed[part] = member
        # Numbered parts first, in part order; unnumbered ones after them, by date.
        group.sort(key=lambda m: (parts[id(m)] is None, parts[id(m)] or 0, *by_date(m)))
        collection = SeriesCollection(
            kind=KIND_SERIES,
            name=name,
            slug=slug,
            url=config["series_url"].format(slug=slug),
            save_as=config["series_save_as"].format(slug=slug),
            ordered=[member.article for member in group],
        )
        total = collection.total
        for index, member in enumerate(group, start=1):
            member.article.series = SeriesPart(
                collection=collection,
                part=parts[id(member)],
                index=index,
                label=config["part_label"].format(part=index, total=total, name=name),
                prev=group[index - 2].article if index > 1 else None,
                next=group[index].article if index < total else None,
            )
            member.article.series_part_label = member.article.series.label
        collections.append(collection)
    collections.sort(key=lambda collection: collection.slug)
    return collections


# -- handlers ----------------------------------------------------------------------------------


def attach_series(generator: Any) -> None:
    """Group the published posts into weeks and series, attach them, and share them in the context."""
    settings = generator.settings
    config = weekof_settings(settings)
    now = config["now"] or datetime.now(UTC)
    if not isinstance(now, datetime):  # settings not validated (plugin used without initialized)
        now = parse_now(now, settings.get("TIMEZONE", "UTC")) or datetime.now(UTC)
    regex_subs = settings.get("SLUG_REGEX_SUBSTITUTIONS", [])
    use_unicode = settings.get("SLUGIFY_USE_UNICODE", False)

    def slug_of(name: str) -> str:
        return slugify(name, regex_subs=regex_subs, use_unicode=use_unicode)

    everything = [
        *generator.articles,
        *generator.translations,
        *getattr(generator, "hidden_articles", []),
        *getattr(generator, "hidden_translations", []),
        *getattr(generator, "drafts", []),
        *getattr(generator, "drafts_translations", []),
    ]
    # Pelican copied the raw metadata onto the post (article.week == "Encounter"): replace it
    # everywhere so a template never mistakes the string for the object.
    for article in everything:
        article.week = None
        article.series = None
        article.series_part_label = None

    weekly: list[Member] = []
    serial: list[Member] = []
    announcing: list[Member] = []
    for article in generator.articles:
        if not is_listed(article, now):
            continue
        shown = display_path(article.source_path)
        theme = meta_text(article, "week")
        if "week" in article.metadata and not theme:
            logger.error(
                "weekof: %s: Week is empty; write the theme, e.g. 'Week: Encounter'",
                where(article, "Week"),
            )
        if theme:
            weekly.append(Member(article, shown, theme))
            announced = meta_text(article, "next-week")
            if announced:
                announcing.append(Member(article, shown, announced))
        elif meta_text(article, "next-week"):
            logger.error(
                "weekof: %s: Next-week only works on a post of a week; add 'Week: <theme>' "
                "or remove Next-week",
                where(article, "Next-week"),
            )
        name = meta_text(article, "series")
        if name:
            serial.append(Member(article, shown, name))
        elif meta_text(article, "series-part"):
            logger.error(
                "weekof: %s: Series-part without Series; add 'Series: <name>' or remove it",
                where(article, "Series-part"),
            )

    weeks, weekof = build_weeks(weekly, config, slug_of)
    announce_next_week(weeks, announcing, config, slug_of)
    for week in weeks:
        for article in week.articles:
            article.week = week
    series = build_series(serial, config, slug_of)

    generator.context["weekof_weeks"] = weeks
    generator.context["weekof_series"] = weekof
    generator.context["series_collections"] = [weekof, *series]


class SeriesPagesGenerator(Generator):
    """Writes the "Week of" page, one page per week and one per ordinary series."""

    def generate_output(self, writer: Any) -> None:
        """Write every series page through Pelican's writer (collisions are caught there)."""
        weeks: list[Week] = self.context.get("weekof_weeks", [])
        collections: list[SeriesCollection] = self.context.get("series_collections", [])
        relative = self.settings.get("RELATIVE_URLS", False)
        for collection in collections:
            if collection.kind == KIND_WEEK_OF:
                writer.write_file(
                    collection.save_as,
                    self.get_template(TEMPLATES["weeks"]),
                    self.context,
                    relative,
                    url=collection.url,
                    series=collection,
                    weeks=weeks,
                )
            else:
                writer.write_file(
                    collection.save_as,
                    self.get_template(TEMPLATES["series"]),
                    self.context,
                    relative,
                    url=collection.url,
                    series=collection,
                )
        for week in weeks:
            writer.write_file(
                week.save_as,
                self.get_template(TEMPLATES["week"]),
                self.context,
                relative,
                url=week.url,
                # No ``series`` here: the week is the page's subject (the feeds link the
                # "Week of" feed for ``week``, and would list it twice with both).
                week=week,
            )


def add_series_generator(pelican: Any) -> type[Generator]:
    """Give Pelican the generator that writes the series pages."""
    return SeriesPagesGenerator


def register() -> None:
    """Connect the plugin's handlers to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.article_generator_finalized.connect(attach_series)
    signals.get_generators.connect(add_series_generator)
