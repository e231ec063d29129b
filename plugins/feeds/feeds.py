"""Subscription feeds built with python-feedgen: RSS 2.0, Atom and JSON Feed 1.1.

Writes the main feed (with the ebook offered as an enclosure), a feed per tag, per series (from
the weekof plugin's ``series_collections``) and per post's archived comments, and puts
``feed_links`` into the context so every page's ``<head>`` can advertise the feeds that concern it.

Each post's feed HTML (sanitised, URLs made absolute) is prepared once and shared by every feed it
appears in. feedgen 1.0 has traps worked around here: ``add_entry()`` prepends unless told
``order="append"``; the RSS channel link is the href of the *last* ``link()`` call; Atom entry
links lose their rel and type (feedgen issues 135 and 143), so an entry extension writes them;
``type="CDATA"`` is not an Atom content type, so content is escaped ``html``.

Most of the work on a big site is the comment feeds (feedgen builds every entry element by
element, twice: RSS and Atom); one feedgen feed serves both formats of a feed. The feeds are
written by the parallel_output plugin's second process, beside the pages, when it runs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import date as date_type
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import feedgen.entry
import feedgen.feed
import nh3
from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree
from markupsafe import Markup, escape
from pelican import signals

from encounter_habit import incremental, shares
from encounter_habit.urls import make_urls_absolute
from encounter_habit.writing import write_bytes

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    # Feeds need absolute URLs even where SITEURL is "" (development); a real SITEURL wins.
    "site_url": "https://theencounterhabit.com",
    # RFC 4151 tagging entity ("authority,date") of every feed and item id: ids never depend on URLs.
    "tagging_entity": "theencounterhabit.com,2009",
    # Each kind of feed: on/off, output paths per format ("" turns a format off), newest items kept.
    "main": {
        "enabled": True,
        "rss": "feeds/rss.xml",
        "atom": "feeds/atom.xml",
        "json": "feeds/feed.json",
        "limit": 20,
        "ebook": True,  # offer the ebook download as an item with an enclosure
        "ebook_date": "",  # ISO date placing the ebook item; "" takes it from the ebook plugin
    },
    "tags": {
        "enabled": True,
        "rss": "feeds/tag/{slug}/rss.xml",
        "atom": "feeds/tag/{slug}/atom.xml",
        "limit": 20,
    },
    "series": {
        "enabled": True,
        "rss": "feeds/series/{slug}/rss.xml",
        "atom": "feeds/series/{slug}/atom.xml",
        "limit": 50,
    },
    "comments": {
        "enabled": True,
        "rss": "feeds/comments/{slug}/rss.xml",
        "atom": "feeds/comments/{slug}/atom.xml",
        "limit": 50,
    },
}
SECTIONS = ("main", "tags", "series", "comments")
FORMATS = ("rss", "atom", "json")
MEDIA_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
FORMAT_LABELS = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
EPUB_TYPE = "application/epub+zip"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ATOM = "http://www.w3.org/2005/Atom"
NAMESPACES = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
    "thr": "http://purl.org/syndication/thread/1.0",
}
EXTENSION = "encounter_threads"
# Post HTML is trusted but still cleaned: feed validators flag script, iframe and style
# attributes, and readers drop them anyway. Ids stay so footnote links keep working.
POST_ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "*": {"id", "class", "title", "lang", "dir"}}
TAGGING_ENTITY = re.compile(r"^[A-Za-z0-9.@-]+\.[A-Za-z0-9-]+,\d{4}(-\d{2}(-\d{2})?)?$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
FRAGMENT_HREF = re.compile(r"""(\shref=)(["'])#""")


@dataclass
class Enclosure:
    """A file offered with an item (the ebook)."""

    url: str
    length: int
    media_type: str
    title: str = ""


@dataclass(slots=True, weakref_slot=True)  # one per comment in the comment feeds
class Item:
    """One feed item, prepared once and shared by every feed (and format) it appears in."""

    id: str
    url: str
    title: str
    content_html: str
    published: datetime
    updated: datetime
    summary_html: str = ""
    authors: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    comment_count: int | None = None
    comments_url: str = ""
    comments_rss: str = ""
    comments_atom: str = ""
    enclosure: Enclosure | None = None
    in_reply_to: tuple[str, str] | None = None  # (id, url) of the post or comment answered
    _entry: FeedEntry | None = None

    def sort_key(self) -> tuple[datetime, str]:
        """Newest first when sorted in reverse; the id keeps ties in a stable order."""
        return (self.published, self.id)


@dataclass
class FeedLink:
    """A feed a page advertises with <link rel="alternate">."""

    url: str
    type: str
    title: str


@dataclass
class FeedPlan:
    """One feed to write in one or more formats, planned before any page is written."""

    kind: str
    slug: str
    id: str
    title: str
    subtitle: str
    home_url: str
    paths: dict[str, str]
    articles: list[Any] = field(default_factory=list)
    post: Any = None  # for a comment feed: the post whose comments it carries


class ThreadsExtension(BaseExtension):
    """Feed-level half of the extension: declares the namespaces its entries use."""

    def extend_ns(self) -> dict[str, str]:
        return dict(NAMESPACES)


class ThreadsEntryExtension(BaseEntryExtension):
    """dc:creator, slash:comments and wfw:commentRss in RSS; correct links and threading in Atom."""

    def __init__(self) -> None:
        self._item: weakref.ref[Item] | None = None

    # The item holds its entry, which holds this extension: a weak reference back keeps that from
    # being a cycle, so a comment feed's items and entries are freed as soon as it is written
    # rather than piling up for the garbage collector (a second of a 2,000-post build).
    @property
    def item(self) -> Item | None:
        return self._item() if self._item is not None else None

    @item.setter
    def item(self, item: Item) -> None:
        self._item = weakref.ref(item)

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        item = self.item
        if item is None:
            return entry
        # RSS <author> must be an email address; the name alone goes into dc:creator.
        for name in item.authors:
            etree.SubElement(entry, f"{{{NAMESPACES['dc']}}}creator").text = name
        if item.comment_count is not None:
            etree.SubElement(entry, f"{{{NAMESPACES['slash']}}}comments").text = str(
                item.comment_count
            )
        if item.comments_rss:
            etree.SubElement(entry, f"{{{NAMESPACES['wfw']}}}commentRss").text = item.comments_rss
        return entry

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        item = self.item
        if item is None:
            return entry
        # feedgen 1.0 writes entry links with href only (issues 135/143): every link becomes an
        # "alternate" and the validator reports duplicates. entry_of() leaves feedgen no Atom
        # link to write; the complete ones are written here. feedgen builds Atom elements
        # without a namespace (it writes xmlns as a plain attribute of the root), so these are
        # plain "link" elements too.
        etree.SubElement(entry, "link", href=item.url, rel="alternate", type="text/html")
        if item.enclosure:
            add_atom_link(
                entry,
                href=item.enclosure.url,
                rel="enclosure",
                type=item.enclosure.media_type,
                length=str(item.enclosure.length),
                title=item.enclosure.title,
            )
        thr = NAMESPACES["thr"]
        if item.comment_count is not None:
            count = {f"{{{thr}}}count": str(item.comment_count)}
            if item.comments_atom:
                add_atom_link(
                    entry, href=item.comments_atom, rel="replies", type=MEDIA_TYPES["atom"], **count
                )
            add_atom_link(entry, href=item.comments_url, rel="replies", type="text/html", **count)
        if item.in_reply_to:
            ref, href = item.in_reply_to
            etree.SubElement(entry, f"{{{thr}}}in-reply-to", ref=ref, href=href, type="text/html")
        return entry


def add_atom_link(entry: etree._Element, **attributes: str) -> None:
    """Append an Atom <link> with the given attributes (empty ones left out)."""
    etree.SubElement(entry, "link", {key: value for key, value in attributes.items() if value})


def feeds_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """FEEDS merged over DEFAULTS, section by section."""
    user = settings.get("FEEDS") or {}
    if not isinstance(user, dict):
        user = {}
    merged: dict[str, Any] = {**DEFAULTS, **{k: v for k, v in user.items() if k in DEFAULTS}}
    for section in SECTIONS:
        given = user.get(section)
        merged[section] = {**DEFAULTS[section], **(given if isinstance(given, dict) else {})}
    return merged


def check_settings(pelican: Any) -> None:
    """Validate FEEDS once at start-up; each problem is one line and falls back to the default."""
    user = pelican.settings.get("FEEDS") or {}
    if not isinstance(user, dict):
        logger.error("feeds: FEEDS must be a dict, got %r; using the defaults", user)
        user = {}
    user = {key: value for key, value in user.items()}
    for key in sorted(set(user) - set(DEFAULTS)):
        logger.warning("feeds: unknown FEEDS key %r ignored; known: %r", key, sorted(DEFAULTS))
        del user[key]
    for key in ("site_url", "tagging_entity"):
        if key in user and not isinstance(user[key], str):
            logger.error("feeds: FEEDS[%r] must be a string, got %r", key, user[key])
            del user[key]
    if "site_url" in user and not user["site_url"].startswith(("http://", "https://")):
        logger.error(
            "feeds: FEEDS['site_url'] must be an absolute http(s) URL, got %r; using %r",
            user["site_url"],
            DEFAULTS["site_url"],
        )
        del user["site_url"]
    if "tagging_entity" in user and not TAGGING_ENTITY.match(user["tagging_entity"]):
        logger.error(
            "feeds: FEEDS['tagging_entity'] %r is not 'domain,YYYY[-MM[-DD]]' (RFC 4151); using %r",
            user["tagging_entity"],
            DEFAULTS["tagging_entity"],
        )
        del user["tagging_entity"]
    for section in SECTIONS:
        if section in user:
            user[section] = checked_section(section, user[section])
    pelican.settings["FEEDS"] = feeds_settings({"FEEDS": user})


def checked_section(section: str, given: Any) -> dict[str, Any]:
    """The valid keys of one FEEDS section; the others are reported and dropped."""
    defaults = DEFAULTS[section]
    if not isinstance(given, dict):
        logger.error("feeds: FEEDS[%r] must be a dict, got %r; using the defaults", section, given)
        return {}
    kept: dict[str, Any] = {}
    for key, value in given.items():
        if key not in defaults:
            logger.warning(
                "feeds: unknown FEEDS[%r] key %r ignored; known: %r", section, key, sorted(defaults)
            )
        elif key in FORMATS:
            if value in (None, ""):
                kept[key] = ""
            elif not isinstance(value, str) or value.startswith("/") or ".." in value.split("/"):
                logger.error(
                    "feeds: FEEDS[%r][%r] must be a path inside the output, got %r",
                    section,
                    key,
                    value,
                )
            elif section != "main" and "{slug}" not in value:
                logger.error(
                    "feeds: FEEDS[%r][%r] %r needs '{slug}' so each feed has its own file",
                    section,
                    key,
                    value,
                )
            else:
                kept[key] = value
        elif key == "limit":
            if value is None or (
                isinstance(value, int) and not isinstance(value, bool) and value > 0
            ):
                kept[key] = value
            else:
                logger.error(
                    "feeds: FEEDS[%r]['limit'] must be a positive number or None, got %r",
                    section,
                    value,
                )
        elif key == "ebook_date":
            try:
                datetime.fromisoformat(value) if value else None
                kept[key] = value
            except (TypeError, ValueError):
                logger.error(
                    "feeds: FEEDS['main']['ebook_date'] %r is not an ISO date like '2026-11-23'",
                    value,
                )
        elif isinstance(value, bool):
            kept[key] = value
        else:
            logger.error("feeds: FEEDS[%r][%r] must be True or False, got %r", section, key, value)
    return kept


def site_url_of(settings: dict[str, Any], config: dict[str, Any]) -> str:
    """The absolute site URL: SITEURL when it is absolute, else FEEDS['site_url']."""
    siteurl = settings.get("SITEURL") or ""
    if siteurl.startswith(("http://", "https://")):
        return siteurl.rstrip("/")
    return config["site_url"].rstrip("/")


def absolute(site_url: str, relative: str) -> str:
    """An output-relative URL (or an absolute one, left alone) as an absolute URL."""
    if relative.startswith(("http://", "https://")):
        return relative
    return f"{site_url}/{relative.lstrip('/')}"


def as_datetime(day: date_type) -> datetime:
    """A date as midnight of that day; a datetime as itself."""
    return day if isinstance(day, datetime) else datetime.combine(day, datetime.min.time())


def aware(date: datetime, zone: ZoneInfo) -> datetime:
    """The date with a time zone (feedgen refuses naive dates), as a plain datetime: Pelican's
    SafeDatetime formats in Python, directive by directive, and feedgen formats every RSS date."""
    if type(date) is not datetime:
        date = datetime(
            date.year,
            date.month,
            date.day,
            date.hour,
            date.minute,
            date.second,
            date.microsecond,
            date.tzinfo,
            fold=date.fold,
        )
    return date if date.tzinfo else date.replace(tzinfo=zone)


def feed_html(html: str, page_url: str, *, sanitise: bool = True) -> str:
    """HTML fit for a feed: sanitised, every URL absolute against the page's own URL."""
    if sanitise:
        html = nh3.clean(html, attributes=POST_ATTRIBUTES)
    if "=" not in html:
        return html  # no attribute, so no URL to rewrite: most comments
    html = make_urls_absolute(html, page_url)
    # Fragments (footnotes, comment anchors) point into the post, not into the reader's view.
    return FRAGMENT_HREF.sub(lambda m: f"{m[1]}{m[2]}{page_url}#", html)


def plain_text(html: str) -> str:
    """Tags stripped and entities decoded: titles and JSON Feed summaries are plain text."""
    return Markup(html).striptags()


def is_published(article: Any, now: datetime) -> bool:
    """Published status and not dated in the future (Pelican publishes future posts by default)."""
    date = getattr(article, "date", None)
    return getattr(article, "status", "published") == "published" and (
        date is None or date.tzinfo is None or date <= now
    )


class FeedsGenerator:
    """Plans every feed before pages are written (for their <head>) and writes them afterwards."""

    # The feed files are the generator's own and nothing else in the build reads them (the EPUB
    # they offer is written while content is read): the parallel_output plugin may write them in
    # its second process while this one renders the pages.
    parallel_output = True

    def __init__(
        self,
        context: dict[str, Any],
        settings: dict[str, Any],
        path: str,
        theme: str,
        output_path: str,
        **_kwargs: Any,
    ) -> None:
        self.context = context
        self.settings = settings
        self.path = path
        self.output_path = output_path
        self.config = feeds_settings(settings)
        self.site_url = site_url_of(settings, self.config)
        self.entity = self.config["tagging_entity"]
        self.zone = ZoneInfo(settings.get("TIMEZONE") or "UTC")
        self.plans: list[FeedPlan] = []
        self.published: list[Any] = []
        self.items: dict[int, Item] = {}
        self.ids: dict[int, str] = {}
        self.urls: dict[int, str] = {}

    def generate_context(self) -> None:
        """Nothing to read: the feeds are planned once every generator has its context."""

    # Planning ----------------------------------------------------------------------------------

    def plan(self) -> None:
        """Decide every feed and its paths, and publish ``feed_links`` for the templates."""
        now = datetime.now(UTC)
        articles = [a for a in self.context.get("articles", []) if is_published(a, now)]
        self.published = sorted(articles, key=lambda a: (a.date, a.slug), reverse=True)
        self.plans = []
        self.taken: set[str] = set()  # output paths planned so far
        sitename = self.settings.get("SITENAME", "")
        description = self.settings.get("SITE_DESCRIPTION") or self.settings.get("SITESUBTITLE", "")
        config = self.config
        if config["main"]["enabled"]:
            self.add_plan(
                "main", "", f"{sitename}", description, f"{self.site_url}/", self.published
            )
        if config["tags"]["enabled"]:
            by_tag: dict[str, tuple[Any, list[Any]]] = {}
            for article in self.published:
                for tag in getattr(article, "tags", None) or []:
                    by_tag.setdefault(tag.slug, (tag, []))[1].append(article)
            for slug, (tag, tagged) in sorted(by_tag.items()):
                self.add_plan(
                    "tags",
                    slug,
                    f"{sitename}: posts tagged “{tag.name}”",
                    f"Posts of {sitename} tagged “{tag.name}”.",
                    absolute(self.site_url, tag.url),
                    tagged,
                )
        if config["series"]["enabled"]:
            published = set(map(id, self.published))
            for collection in self.context.get("series_collections") or []:
                members = [a for a in getattr(collection, "articles", []) if id(a) in published]
                slug = getattr(collection, "slug", "")
                if not members or not slug:
                    continue
                members.sort(key=lambda a: (a.date, a.slug), reverse=True)
                self.add_plan(
                    "series",
                    slug,
                    f"{sitename}: {collection.name}",
                    f"Every post of {collection.name}, from {sitename}.",
                    absolute(self.site_url, getattr(collection, "url", "") or ""),
                    members,
                    week_of=getattr(collection, "kind", "") == "week-of",
                )
        if config["comments"]["enabled"]:
            for article in self.published:
                if visible_comments(article):
                    self.add_plan(
                        "comments",
                        article.slug,
                        f"Comments on “{plain_text(article.title)}”",
                        f"Comments on “{plain_text(article.title)}”, from {sitename}.",
                        f"{self.url_of(article)}#comments",
                        [],
                        post=article,
                    )
        self.context["feed_links"] = self.link_index()

    def add_plan(
        self,
        kind: str,
        slug: str,
        title: str,
        subtitle: str,
        home_url: str,
        articles: list[Any],
        *,
        week_of: bool = False,
        post: Any = None,
    ) -> FeedPlan | None:
        """Plan one feed; a path another feed already takes is reported and that format skipped."""
        section = self.config[kind]
        paths = {
            fmt: section[fmt].replace("{slug}", slug)
            for fmt in FORMATS
            if section.get(fmt) and (fmt != "json" or kind == "main")
        }
        for fmt, path in list(paths.items()):
            if path in self.taken:
                logger.error(
                    "feeds: %s feed %r would overwrite %r written by another feed; rename the "
                    "tag or series slug",
                    kind,
                    slug,
                    path,
                )
                del paths[fmt]
        if not paths:
            return None
        self.taken.update(paths.values())
        feed_key = "main" if kind == "main" else f"{kind}/{slug}"
        if kind == "comments":
            feed_key = f"comments/{self.post_key(post, slug)}"
        plan = FeedPlan(
            kind="week-of" if week_of else kind,
            slug=slug,
            id=f"tag:{self.entity}:feed/{feed_key}",
            title=title,
            subtitle=subtitle,
            home_url=home_url,
            paths=paths,
            articles=articles[: section["limit"]] if section["limit"] else list(articles),
            post=post,
        )
        self.plans.append(plan)
        return plan

    def url_of(self, article: Any) -> str:
        """The post's absolute URL, worked out once (Pelican formats a post's URL at every use)."""
        url = self.urls.get(id(article))
        if url is None:
            url = self.urls[id(article)] = absolute(self.site_url, article.url)
        return url

    def post_key(self, article: Any, slug: str) -> str:
        """'YYYY-MM-DD/slug': the date and slug a post's default ids are made of."""
        date = getattr(article, "date", None)
        # date's own strftime: Pelican's SafeDatetime would format in Python, once per comment feed
        return f"{date_type.strftime(date, '%Y-%m-%d')}/{slug}" if date else slug

    def link_index(self) -> dict[str, Any]:
        """{'main': [...], 'tags': {slug: [...]}, 'series': {slug: [...]}, 'week_of': [...],
        'comments': {post slug: [...]}}: the <link rel="alternate"> of each feed, for templates."""
        index: dict[str, Any] = {
            "main": [],
            "tags": {},
            "series": {},
            "week_of": [],
            "comments": {},
        }
        for plan in self.plans:
            links = [
                FeedLink(
                    url=absolute(self.site_url, path),
                    type=MEDIA_TYPES[fmt],
                    title=f"{plan.title} ({FORMAT_LABELS[fmt]})",
                )
                for fmt, path in plan.paths.items()
            ]
            if plan.kind == "main":
                index["main"] = links
            elif plan.kind == "week-of":
                index["week_of"] = links
                index["series"][plan.slug] = links
            else:
                index[plan.kind][plan.slug] = links
        return index

    # Items -------------------------------------------------------------------------------------

    def item_of(self, article: Any) -> Item:
        """The feed item of a post, built on first use: its HTML is prepared exactly once."""
        key = id(article)
        if key in self.items:
            return self.items[key]
        url = self.url_of(article)
        date = aware(article.date, self.zone)
        modified = getattr(article, "modified", None)
        updated = max(date, aware(modified, self.zone)) if modified else date
        comment_count = getattr(article, "comment_count", None)
        comment_feeds = self.context.get("feed_links", {}).get("comments", {}).get(article.slug, [])
        by_type = {link.type: link.url for link in comment_feeds}
        item = Item(
            id=self.post_id(article),
            url=url,
            title=plain_text(article.title),
            content_html=feed_html(article.content, url),
            summary_html=feed_html(getattr(article, "summary", "") or "", url),
            published=date,
            updated=updated,
            authors=[a.name for a in getattr(article, "authors", None) or []],
            tags=[t.name for t in getattr(article, "tags", None) or []],
            comment_count=comment_count,
            comments_url=f"{url}#comments" if comment_count is not None else "",
            comments_rss=by_type.get(MEDIA_TYPES["rss"], ""),
            comments_atom=by_type.get(MEDIA_TYPES["atom"], ""),
        )
        self.items[key] = item
        return item

    def post_id(self, article: Any) -> str:
        """The post's permanent id: its Feed-Id metadata, else a tag: URI of its date and slug."""
        if id(article) not in self.ids:  # once per post, so a bad Feed-Id is reported once
            self.ids[id(article)] = self.make_post_id(article)
        return self.ids[id(article)]

    def make_post_id(self, article: Any) -> str:
        """Work out the post's id (see post_id)."""
        default = f"tag:{self.entity}:post/{self.post_key(article, article.slug)}"
        given = (getattr(article, "metadata", None) or {}).get("feed-id")
        if given is None:
            return default
        given = str(given).strip()
        if URI.match(given):
            return given
        logger.error(
            "feeds: %s: Feed-Id %r is not a URI; write it like 'Feed-Id: tag:%s:my-post' "
            "(and never change it); using %r",
            self.shown(article),
            given,
            self.entity,
            default,
        )
        return default

    def shown(self, article: Any) -> str:
        """The post's source file, relative to the content folder, for messages."""
        source = getattr(article, "source_path", "") or ""
        return os.path.relpath(source, self.path) if source else article.slug

    def comment_items(self, article: Any, limit: int | None) -> list[Item]:
        """The comments of a post as items (newest first), each answering its parent or the post."""
        # The post's identity only: its HTML is not needed here, so it is not prepared.
        url = self.url_of(article)
        post = Item(
            id=self.post_id(article),
            url=url,
            title=plain_text(article.title),
            content_html="",
            published=aware(article.date, self.zone),
            updated=aware(article.date, self.zone),
        )
        key = self.post_key(article, article.slug)
        items: list[Item] = []
        # Depth first, each reply after its parent, with a stack rather than a recursive closure
        # (a closure that calls itself is a reference cycle: every item would wait for the
        # garbage collector).
        top = [c for c in getattr(article, "comments", None) or [] if not c.is_pingback]
        stack = [(comment, post) for comment in reversed(top)]
        while stack:
            comment, parent = stack.pop()
            date = aware(comment.date, self.zone) if comment.date else post.published
            item = Item(
                id=f"tag:{self.entity}:comment/{key}/{comment.id}",
                url=f"{post.url}#{comment.anchor}",
                title=f"Comment by {comment.author} on “{post.title}”",
                # Already sanitised by the comments plugin's nh3 pass, once.
                content_html=feed_html(comment.html, post.url, sanitise=False),
                published=date,
                updated=date,
                authors=[comment.author],
                in_reply_to=(parent.id, parent.url),
            )
            items.append(item)
            stack += [(reply, item) for reply in reversed(comment.replies)]
        items.sort(key=Item.sort_key, reverse=True)
        return items[:limit] if limit else items

    def ebook_item(self) -> Item | None:
        """The ebook offered as an item with its download as the enclosure, or None."""
        ebook = self.context.get("ebook")
        if ebook is None or not self.config["main"]["ebook"]:
            return None
        downloads = list(getattr(ebook, "downloads", None) or [])
        download = next(
            (d for d in downloads if getattr(d, "media_type", "") == EPUB_TYPE),
            downloads[0] if downloads else None,
        )
        if download is None:
            return None  # nothing built (no chapters yet): nothing to offer
        relative = getattr(download, "path", "") or ""
        file = os.path.join(self.output_path, relative) if relative else ""
        # The size of the file actually written wins over what was announced.
        length = os.path.getsize(file) if file and os.path.isfile(file) else None
        if length is None:
            length = getattr(download, "length", None)
        date = self.ebook_date(ebook)
        if length is None or date is None:
            logger.warning(
                "feeds: the ebook download %r is not in the output yet; the feeds do not offer "
                "it (build the EPUB before the feeds are written)",
                relative,
            )
            return None
        title = getattr(ebook, "title", "") or self.settings.get("EBOOK_TITLE", "")
        subtitle = getattr(ebook, "subtitle", "") or self.settings.get("EBOOK_SUBTITLE", "")
        landing = absolute(self.site_url, getattr(ebook, "url", "") or "")
        enclosure = Enclosure(
            url=absolute(self.site_url, getattr(download, "url", "") or relative),
            length=int(length),
            media_type=getattr(download, "media_type", "") or EPUB_TYPE,
            title=getattr(download, "label", "") or title,
        )
        chapters = "".join(
            f"<li>{escape(plain_text(getattr(chapter, 'title', '')))}</li>"
            for chapter in getattr(ebook, "chapters", None) or []
        )
        about = getattr(ebook, "description", "") or f"{title}: {subtitle}"
        html = (
            f"<p>{escape(about)}</p>"
            f"<p><cite>{escape(title)}: {escape(subtitle)}</cite>, free for readers of "
            f"{escape(self.settings.get('SITENAME', ''))}.</p>"
            + (f"<ol>{chapters}</ol>" if chapters else "")
            + f'<p><a href="{escape(enclosure.url)}">Download {escape(title)}</a> '
            f'or <a href="{escape(landing)}">read it on the site</a>.</p>'
        )
        stem = os.path.splitext(os.path.basename(relative))[0] or "ebook"
        return Item(
            id=f"tag:{self.entity}:ebook/{stem}",
            url=landing,
            title=f"Free ebook: {title}, {subtitle}" if subtitle else f"Free ebook: {title}",
            content_html=html,
            summary_html=f"<p>{escape(about)}</p>",
            published=date,
            updated=date,
            authors=[getattr(ebook, "author", "") or self.settings.get("AUTHOR", "")],
            enclosure=enclosure,
        )

    def ebook_date(self, ebook: Any) -> datetime | None:
        """Where the ebook item sits: the setting, the ebook's date, its newest chapter, the newest post."""
        setting = self.config["main"]["ebook_date"]
        if setting:
            return aware(as_datetime(datetime.fromisoformat(setting)), self.zone)
        own = getattr(ebook, "date", None)
        if isinstance(own, date_type):
            return aware(as_datetime(own), self.zone)
        dates = [
            aware(d, self.zone)
            for chapter in getattr(ebook, "chapters", None) or []
            for d in (getattr(chapter, "modified", None), getattr(chapter, "date", None))
            if isinstance(d, datetime)
        ]
        if dates:
            return max(dates)
        return aware(self.published[0].date, self.zone) if self.published else None

    # Output ------------------------------------------------------------------------------------

    def generate_output(self, writer: Any) -> None:
        """Write every planned feed in each of its formats."""
        started = time.perf_counter()
        if not self.plans and "feed_links" not in self.context:
            self.plan()  # all_generators_finalized did not reach us (should not happen)
        written = reused = 0
        self.items.clear()  # a post's body may have changed since an earlier run (livereload)
        memo = incremental.active()
        folders = memo.folders_first(
            self.output_path,
            (os.path.dirname(path) for plan in self.plans for path in plan.paths.values()),
        )
        # Each feed is written by one process, whichever takes it first (see parallel_output).
        for plan in shares.take(self, self.plans):
            if memo.untouched(list(plan.paths.values()), self.sources_of(plan)):
                reused += len(plan.paths)  # a live rebuild that changed none of its posts
                continue
            key = self.plan_key(plan, memo)
            todo = {
                fmt: path
                for fmt, path in plan.paths.items()
                if not memo.reuse(path, incremental.digest(key, fmt, path))
            }
            reused += len(plan.paths) - len(todo)
            if not todo:
                continue
            for path, data in self.render_plan(plan, self.items_of(plan), todo):
                folder = os.path.dirname(path)
                if folder not in folders:
                    os.makedirs(os.path.join(self.output_path, folder), exist_ok=True)
                    folders.add(folder)
                write_bytes(os.path.join(self.output_path, path), data)
                written += 1
        logger.info(
            "feeds: wrote %d feed files (%d unchanged) for %d posts in %.2fs%s",
            written,
            reused,
            len(self.items),
            time.perf_counter() - started,
            " (this process's share)" if shares.shared(self) else "",
        )

    @staticmethod
    def sources_of(plan: FeedPlan) -> list[Any]:
        """The posts a feed is made from."""
        return [*plan.articles, *([plan.post] if plan.post is not None else [])]

    def plan_key(self, plan: FeedPlan, memo: Any) -> str:
        """What a feed is made of, for incremental builds: its posts (bodies, comments) and code."""
        parts = [memo.code, memo.site, plan.kind, plan.slug]
        parts += [memo.content_fingerprint(article) for article in plan.articles]
        if plan.post is not None:
            parts.append(memo.content_fingerprint(plan.post))
        if plan.kind == "main":
            ebook = self.context.get("ebook")
            for download in getattr(ebook, "downloads", None) or []:
                parts.append(f"{getattr(download, 'path', '')}:{getattr(download, 'length', '')}")
        return incremental.digest(*parts)

    def items_of(self, plan: FeedPlan) -> list[Item]:
        """The items of one feed, newest first."""
        if plan.kind == "comments":
            return self.comment_items(plan.post, self.config["comments"]["limit"])
        items = [self.item_of(article) for article in plan.articles]
        if plan.kind == "main":
            ebook = self.ebook_item()
            if ebook is not None:  # always offered, however old its date
                items.append(ebook)
        items.sort(key=Item.sort_key, reverse=True)
        return items

    def render_plan(
        self, plan: FeedPlan, items: list[Item], todo: dict[str, str]
    ) -> list[tuple[str, bytes]]:
        """(path, bytes) of each format of one feed still to write; a format that fails is
        reported and left out."""
        written = []
        generator = None
        for fmt, path in todo.items():
            self_url = absolute(self.site_url, path)
            try:
                if fmt == "json":
                    data = self.render_json(plan, items, self_url)
                else:
                    # One feedgen feed serves both XML formats: its entries are added once.
                    generator = generator or self.feed_generator(plan, items)
                    data = self.render_xml(generator, plan, fmt, self_url)
            except ValueError as exc:
                logger.error("feeds: cannot write %r: %s", path, exc)
                continue
            written.append((path, data))
        return written

    def feed_generator(self, plan: FeedPlan, items: list[Item]) -> FeedGenerator:
        """The feedgen feed of a plan, with its entries; links are set per format."""
        updated = max((item.updated for item in items), default=None)
        generator = FeedGenerator()
        generator.register_extension(EXTENSION, ThreadsExtension, ThreadsEntryExtension)
        generator.id(plan.id)
        generator.title(plan.title)
        generator.subtitle(plan.subtitle or plan.title)
        generator.author({"name": self.settings.get("AUTHOR", "") or plan.title})
        generator.language(self.settings.get("DEFAULT_LANG", "en"))
        if updated is not None:  # stable across rebuilds; an empty feed says "now"
            generator.updated(updated)  # also the RSS lastBuildDate
        for item in items:
            # feedgen prepends by default, which would reverse the order.
            generator.add_entry(self.entry_of(item), order="append")
        return generator

    def render_xml(
        self, generator: FeedGenerator, plan: FeedPlan, fmt: str, self_url: str
    ) -> bytes:
        """The bytes of one RSS or Atom feed file."""
        # Order matters: feedgen's RSS channel <link> is the href of the last link() call.
        generator.link(href=self_url, rel="self", type=MEDIA_TYPES[fmt], replace=True)
        generator.link(href=plan.home_url, rel="alternate", type="text/html")
        # The element tree feedgen's rss_str()/atom_str() would serialise (feedgen 1.0, pinned
        # below 2): taken as it is, not serialised and parsed again for the cleanup below.
        root, _ = generator._create_rss() if fmt == "rss" else generator._create_atom()
        # Entries are built apart from the feed, so their namespaces were declared on each
        # element; hoist them to the root once (and drop those this feed does not use).
        etree.cleanup_namespaces(root, top_nsmap=NAMESPACES)
        return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)

    def entry_of(self, item: Item) -> FeedEntry:
        """The feedgen entry of an item, built once and shared by every feed and format."""
        if item._entry is not None:
            return item._entry
        entry = FeedEntry()
        entry.register_extension(EXTENSION, ThreadsEntryExtension)
        getattr(entry, EXTENSION).item = item
        entry.id(item.id)  # also the RSS guid, isPermaLink="false": a tag: URI is no URL
        entry.title(item.title)
        entry.link(href=item.url, rel="alternate", type="text/html")
        entry.content(item.content_html, type="html")  # escaped: valid Atom, RSS content:encoded
        if item.summary_html:
            entry.summary(item.summary_html, type="html")
        entry.published(item.published)
        entry.updated(item.updated)
        if item.authors:
            entry.author([{"name": name} for name in item.authors])
        if item.tags:
            entry.category([{"term": name} for name in item.tags])
        if item.comments_url:
            entry.comments(item.comments_url)
        if item.enclosure:
            entry.enclosure(
                item.enclosure.url, str(item.enclosure.length), item.enclosure.media_type
            )
        # RSS keeps the <link> and <enclosure> feedgen took from those links; Atom gets none
        # from feedgen (see ThreadsEntryExtension.extend_atom), so none has to be removed.
        entry.link([], replace=True)
        item._entry = entry
        return entry

    def render_json(self, plan: FeedPlan, items: list[Item], self_url: str) -> bytes:
        """A JSON Feed 1.1 document."""
        feed: dict[str, Any] = {
            "version": JSON_FEED_VERSION,
            "title": plan.title,
            "home_page_url": plan.home_url,
            "feed_url": self_url,
            "description": plan.subtitle,
            "language": self.settings.get("DEFAULT_LANG", "en"),
            "authors": [{"name": self.settings.get("AUTHOR", ""), "url": f"{self.site_url}/"}],
            "items": [json_item(item) for item in items],
        }
        return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def json_item(item: Item) -> dict[str, Any]:
    """One JSON Feed item."""
    data: dict[str, Any] = {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "content_html": item.content_html,
        "date_published": item.published.isoformat(),
        "date_modified": item.updated.isoformat(),
    }
    if item.summary_html:
        data["summary"] = " ".join(plain_text(item.summary_html).split())
    if item.authors:
        data["authors"] = [{"name": name} for name in item.authors]
    if item.tags:
        data["tags"] = item.tags
    if item.enclosure:
        data["attachments"] = [
            {
                "url": item.enclosure.url,
                "mime_type": item.enclosure.media_type,
                "size_in_bytes": item.enclosure.length,
                "title": item.enclosure.title,
            }
        ]
    if item.comment_count is not None:
        # JSON Feed has no comment fields: an extension object (leading underscore) carries them.
        data["_encounter_habit"] = {
            "comment_count": item.comment_count,
            "comments_url": item.comments_url,
            "comments_feed_url": item.comments_rss or None,
        }
    return data


