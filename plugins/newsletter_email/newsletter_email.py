"""Newsletter email: every published post (and each "Week of" week) rendered as a ready-to-send email.

The build writes ``email/<slug>/`` for each post: ``message.eml`` (multipart/alternative, the
subscriber's links left as the placeholders of ``encounter_habit/placeholders.py`` that the sender
fills), ``email.txt`` (its plain-text part) and ``index.html`` (the same HTML as the public "view in
browser" page: noindex, and a subscribe link instead of anyone's unsubscribe link). Each week of the
weekof plugin gets a digest under ``email/week-of-<theme slug>/``.
"""

from __future__ import annotations

import binascii
import hashlib
import itertools
import logging
import os
import re
import textwrap
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, quote
from functools import partial
from html import escape, unescape
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import css_inline
import nh3
from lxml import html as lxml_html
from markupsafe import Markup
from markupsafe import escape as escape_markup
from pelican import signals
from pelican.generators import Generator
from pelican.utils import sanitised_join, slugify
from PIL import Image, UnidentifiedImageError

from encounter_habit import incremental, placeholders, shares
from encounter_habit.urls import make_urls_absolute
from encounter_habit.writing import write_bytes

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "name": "",  # the newsletter's name; empty: SITENAME
    "from_name": "",  # display name in From; empty: the newsletter's name
    # From and Reply-To: empty means the sender's SUBSCRIBERS values, so the From header and the
    # envelope sender agree (SPF/DMARC alignment) without being configured twice.
    "from_address": "",  # empty: SUBSCRIBERS['from_address'], else DEFAULT_FROM_ADDRESS
    "reply_to": "",  # empty: SUBSCRIBERS['reply_to'], else no Reply-To (replies go to From)
    "postal_address": "",  # anti-spam laws (CAN-SPAM) want one in every issue: set it
    "list_id": "",  # List-Id; empty: newsletter.<site domain>
    "site_url": "http://127.0.0.1:8000",  # absolute base while SITEURL is "" (development)
    "subscribe_url": "",  # offered on the public "view in browser" page; empty: SUBSCRIBE_ACTION
    "path": "email/{slug}/",  # output folder of each post's email
    "digest_slug": "week-of-{slug}",  # email slug of a week's digest ({slug}: the week's theme)
    "max_html_bytes": 90_000,  # Gmail clips HTML over ~102 KB; stay well under it
    "text_width": 72,
    "reason": "You are receiving this because you subscribed to {name} at {site}.",
}
DEFAULT_FROM_ADDRESS = "newsletter@encounterhabit.example"
STRING_KEYS = tuple(key for key, value in DEFAULTS.items() if isinstance(value, str))
POSITIVE_INT_KEYS = ("max_html_bytes", "text_width")
STYLESHEET = "email/email.css"
OUTPUT_FILES = ("index.html", "email.txt", "message.eml")  # in each email's folder
POST_TEMPLATE = "email/post"
DIGEST_TEMPLATE = "email/digest"
PREHEADER_LENGTH = 140
# Zero-width joiners and spaces after the preheader stop clients from padding the inbox preview
# with the first words of the body (masthead, date).
PREHEADER_PADDING = Markup("&#847;&zwnj;&nbsp;" * 60)
CONTENT_WIDTH = 552  # px: the 600 px column minus its padding; wider images are scaled down
# Scripts, iframes, forms and embeds never work in email and some clients reject the message:
# keep the post's structure, drop the rest.
EMAIL_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "width", "height", "title"},
}
BLOCK_TAGS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "hr",
    "table", "thead", "tbody", "tfoot", "tr", "figure", "figcaption", "dl", "dt", "dd",
    "section", "article", "header", "footer", "aside", "details", "summary", "center", "nav",
}  # fmt: skip
_STYLE = re.compile(r"<style>.*?</style>", re.S)
# A start tag's attributes (quoted values may hold ">"; text holds no "<": serialisers escape
# it), and each attribute's name and value, quoted or not.
_TAG = re.compile(r"""<[a-zA-Z][^\s/>]*((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
# Stand-ins for template values (private-use characters: no template, stylesheet or HTML
# serialiser makes or changes them), and the comment that separates fragments styled together.
_SLOT = "\ue000{}\ue001"
_SLOTS = re.compile("\ue000(\\d+)\ue001")
_CUT = "<!--\ue002-->"
# A header value the SMTP policy writes unchanged: printable ASCII words between single spaces.
_PLAIN_HEADER = re.compile(r"[!-~]+(?: [!-~]+)*")
ABSOLUTE = re.compile(r"^(https?:|mailto:|%%[A-Z_]+%%$)")

_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


# --- settings -----------------------------------------------------------------------------------


def newsletter_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """NEWSLETTER merged over DEFAULTS (after check_settings, already merged and valid)."""
    return {**DEFAULTS, **(settings.get("NEWSLETTER") or {})}


def check_settings(pelican: Any) -> None:
    """Validate NEWSLETTER once at start-up; each problem is one line and its default is used."""
    user = pelican.settings.get("NEWSLETTER") or {}
    if not isinstance(user, dict):
        logger.error(
            "newsletter_email: NEWSLETTER must be a dict, got %r; using the defaults", user
        )
        user = {}
    user = dict(user)
    for key in sorted(set(user) - set(DEFAULTS)):
        logger.warning(
            "newsletter_email: unknown NEWSLETTER key %r ignored; known: %r", key, sorted(DEFAULTS)
        )
        del user[key]
    for key in STRING_KEYS:
        if key in user and not isinstance(user[key], str):
            logger.error(
                "newsletter_email: NEWSLETTER[%r] must be a string, got %r; using %r",
                key,
                user[key],
                DEFAULTS[key],
            )
            del user[key]
    for key in POSITIVE_INT_KEYS:
        value = user.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or value < 20:
            logger.error(
                "newsletter_email: NEWSLETTER[%r] must be a whole number of at least 20, got %r; "
                "using %r",
                key,
                value,
                DEFAULTS[key],
            )
            user.pop(key, None)
    for key, needed, sample in (
        ("path", "{slug}", {"slug": "s"}),
        ("digest_slug", "{slug}", {"slug": "s"}),
        ("reason", "", {"name": "n", "site": "s"}),
    ):
        if key in user and not formats(user[key], needed, sample):
            logger.error(
                "newsletter_email: NEWSLETTER[%r] is %r; it may only use the fields %r%s, using %r",
                key,
                user[key],
                sorted(sample),
                f" and must contain {needed!r}" if needed else "",
                DEFAULTS[key],
            )
            del user[key]
    if urlsplit(user.get("site_url", DEFAULTS["site_url"])).scheme not in ("http", "https"):
        logger.error(
            "newsletter_email: NEWSLETTER['site_url'] is %r; use an absolute http(s) URL, using %r",
            user["site_url"],
            DEFAULTS["site_url"],
        )
        del user["site_url"]
    for key in ("from_address", "reply_to"):
        if user.get(key) and not valid_address(user[key]):
            logger.error(
                "newsletter_email: NEWSLETTER[%r] is %r, not an email address; fix it in "
                "pelicanconf.py (using the default)",
                key,
                user[key],
            )
            del user[key]
    merged = newsletter_settings({"NEWSLETTER": user})
    # Only a publishing build (absolute SITEURL) sends mail; development builds stay quiet.
    if not merged["postal_address"] and urlsplit(str(pelican.settings.get("SITEURL") or "")).scheme:
        logger.warning(
            "newsletter_email: NEWSLETTER['postal_address'] is empty; anti-spam laws want a postal "
            "address in every issue, set it in pelicanconf.py"
        )
    pelican.settings["NEWSLETTER"] = merged


def formats(pattern: str, needed: str, fields: dict[str, str]) -> bool:
    """True when ``pattern`` contains ``needed`` and formats with exactly ``fields``."""
    if needed not in pattern:
        return False
    try:
        pattern.format(**fields)
    except (KeyError, IndexError, ValueError):
        return False
    return True


def valid_address(address: str) -> bool:
    """True when ``address`` is a plain addr-spec the email package accepts (no name, no CR/LF)."""
    local, _at, domain = address.rpartition("@")
    if any(ch in address for ch in "\r\n<>, ") or not local or "." not in domain:
        return False
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError):
        return False
    return True


# --- helpers ------------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """Collapse every run of whitespace (CR, LF, tabs, Unicode separators) into one space."""
    return " ".join(str(text).split())


def flatten(text: str | None) -> str:
    """HTML source text with its line breaks as spaces: only <br> breaks a line of the text part.

    Only LF: fill splits lines at LF alone, and one_line makes a space of every other whitespace.
    """
    return (text or "").replace("\n", " ")


def wrap_words(line: str, width: int) -> str:
    """``line`` (words between single spaces, as one_line leaves them) wrapped at ``width``.

    The same lines as textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False),
    which was a third of the plugin's time: words longer than the width (URLs) get a line of their
    own and are never broken.
    """
    lines = []
    start, end = 0, len(line)
    while end - start > width:
        # The last space that leaves at most ``width`` characters before it ends the line; a word
        # longer than the width runs to the next space.
        cut = line.rfind(" ", start, start + width + 1)
        if cut < 0:
            cut = line.find(" ", start + width + 1)
            if cut < 0:
                break
        lines.append(line[start:cut])
        start = cut + 1
    lines.append(line[start:])
    return "\n".join(lines)


def plain_text(html: str) -> str:
    """The text of an HTML fragment on one line."""
    if not html or not html.strip():
        return ""
    return one_line(lxml_html.fragment_fromstring(html, create_parent="div").text_content())


def site_base(settings: dict[str, Any], config: dict[str, Any]) -> str:
    """The site's absolute URL without a trailing slash: SITEURL, or the development fallback."""
    siteurl = str(settings.get("SITEURL") or "")
    return (siteurl if urlsplit(siteurl).scheme else config["site_url"]).rstrip("/")


