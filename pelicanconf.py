"""Settings for building The Encounter Habit locally (see publishconf.py for production)."""

from __future__ import annotations

AUTHOR = "Steve Yastrow"
SITENAME = "The Encounter Habit"
SITESUBTITLE = "Make every customer interaction an encounter, not a transaction."
SITEURL = ""  # relative URLs while writing; publishconf.py sets the real one
SITE_DESCRIPTION = (
    "A weekly newsletter about customer relationships: how to turn transactions into encounters, "
    "one interaction at a time."
)
PATH = "content"
OUTPUT_PATH = "output"
CACHE_PATH = ".build-cache"  # content cache and incremental-build manifest (safe to delete)
TIMEZONE = "America/Chicago"
DEFAULT_LANG = "en"
DEFAULT_DATE_FORMAT = "%B %-d, %Y"
DEFAULT_PAGINATION = 10
SUMMARY_MAX_LENGTH = 60
# Listings show the opening paragraph only: a list or a second paragraph makes a card a wall of text.
SUMMARY_MAX_PARAGRAPHS = 1

# Where things live in content/: posts are articles, pages are pages; comment archives and ebook
# chapters are read by their own plugins, never as articles.
ARTICLE_PATHS = ["posts"]
PAGE_PATHS = ["pages"]
ARTICLE_EXCLUDES = ["comments", "ebook"]
PAGE_EXCLUDES = ["comments", "ebook"]
STATIC_PATHS = ["images"]
# robots.txt is a theme template (a direct template) so it can name the sitemap by its absolute URL.
TEMPLATE_EXTENSIONS = [".html", ".txt"]
IGNORE_FILES = [".#*", "*~", "*.swp", "README.md", "legacy-overrides.*"]

THEME = "theme"
PLUGIN_PATHS = ["plugins"]
PLUGINS = [
    "content_checks",
    "reused_markdown",  # one Markdown instance per reader, reset between posts
    "parallel_reading",  # half the posts converted by a forked child; relies on no other plugin
    "frozen_urls",  # before incremental: its site key reads every URL
    "incremental",
    "parallel_output",  # after incremental: its child asks for the incremental writer
    "sitemap_xml",
    "rendered_once",  # each post's card rendered once a build, however many listings show it
    "comments",
    "weekof",
    "newsletter_email",
    "ebook",
    "feeds",
]

COMMENTS = {
    "path": "comments",  # the comment archives, relative to PATH
    # offered under every thread while the archive is closed to new comments (the author published
    # this address himself, in the archive's own comments)
    "reply_email": "steve@yastrow.com",
}

# The newsletter: every post as an email under output/email/<slug>/ (see README, "Newsletter email").
# From and Reply-To addresses are left to SUBSCRIBERS (the sender), the one place for them.
NEWSLETTER = {
    "from_name": "Steve Yastrow at The Encounter Habit",
    "postal_address": "",  # required by anti-spam laws before sending: the sender's street address
}

WEEKOF = {
    # the weekly series as readers see it: page title, and the name its navigation is announced by
    "name": "The “Week of” series",
}

# Only what differs from each plugin's defaults is set here; the README lists every key.
FEEDS = {
    "site_url": "https://theencounterhabit.com",  # used while SITEURL is not absolute
    "tagging_entity": "theencounterhabit.com,2009",  # RFC 4151 authority,date of every id: never change
}

SUBSCRIBERS = {
    "service_url": "http://127.0.0.1:5000",  # publishconf.py: the service's public https URL
    "from_address": "newsletter@theencounterhabit.com",
    "reply_to": "steve@yastrow.com",
    # sends land in var/outbox/ as .eml files; for real sending set "smtp" with
    # smtp_host/smtp_port/smtp_security/smtp_user (password: ENCOUNTER_SMTP_PASSWORD)
    "transport": "outbox",
}

SITEMAP_XML = {
    "path": "sitemap.xml",
    "exclude": ["404.html", "drafts/*", "email/*"],
}