def visible_comments(article: Any) -> bool:
    """True when the post has at least one archived comment (pingbacks are not comments)."""
    return any(not c.is_pingback for c in getattr(article, "comments", None) or [])


def add_feeds_generator(pelican: Any) -> type[FeedsGenerator]:
    """Hand Pelican the feeds generator."""
    return FeedsGenerator


def plan_feeds(generators: list[Any]) -> None:
    """Plan the feeds once every generator has its context, before any page is written."""
    for generator in generators:
        if isinstance(generator, FeedsGenerator):
            generator.plan()


def use_locale_free_dates() -> None:
    """Have feedgen write its RSS dates ("Tue, 07 Jan 2014 02:27:00 +0000") with the standard
    library's ``format_datetime`` (feedgen's dates are timezone-aware: never "-0000").

    feedgen 1.0 formats each date with strftime between two ``setlocale`` calls that switch the
    whole process to the "C" locale and back: 0.5 s of a 2,000-post build (40,000 comment
    entries), and not thread-safe (``invoke livereload`` serves pages from a thread while it
    builds). The standard library's RFC 2822 formatter never looks at the locale.
    """
    feedgen.entry.formatRFC2822 = feedgen.feed.formatRFC2822 = format_datetime


def register() -> None:
    """Connect the plugin's handlers to Pelican's signals."""
    use_locale_free_dates()
    signals.initialized.connect(check_settings)
    signals.get_generators.connect(add_feeds_generator)
    signals.all_generators_finalized.connect(plan_feeds)