def mail_domain(settings: dict[str, Any], from_address: str) -> str:
    """Domain for Message-ID and List-Id: the published site's host, else the sender's domain."""
    host = urlsplit(str(settings.get("SITEURL") or "")).hostname
    return host or from_address.rpartition("@")[2]


def conversation_label(count: int) -> str:
    """'Join the conversation (3 comments)'; no count while there is none."""
    if not count:
        return "Join the conversation"
    return f"Join the conversation ({count} comment{'' if count == 1 else 's'})"


# --- HTML ---------------------------------------------------------------------------------------


def clean_body(html: str) -> str:
    """The post's HTML without what email clients reject (scripts, iframes, forms, styles)."""
    return nh3.clean(html, attributes=EMAIL_ATTRIBUTES, link_rel=None)


def size_images(html: str, base: str, roots: list[Path], source: str) -> str:
    """Give every image alt, width and height (read from the local file), capped to the column."""
    if "<img" not in html:
        return html
    root = lxml_html.fragment_fromstring(html, create_parent="div")
    for img in root.iter("img"):
        src = img.get("src", "")
        if img.get("alt") is None:
            logger.warning(
                "newsletter_email: %s: image %r has no alt text; add one (![what it shows](...))",
                source,
                src,
            )
            img.set("alt", "")
        width, height = img.get("width"), img.get("height")
        if not (width and height and width.isdigit() and height.isdigit()):
            size = local_image_size(src, base, roots)
            if size is None:
                logger.warning(
                    "newsletter_email: %s: cannot tell the size of image %r; give it width and "
                    "height attributes",
                    source,
                    src,
                )
                continue
            width, height = str(size[0]), str(size[1])
        w, h = int(width), int(height)
        if w > CONTENT_WIDTH:
            w, h = CONTENT_WIDTH, round(h * CONTENT_WIDTH / w)
        img.set("width", str(w))
        img.set("height", str(h))
    # root.text is decoded text: escape it again, or "5 &lt; 6" would come back as markup.
    return escape(root.text or "", quote=False) + "".join(
        lxml_html.tostring(child, encoding="unicode") for child in root
    )