# Pretty URLs: /2009/09/make-this-the-week-of-encounter/
ARTICLE_URL = "{date:%Y}/{date:%m}/{slug}/"
ARTICLE_SAVE_AS = "{date:%Y}/{date:%m}/{slug}/index.html"
DRAFT_URL = "drafts/{slug}/"
DRAFT_SAVE_AS = "drafts/{slug}/index.html"
PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"
TAG_URL = "tag/{slug}/"
TAG_SAVE_AS = "tag/{slug}/index.html"
TAGS_URL = "tags/"
TAGS_SAVE_AS = "tags/index.html"
AUTHOR_URL = "author/{slug}/"
AUTHOR_SAVE_AS = "author/{slug}/index.html"
AUTHORS_URL = "authors/"
AUTHORS_SAVE_AS = "authors/index.html"
ARCHIVES_URL = "archives/"
ARCHIVES_SAVE_AS = "archives/index.html"
YEAR_ARCHIVE_SAVE_AS = ""
MONTH_ARCHIVE_URL = "{date:%Y}/{date:%m}/"
MONTH_ARCHIVE_SAVE_AS = "{date:%Y}/{date:%m}/index.html"
# Categories are not part of this site's vocabulary (tags and series carry the structure), but
# Pelican needs one per post (its draft writer crashes without): every post is in "Posts", through
# DEFAULT_METADATA because DEFAULT_CATEGORY is ignored once CATEGORY_SAVE_AS is empty.
DEFAULT_METADATA = {"category": "Posts"}
USE_FOLDER_AS_CATEGORY = False
CATEGORY_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
DIRECT_TEMPLATES = ["index", "archives", "tags", "authors", "robots"]
ROBOTS_SAVE_AS = "robots.txt"
PAGINATION_PATTERNS = (
    (1, "{url}", "{save_as}"),
    (2, "{base_name}/page/{number}/", "{base_name}/page/{number}/index.html"),
)
INDEX_SAVE_AS = "index.html"
SLUGIFY_SOURCE = "title"

# Pelican's own feeds are off: the feeds plugin builds every feed once, with feedgen.
FEED_ALL_ATOM = None
FEED_ALL_RSS = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TAG_FEED_ATOM = None

# Autoescape everywhere (Pelican leaves it off): HTML is marked safe only where it is trusted or
# sanitised.
JINJA_ENVIRONMENT = {
    "autoescape": True,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "extensions": [],
}

MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.extra": {},
        "markdown.extensions.meta": {},
        "markdown.extensions.toc": {"permalink": False},
        # smarty's typography (curly quotes, dashes, ellipses), same output, a fraction of the time
        "encounter_habit.smarty": {},
        # code spans searched for only in text that has a backtick (same output, 15% less time)
        "encounter_habit.backticks": {},
        # each inline pattern tried only on text that holds what its matches consume (same output)
        "encounter_habit.quick_inline": {},
        # each block processor asked only about blocks holding what it needs (same output)
        "encounter_habit.quick_blocks": {},
    },
    "output_format": "html5",
}

# What every page offers: the free ebook for subscribing.
EBOOK_TITLE = "Encounters"
EBOOK_SUBTITLE = "The Building Blocks of We Relationships"

MENUITEMS = [
    ("Archives", "archives/"),
    ("Week of", "week-of/"),
    ("Ebook", "ebook/"),
]
# The theme's stylesheets, in order; plugins with their own component add theirs here.
THEME_STYLESHEETS = [
    "tokens.css",
    "base.css",
    "layout.css",
    "post.css",
    "listing.css",
    "cta.css",
    "comments.css",
    "series.css",
    "ebook.css",
    "media.css",
]
# Where the ebook form on every page posts the reader's address: the subscription service.
SUBSCRIBE_ACTION = SUBSCRIBERS["service_url"] + "/subscribe"
DISPLAY_PAGES_ON_MENU = True
DISPLAY_CATEGORIES_ON_MENU = False

RELATIVE_URLS = False
DELETE_OUTPUT_DIRECTORY = False