def local_image_size(src: str, base: str, roots: list[Path]) -> tuple[int, int] | None:
    """(width, height) of an image of this site, looked up in the content and output folders."""
    path = src
    if path.startswith(base):
        path = path[len(base) :]
    if urlsplit(path).scheme or path.startswith("//"):
        return None
    relative = unquote(urlsplit(path).path).lstrip("/")
    for root in roots:
        candidate = root / relative
        if candidate.is_file():
            try:
                with Image.open(candidate) as image:
                    return image.size
            except (OSError, UnidentifiedImageError):
                return None
    return None


def inline_css(html: str) -> str:
    """Copy the stylesheet's rules into style attributes; only @media rules stay in <style>."""
    inlined = _inliner.inline(html)
    # css-inline puts the kept @media rules first in <head>; move them after <meta charset> so
    # the charset stays within the first 1024 bytes browsers sniff.
    kept = _STYLE.search(inlined)
    if kept is None:
        return inlined
    inlined = inlined[: kept.start()] + inlined[kept.end() :]
    return inlined.replace("</head>", f"{kept.group()}\n</head>", 1)


def url_attributes(html: str) -> list[str]:
    """Every href and src value of an HTML document, as written (entities not decoded)."""
    found = []
    for attributes in _TAG.findall(html):
        if "href" not in attributes and "src" not in attributes:  # serialisers write lowercase
            continue
        for name, value in _ATTRIBUTE.findall(attributes):
            if name.lower() in ("href", "src"):
                found.append(value[1:-1] if value[:1] in ("'", '"') else value)
    return found


def relative_urls_in(html: str) -> list[str]:
    """Every href/src of an HTML document that a mail client could not resolve."""
    return [url for url in map(unescape, url_attributes(html)) if not ABSOLUTE.match(url.strip())]


# --- layout shells ------------------------------------------------------------------------------
# Rendering the layout and inlining its CSS for each email cost more than everything else. The
# layout's markup depends on few things (which strings are empty, how many series lines or digest
# posts, clipped or not, personal or web), so it is rendered and inlined once per such shape, with
# numbered stand-ins where the values go; each email then fills them in. The post's own HTML is a
# Fragment: css-inline styles it inside the same ancestors the layout gives it, so the stylesheet's
# descendant rules (.post-body p) apply to it exactly as in the whole document.


class Fragment(Markup):
    """HTML from the post (its body, a summary), styled by email.css where the layout places it."""


@dataclass
class Shell:
    """One shape of a layout, CSS inlined: literal HTML between the numbers of value slots."""

    pieces: list[str | int]
    # the document around a place for fragments, up to their parent (opening, closing), and the
    # fragment slots there
    groups: dict[tuple[str, str], list[int]]
    urls: list[list[str | int]]  # every href and src value, as literal HTML and slot numbers

    @classmethod
    def of(cls, html: str, fragments: set[int], css: str) -> Shell:
        """The shell of a layout rendered with stand-ins (see stand_ins), then CSS-inlined."""
        groups: dict[tuple[str, str], list[int]] = {}
        placed: dict[int, tuple[str, str]] = {}
        root = lxml_html.document_fromstring(html)
        for element in root.iter():
            for text, parent in ((element.text, element), (element.tail, element.getparent())):
                for number in map(int, _SLOTS.findall(text or "")):
                    if number in fragments and parent is not None:
                        context = css_context(parent, css)
                        if placed.setdefault(number, context) != context:
                            raise ValueError(
                                "newsletter_email: the email layout shows the same post HTML in "
                                "two differently styled places; it can only have one"
                            )
                        if number not in groups.setdefault(context, []):
                            groups[context].append(number)
        if fragments.intersection(map(int, _SLOTS.findall(html))) - set(placed):
            raise ValueError(
                "newsletter_email: the email layout puts post HTML (body_html, summary_html) "
                "somewhere other than inside an element; it can only be element content"
            )
        pieces = with_slots(html)
        if any(isinstance(p, str) and ("\ue000" in p or "\ue001" in p) for p in pieces):
            raise ValueError(
                "newsletter_email: the email layout changes a value (a filter on email.*?); "
                "values can only be written out as they are or tested for emptiness"
            )
        return cls(pieces, groups, [with_slots(url) for url in url_attributes(html)])

    def fill(self, values: list[str], styled: dict[Any, tuple[str, list[str]]]) -> Filled:
        """The email: each slot's value, each fragment styled for its place (kept in ``styled``)."""
        places = {}
        relative = []
        for context, numbers in self.groups.items():
            todo = [number for number in numbers if (number, context) not in styled]
            if todo:  # every fragment in one place (a digest's summaries) in one css-inline call
                inlined = style_fragments([values[number] for number in todo], context)
                for number, html in zip(todo, inlined, strict=True):
                    styled[number, context] = html, relative_urls_in(html)
            for number in numbers:
                places[number], in_fragment = styled[number, context]
                relative += in_fragment
        html = "".join(
            piece if isinstance(piece, str) else places[piece] if piece in places else values[piece]
            for piece in self.pieces
        )
        for pieces in self.urls:
            url = unescape("".join(p if isinstance(p, str) else values[p] for p in pieces))
            if not ABSOLUTE.match(url.strip()):
                relative.append(url)
        return Filled(html, relative)


class Filled(NamedTuple):
    """A filled shell: the HTML, and the URLs in it a mail client could not resolve."""

    html: str
    relative_urls: list[str]


def with_slots(html: str) -> list[str | int]:
    """``html`` split into literal text and the numbers of the stand-ins in it."""
    return [
        int(piece) if odd else piece
        for odd, piece in zip(itertools.cycle((False, True)), _SLOTS.split(html))
    ]


def stand_ins(value: Any, slots: list[str]) -> tuple[Any, Hashable]:
    """``value`` with each non-empty string replaced by a numbered stand-in, and its shape's key.

    The stand-ins are numbered in the order of ``slots``, where the strings go. The key holds all
    a template may branch or loop on: which strings are empty, list lengths, and every other value
    itself (booleans, Markup constants such as the stylesheet).
    """
    if isinstance(value, Fragment) or (isinstance(value, str) and not isinstance(value, Markup)):
        if not value:
            return value, (type(value), False)
        slots.append(value)
        marker = _SLOT.format(len(slots) - 1)
        return (Markup(marker) if isinstance(value, Fragment) else marker), (type(value), True)
    if isinstance(value, dict):
        pairs = [(name, *stand_ins(item, slots)) for name, item in value.items()]
        return {name: s for name, s, _ in pairs}, tuple((name, key) for name, _, key in pairs)
    if isinstance(value, list | tuple):
        items = [stand_ins(item, slots) for item in value]
        return [s for s, _ in items], ("list", *(key for _, key in items))
    if value is None or isinstance(value, bool | int | float | Markup):
        return value, (type(value), value)
    raise TypeError(f"newsletter_email: no stand-in for a template value of {type(value)}")


def without_at_rules(css: str) -> str:
    """The rule sets of a stylesheet, without comments and @-rules (@media, @import...)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    kept, depth, start = [], 0, 0
    for index, char in enumerate(css):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                if not css[start:index].lstrip().startswith("@"):
                    kept.append(css[start : index + 1].strip())
                start = index + 1
        elif char == ";" and depth == 0:  # the end of an @-rule without a block (@import)
            start = index + 1
    return "\n".join(kept)


def css_context(parent: Any, css: str) -> tuple[str, str]:
    """A document with the stylesheet and ``parent``'s ancestry, opened and closed around it."""
    chain = [*reversed(list(parent.iterancestors())), parent]
    # Tags, ids and classes: all that email.css selects on. Leaving out the other attributes
    # (the personal version's table widths) lets both versions of an email share one styling.
    tags = [
        "<{}{}>".format(
            element.tag,
            "".join(
                f' {name}="{escape(element.get(name))}"'
                for name in ("id", "class")
                if element.get(name) is not None
            ),
        )
        for element in chain
    ]
    # chain[0] is <html>: the stylesheet goes in a <head> right after it.
    opening = f"<!DOCTYPE html>{tags[0]}<head><style>{css}</style></head>{''.join(tags[1:])}"
    return opening, "".join(f"</{element.tag}>" for element in reversed(chain))


def style_fragments(fragments: list[str], context: tuple[str, str]) -> list[str]:
    """Each fragment with email.css inlined as it applies in ``context`` (one css-inline call)."""
    opening, closing = context
    inlined = _inliner.inline(opening + _CUT + _CUT.join(fragments) + _CUT + closing)
    parts = inlined.split(_CUT)
    if len(parts) != len(fragments) + 2:  # nh3 removes comments: no fragment holds one
        raise ValueError("newsletter_email: a post's HTML broke out of its place in the email")
    return parts[1:-1]


# --- the message ------------------------------------------------------------------------------


def header_field(name: str, value: str) -> str:
    """``Name: value`` and CRLF, folded and encoded (RFC 5322, 2047) as email.policy.SMTP does."""
    line = f"{name}: {value}"
    if len(line) <= 78 and _PLAIN_HEADER.fullmatch(value) and "=?" not in value:
        return line + "\r\n"  # the policy writes such a value as it is: skip its parser
    # header_store_parse refuses CR and LF: no value can add a header of its own.
    return policy.SMTP.fold(name, policy.SMTP.header_store_parse(name, value)[1])


def folded_headers(message: EmailMessage) -> str:
    """The header section of ``message`` as its policy writes it."""
    return "".join(message.policy.fold(name, value) for name, value in message.items())


def quoted_printable(text: str) -> str:
    """A text part's body: UTF-8, CRLF line ends, quoted-printable (lines of at most 76)."""
    data = b"\r\n".join(text.encode("utf-8").splitlines()) + b"\r\n"
    return binascii.b2a_qp(data, istext=True).decode("ascii")


# --- plain text ---------------------------------------------------------------------------------


class TextRenderer:
    """Plain text from HTML structure: headings underlined, lists marked, links as footnotes [n]."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.links: list[str] = []

    def footnote(self, url: str) -> int:
        """The footnote number of ``url`` (one number per distinct URL)."""
        if url not in self.links:
            self.links.append(url)
        return self.links.index(url) + 1

    def convert(self, html: str) -> str:
        """Paragraphs of an HTML fragment, separated by blank lines."""
        if not html or not html.strip():
            return ""
        root = lxml_html.fragment_fromstring(html, create_parent="div")
        return "\n\n".join(self.blocks(root, self.width))

    def footnotes(self) -> str:
        """The 'Links' section listing every footnote."""
        return "\n".join(f"[{n}] {url}" for n, url in enumerate(self.links, 1))

    def fill(self, text: str, width: int) -> str:
        """Wrap each line of ``text``; URLs and placeholders are never broken."""
        width = max(width, 20)
        if "\n" not in text:
            return wrap_words(one_line(text), width)
        lines = []
        for line in text.split("\n"):
            line = one_line(line)
            if line:
                lines.append(wrap_words(line, width))
        return "\n".join(lines)

    def blocks(self, element: Any, width: int) -> list[str]:
        """Paragraphs of a container: runs of inline content, and its block children."""
        out: list[str] = []
        buffer = [flatten(element.text)]
        for child in element:
            if not isinstance(child.tag, str):  # comments, processing instructions
                buffer.append(flatten(child.tail))
                continue
            if child.tag in BLOCK_TAGS:
                text = self.fill("".join(buffer), width)
                if text:
                    out.append(text)
                buffer = []
                out.extend(block for block in self.block(child, width) if block)
            else:
                buffer.append(self.inline(child))
            buffer.append(flatten(child.tail))
        text = self.fill("".join(buffer), width)
        if text:
            out.append(text)
        return out

    def block(self, element: Any, width: int) -> list[str]:
        """One block element as paragraphs."""
        tag = element.tag
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            title = self.fill(self.inline_children(element), width)
            if not title:
                return []
            rule = {"h1": "=", "h2": "-"}.get(tag, "~")
            return [f"{title}\n{rule * min(max(map(len, title.splitlines())), width)}"]
        if tag in ("ul", "ol"):
            return [self.list_items(element, width)]
        if tag == "blockquote":
            inner = "\n\n".join(self.blocks(element, width - 2))
            return ["\n".join(f"> {line}".rstrip() for line in inner.splitlines())]
        if tag == "pre":
            return [element.text_content().rstrip("\n")]
        if tag == "hr":
            return ["* * *"]
        if tag == "tr":
            cells = [self.fill(self.inline_children(cell), width) for cell in element]
            return [" | ".join(cell.replace("\n", " ") for cell in cells if cell)]
        if tag in ("table", "thead", "tbody", "tfoot"):
            rows = [row for child in element for row in self.block(child, width)]
            return ["\n".join(rows)] if rows else []
        if tag == "dd":
            inner = "\n\n".join(self.blocks(element, width - 4))
            return [textwrap.indent(inner, "    ")]
        return self.blocks(element, width)

    def list_items(self, element: Any, width: int) -> str:
        """A list with '*' or '1.' markers and hanging indents; nested lists indent further."""
        items = []
        start = element.get("start", "")
        number = int(start) if start.isdigit() else 1
        for child in element:
            if child.tag != "li":
                continue
            marker = f"{number}. " if element.tag == "ol" else "* "
            number += 1
            inner = "\n".join(self.blocks(child, width - len(marker)))
            lines = inner.splitlines() or [""]
            pad = " " * len(marker)
            items.append(
                "\n".join([marker + lines[0], *(pad + line if line else "" for line in lines[1:])])
            )
        return "\n".join(items)

    def inline_children(self, element: Any) -> str:
        """The inline text inside ``element`` (without the element's own markers)."""
        parts = [flatten(element.text)]
        for child in element:
            if isinstance(child.tag, str):
                parts.append(self.inline(child))
            parts.append(flatten(child.tail))
        return "".join(parts)

    def inline(self, element: Any) -> str:
        """One inline element as text: emphasis marked, links numbered, images by their alt."""
        tag = element.tag
        if tag == "br":
            return "\n"
        if tag == "img":
            alt = one_line(element.get("alt", ""))
            return f"[{alt}]" if alt else ""
        text = self.inline_children(element)
        if tag in ("strong", "b"):
            return f"*{text}*" if text.strip() else text
        if tag in ("em", "i"):
            return f"_{text}_" if text.strip() else text
        if tag == "code":
            return f"`{text}`"
        if tag == "a":
            href = (element.get("href") or "").strip()
            if not href or href.startswith("#"):
                return text
            shown = one_line(text)
            if shown in (href, href.removeprefix("mailto:")):
                return href.removeprefix("mailto:") if href.startswith("mailto:") else href
            return f"{text} [{self.footnote(href)}]"
        return text


# --- the rendition ------------------------------------------------------------------------------


@dataclass
class Rendition:
    """One email: its slug, subject, date, both HTML versions and the plain text."""

    slug: str
    subject: str
    date: Any
    html: str  # the HTML part, with placeholders
    web_html: str  # the public "view in browser" page, without them
    text: str
    source: str
    warnings: list[str] = field(default_factory=list)
    relative_urls: list[str] = field(default_factory=list)  # in the HTML part


class NewsletterEmailGenerator(Generator):
    """Writes email/<slug>/ for every published post, and a digest for every "Week of" week."""

    # Its files are its own and nothing else in the build reads them: the parallel_output
    # plugin may write them in a second process.
    parallel_output = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = newsletter_settings(self.settings)
        self.base = site_base(self.settings, self.config)
        self.published = bool(urlsplit(str(self.settings.get("SITEURL") or "")).scheme)
        subscribers = self.settings.get("SUBSCRIBERS") or {}
        from_address = self.config["from_address"] or subscribers.get("from_address") or ""
        self.from_address = (
            from_address if valid_address(str(from_address)) else DEFAULT_FROM_ADDRESS
        )
        reply_to = self.config["reply_to"] or subscribers.get("reply_to") or ""
        self.reply_to = reply_to if valid_address(str(reply_to)) else ""
        self.name = (
            one_line(self.config["name"] or self.settings.get("SITENAME", "")) or "Newsletter"
        )
        self.domain = mail_domain(self.settings, self.from_address)
        self.css: Markup | None = None
        self.shells: dict[Hashable, Shell] = {}
        self.fixed: tuple[str, str] | None = None
        self.summaries: dict[int, str] = {}  # id(article) -> summary HTML
        self.date_labels: dict[str, str] = {}  # isoformat -> label
        self.rules: str | None = None

    # -- shared pieces --

    def stylesheet(self) -> Markup:
        """email.css from the theme (an override in THEME_TEMPLATES_OVERRIDES wins)."""
        if self.css is None:
            source, _filename, _uptodate = self.env.loader.get_source(self.env, STYLESHEET)
            # Our own file, not user input: it goes into <style> unescaped.
            self.css = Markup(source)
        return self.css

    def plain_rules(self) -> str:
        """The stylesheet without its @-rules: all that css-inline copies into style attributes.

        Fragments are styled with these alone: parsing the @media rules too doubled the time.
        """
        if self.rules is None:
            self.rules = without_at_rules(self.stylesheet())
        return self.rules

    def url(self, relative: str) -> str:
        """Absolute URL of a site path such as '2009/09/slug/'."""
        return f"{self.base}/{relative.lstrip('/')}"

    def email_url(self, slug: str) -> str:
        """Absolute URL of an email's "view in browser" page."""
        return self.url(self.config["path"].format(slug=slug))

    def date_label(self, date: Any) -> str:
        """'September 21, 2009': each email shows it twice, and Pelican's strftime is slow."""
        if not date:
            return ""
        key = date.isoformat()  # not the date itself: equal instants in two zones are equal
        if key not in self.date_labels:
            pattern = self.settings.get("DEFAULT_DATE_FORMAT", "%Y-%m-%d")
            self.date_labels[key] = date.strftime(pattern)
        return self.date_labels[key]

    def common(self, slug: str, subject: str, date: Any, preheader: str) -> dict[str, Any]:
        """Template values every email shares (masthead, footer, preheader)."""
        reason = self.config["reason"].format(name=self.name, site=urlsplit(self.base).netloc)
        subscribe = (
            self.config["subscribe_url"] or self.settings.get("SUBSCRIBE_ACTION") or self.url("")
        )
        return {
            "subject": subject,
            "name": self.name,
            "home_url": self.url(""),
            "date_iso": date.isoformat() if date else "",
            "date_label": self.date_label(date),
            "preheader": preheader,
            "preheader_padding": PREHEADER_PADDING,
            "web_url": self.email_url(slug),
            "unsubscribe_url": placeholders.UNSUBSCRIBE_URL,
            "manage_url": placeholders.MANAGE_URL,
            "subscribe_url": subscribe,
            "reason": reason,
            "postal_address": one_line(self.config["postal_address"]),
            "css": self.stylesheet(),
        }

    def render_html(self, template: str, values: dict[str, Any]) -> tuple[Filled, str]:
        """(HTML part with placeholders, public web page): the layout's shells, filled in."""
        slots: list[str] = []
        stand, key = stand_ins(values, slots)
        fragments = {number for number, slot in enumerate(slots) if isinstance(slot, Fragment)}
        texts = [str(escape_markup(slot)) for slot in slots]  # as Jinja's autoescape writes them
        styled: dict[Any, tuple[str, list[str]]] = {}  # shared by both versions
        personal, web = (
            self.shell(template, stand, key, version, fragments).fill(texts, styled)
            for version in (True, False)
        )
        page = web.html
        if not self.published:
            # Development: the web page is served wherever the site is, not at the fallback base.
            page = page.replace(f'="{self.base}/', '="/')
        return personal, page

    def shell(
        self,
        template: str,
        stand: dict[str, Any],
        key: Hashable,
        personal: bool,
        fragments: set[int],
    ) -> Shell:
        """The layout rendered and CSS-inlined for this shape of values (made once per shape)."""
        cache_key = (template, key, personal)
        shell = self.shells.get(cache_key)
        if shell is None:
            context = {**self.context, "email": {**stand, "personal": personal}}
            html = inline_css(self.get_template(template).render(context))
            shell = self.shells[cache_key] = Shell.of(html, fragments, self.plain_rules())
        return shell

    def footer_text(self, slug: str, text: TextRenderer) -> str:
        """The plain-text footer: why, where, and how to leave."""
        values = self.common(slug, "", None, "")
        lines = [
            "-- ",
            text.fill(values["reason"], text.width),
            *(
                [text.fill(values["postal_address"], text.width)]
                if values["postal_address"]
                else []
            ),
            "",
            f"Manage your subscription: {placeholders.MANAGE_URL}",
            f"Unsubscribe: {placeholders.UNSUBSCRIBE_URL}",
            f"View in browser: {values['web_url']}",
        ]
        return "\n".join(lines)

    def compose_text(
        self, head: list[str], body: str, tail: list[str], slug: str, text: TextRenderer
    ) -> str:
        """Masthead, body, links, footer: the whole plain-text part."""
        parts = [*head, body, *tail]
        if text.links:
            parts.append("Links\n-----\n" + text.footnotes())
        parts.append(self.footer_text(slug, text))
        return "\n\n".join(part for part in parts if part) + "\n"

    def masthead_text(self, date: Any, width: int) -> str:
        """'THE ENCOUNTER HABIT · September 21, 2009' as the first line of the text part."""
        label = self.date_label(date)
        line = f"{self.name.upper()} - {label}" if label else self.name.upper()
        # What textwrap.fill makes of a short line of single-spaced words, without its regexes.
        return line if len(line) <= width and line == one_line(line) else textwrap.fill(line, width)

    # -- posts --

    def series_lines(self, article: Any) -> list[dict[str, str]]:
        """'Week 7: The Week of Encounter' and 'Part 2 of 5: Name' when the post belongs to them."""
        lines = []
        week = getattr(article, "week", None)
        if week is not None:
            number = getattr(week, "number", None)
            title = one_line(getattr(week, "title", "") or f"The Week of {week.theme}")
            label = f"Week {number}: {title}" if number else title
            lines.append({"label": label, "url": self.url(getattr(week, "url", "") or "")})
        series = getattr(article, "series", None)
        if series is not None and not isinstance(series, str):
            part = getattr(article, "series_part_label", "") or ""
            name = one_line(getattr(series, "name", ""))
            label = f"{part}: {name}" if part else name
            lines.append({"label": label, "url": self.url(getattr(series, "url", "") or "")})
        return lines

    def summary(self, article: Any, post_url: str) -> str:
        """The post's summary, cleaned, its URLs absolute (made once: its email and its week's)."""
        if id(article) not in self.summaries:
            summary = clean_body(getattr(article, "summary", "") or "")
            self.summaries[id(article)] = make_urls_absolute(
                summary, post_url, keep_fragments=False
            )
        return self.summaries[id(article)]

    def render_post(self, article: Any) -> Rendition:
        """The email of one post; a post too big for Gmail becomes its summary and a link."""
        source = getattr(article, "relative_source_path", article.slug)
        post_url = self.url(article.url)
        roots = [Path(self.path), Path(self.output_path)]
        # nh3 first: it re-serialises attributes plainly, so entity-obfuscated mailto: links
        # (Markdown's <mailto:...>) are recognised as mailto: and not joined onto the post's URL.
        # In-page links (footnotes, "#later") lead to the post's page: most mail clients drop ids.
        body = make_urls_absolute(clean_body(article.content), post_url, keep_fragments=False)
        body = size_images(body, self.base, roots, source)
        summary = self.summary(article, post_url)
        count = int(getattr(article, "comment_count", 0) or 0)
        subject = one_line(article.title)
        values = {
            **self.common(
                article.slug, subject, article.date, plain_text(summary)[:PREHEADER_LENGTH]
            ),
            "title": subject,
            "post_url": post_url,
            "comments_url": f"{post_url}#comments",
            "conversation_label": conversation_label(count),
            "series_lines": self.series_lines(article),
            "body_html": Fragment(body),  # the post's own HTML, cleaned by nh3 above
            "summary_html": Fragment(summary),
            "clipped": False,
        }
        personal, web = self.render_html(POST_TEMPLATE, values)
        limit = self.config["max_html_bytes"]
        size = len(personal.html.encode("utf-8"))
        warnings = []
        if size > limit:
            warnings.append(
                f"newsletter_email: {source}: the email is {size // 1000} KB, over the "
                f"{limit // 1000} KB where Gmail clips it; sending its summary and a link to the "
                "post instead (shorten the post or its images to send it whole)"
            )
            values["clipped"] = True
            personal, web = self.render_html(POST_TEMPLATE, values)
        text = TextRenderer(self.config["text_width"])
        head = [self.masthead_text(article.date, text.width)]
        head += [
            text.fill(f"{line['label']} ({line['url']})", text.width)
            for line in values["series_lines"]
        ]
        title = text.fill(subject, text.width)
        head.append(f"{title}\n{'=' * min(max(map(len, title.splitlines())), text.width)}")
        if values["clipped"]:
            body_text = "\n\n".join(
                [
                    text.fill(
                        "This post is too long for an email. Here is how it starts:", text.width
                    ),
                    text.convert(summary),
                    f"Read the whole post: {post_url}",
                ]
            )
        else:
            body_text = text.convert(body)
        tail = [f"{conversation_label(count)}: {post_url}#comments"]
        return Rendition(
            slug=article.slug,
            subject=subject,
            date=article.date,
            html=personal.html,
            web_html=web,
            text=self.compose_text(head, body_text, tail, article.slug, text),
            source=source,
            warnings=warnings,
            relative_urls=personal.relative_urls,
        )

    # -- weekly digests --

    def weeks(self) -> list[Any]:
        """The "Week of" weeks: the weekof plugin's list, else gathered from the posts."""
        weeks = self.context.get("weekof_weeks")
        if weeks is None:
            seen: dict[int, Any] = {}
            for article in self.context.get("articles", []):
                week = getattr(article, "week", None)
                if week is not None:
                    seen.setdefault(id(week), week)
            weeks = list(seen.values())
        return [week for week in weeks if getattr(week, "articles", None)]

    def digest_slug(self, week: Any) -> str:
        """'week-of-encounter' for the Week of Encounter."""
        theme = slugify(
            str(getattr(week, "theme", "") or getattr(week, "title", "week")),
            regex_subs=self.settings.get("SLUG_REGEX_SUBSTITUTIONS", []),
        )
        return self.config["digest_slug"].format(slug=theme)

    def render_digest(self, week: Any) -> Rendition:
        """One email gathering a week's posts: title, date, summary and link of each."""
        slug = self.digest_slug(week)
        title = one_line(getattr(week, "title", "") or f"The Week of {week.theme}")
        number = getattr(week, "number", None)
        subject = f"Week {number}: {title}" if number else title
        date = getattr(week, "last_date", None) or week.articles[-1].date
        week_url = self.url(getattr(week, "url", "") or "")
        text = TextRenderer(self.config["text_width"])
        items, text_items = [], []
        for article in week.articles:
            url = self.url(article.url)
            summary = self.summary(article, url)
            count = int(getattr(article, "comment_count", 0) or 0)
            item_title = one_line(article.title)
            items.append(
                {
                    "title": item_title,
                    "url": url,
                    "date_iso": article.date.isoformat(),
                    "date_label": getattr(article, "locale_date", ""),
                    "summary_html": Fragment(summary),  # cleaned by nh3 above
                    "comments_url": f"{url}#comments",
                    "conversation_label": conversation_label(count),
                }
            )
            heading = text.fill(item_title, text.width)
            text_items.append(
                "\n\n".join(
                    part
                    for part in (
                        f"{heading}\n{'-' * min(max(map(len, heading.splitlines())), text.width)}",
                        text.fill(str(getattr(article, "locale_date", "")), text.width),
                        text.convert(summary),
                        f"Read it: {url}",
                        f"{conversation_label(count)}: {url}#comments",
                    )
                    if part
                )
            )
        first = plain_text(items[0]["summary_html"]) if items else ""
        values = {
            **self.common(slug, subject, date, first[:PREHEADER_LENGTH]),
            "title": subject,
            "post_url": week_url,
            "posts": items,
        }
        personal, web = self.render_html(DIGEST_TEMPLATE, values)
        warnings = []
        size = len(personal.html.encode("utf-8"))
        if size > self.config["max_html_bytes"]:
            warnings.append(
                f"newsletter_email: digest {slug!r}: the email is {size // 1000} KB, over the "
                f"{self.config['max_html_bytes'] // 1000} KB where Gmail clips it; shorten the "
                "posts' summaries"
            )
        title_text = text.fill(subject, text.width)
        head = [
            self.masthead_text(date, text.width),
            f"{title_text}\n{'=' * min(max(map(len, title_text.splitlines())), text.width)}",
        ]
        tail = [f"The whole week on the site: {week_url}"]
        return Rendition(
            slug=slug,
            subject=subject,
            date=date,
            html=personal.html,
            web_html=web,
            text=self.compose_text(head, "\n\n".join(text_items), tail, slug, text),
            source=f"week {title!r}",
            warnings=warnings,
            relative_urls=personal.relative_urls,
        )

    # -- the message --

    def fixed_headers(self) -> tuple[str, str]:
        """The header fields every email shares, folded and encoded once by the email package.

        (From, To and Reply-To; List-Id, List-Unsubscribe and List-Unsubscribe-Post), so that a
        display name in any script is RFC 2047-encoded and an address is checked as before.
        """
        if self.fixed is None:
            first, second = EmailMessage(policy=policy.SMTP), EmailMessage(policy=policy.SMTP)
            from_name = one_line(self.config["from_name"] or self.name)
            first["From"] = Address(display_name=from_name, addr_spec=self.from_address)
            first["To"] = placeholders.RECIPIENT
            if self.reply_to:
                first["Reply-To"] = Address(addr_spec=self.reply_to)
            list_id = self.config["list_id"] or f"newsletter.{self.domain}"
            second["List-Id"] = f'"{quote(self.name)}" <{one_line(list_id).strip("<>")}>'
            second["List-Unsubscribe"] = (
                f"<{placeholders.UNSUBSCRIBE_URL}>, <{placeholders.UNSUBSCRIBE_MAILTO}>"
            )
            second["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            self.fixed = folded_headers(first), folded_headers(second)
        return self.fixed

    def message(self, rendition: Rendition) -> str:
        """The complete .eml: headers, then the text and HTML alternatives, quoted-printable.

        Written out directly: going through EmailMessage cost more than rendering the email.
        The headers that vary are folded as the email package folds them (header_field).
        """
        before, after = self.fixed_headers()
        digest = hashlib.sha256(rendition.slug.encode()).hexdigest()[:16]
        safe_slug = re.sub(r"[^A-Za-z0-9-]", "-", rendition.slug)[:40]
        # The boundary is derived from the content so the same post gives the same bytes on every
        # build. "=_" never occurs in quoted-printable bodies.
        parts = hashlib.sha256((rendition.text + "\0" + rendition.html).encode("utf-8"))
        boundary = f"=_{parts.hexdigest()[:32]}"
        lines = [
            before,
            header_field("Subject", rendition.subject),
            "" if rendition.date is None else header_field("Date", format_datetime(rendition.date)),
            # Stable across builds; the sender gives each copy its own Message-ID when it sends.
            header_field("Message-ID", f"<{safe_slug}.{digest}@{self.domain}>"),
            after,
            header_field("List-Archive", f"<{self.email_url(rendition.slug)}>"),
            "MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n',
            "\r\n",
        ]
        for subtype, content in (("plain", rendition.text), ("html", rendition.html)):
            lines += [
                f"--{boundary}\r\n",
                f'Content-Type: text/{subtype}; charset="utf-8"\r\n',
                "Content-Transfer-Encoding: quoted-printable\r\n",
                "\r\n",
                quoted_printable(content),
                "\r\n",
            ]
        lines.append(f"--{boundary}--\r\n")
        return "".join(lines)

    # -- output --

    def write(self, folder: str, rendition: Rendition) -> None:
        """Write index.html (web page), email.txt and message.eml into the email's folder."""
        for line in rendition.warnings:
            logger.warning("%s", line)
        relative = rendition.relative_urls
        if relative:
            logger.error(
                "newsletter_email: %s: relative URL(s) %r would break in mail clients; write them "
                "as {filename} links or absolute URLs",
                rendition.source,
                relative[:3],
            )
        texts = (rendition.web_html, rendition.text, self.message(rendition))
        # Written here rather than through Pelican's writer, as the feeds are: the texts are
        # finished and keyed already, and the writer's per-file template, key and bookkeeping
        # cost more than the writing.
        for name, text in zip(OUTPUT_FILES, texts, strict=True):
            path = os.path.join(self.output_path, folder, name)
            write_bytes(path, text.encode("utf-8"))
            signals.content_written.send(path, context={})

    def folder(self, slug: str) -> str:
        """The output folder of an email, relative to the output: 'email/<slug>'."""
        folder = self.config["path"].format(slug=slug).rstrip("/")
        sanitised_join(self.output_path, folder)  # raises for a folder outside the output
        return folder

    def generate_output(self, writer: Any) -> None:
        """Render and write every post's email, then every week's digest."""
        memo = incremental.active()
        self.summaries.clear()  # a post's body may have changed since an earlier run
        made = reused = 0
        jobs: list[tuple[str, list[Any], Callable[[], Rendition]]] = [
            (article.slug, [article], partial(self.render_post, article))
            for article in self.context.get("articles", [])
        ]
        taken = {slug for slug, _sources, _render in jobs}
        for week in self.weeks():
            slug = self.digest_slug(week)
            if slug in taken:
                if not shares.speaks(self):  # the same for every process: the parent says it
                    continue
                logger.error(
                    "newsletter_email: the digest of %r would be written to the email folder of "
                    "the post with slug %r; rename the post or set NEWSLETTER['digest_slug']",
                    getattr(week, "title", slug),
                    slug,
                )
                continue
            taken.add(slug)
            jobs.append((slug, list(week.articles), partial(self.render_digest, week)))
        folders = {slug: self.folder(slug) for slug, _sources, _render in jobs}
        ready = memo.folders_first(self.output_path, folders.values())
        # Each email is written by one process, whichever takes it first (see parallel_output).
        for slug, sources, render in shares.take(self, jobs):
            folder = folders[slug]
            names = [f"{folder}/{name}" for name in OUTPUT_FILES]
            if memo.untouched(names, sources):  # a live rebuild that changed none of them
                reused += 1
                continue
            # Same code, settings, site metadata and sources (post files and their comments):
            # the previous build's files are still right.
            key = incremental.digest(
                memo.code,
                memo.site,
                "newsletter_email",
                slug,
                *(memo.content_fingerprint(source) for source in sources),
                *(comments_key(source) for source in sources),
            )
            if all(memo.reuse(name, key) for name in names):
                reused += 1
                continue
            # A file linked from the last build shares its inode: unlink, never write through.
            # (A folder this whole-site build made first holds no such file.)
            if folder not in ready:
                for name in names:
                    Path(self.output_path, name).unlink(missing_ok=True)
                os.makedirs(os.path.join(self.output_path, folder), exist_ok=True)
            self.write(folder, render())
            for name in names:
                memo.record(name, key)
            made += 1
        logger.info(
            "newsletter_email: wrote %r email(s), reused %r unchanged%s",
            made,
            reused,
            " (this process's share)" if shares.shared(self) else "",
        )


def comments_key(article: Any) -> str:
    """What the email shows of a post's comments (their count): part of its incremental key."""
    return f"comments={int(getattr(article, 'comment_count', 0) or 0)}"


def add_generator(pelican: Any) -> type[Generator]:
    """Give Pelican the email generator (it runs after the articles and their comments)."""
    return NewsletterEmailGenerator


def register() -> None:
    """Connect the plugin's handlers to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.get_generators.connect(add_generator)
