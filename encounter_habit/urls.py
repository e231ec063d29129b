"""Absolute URLs for HTML that leaves the site (feeds, emails): readers' clients have no base URL."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

# Start tags, whose quoted attribute values may hold ">"; then, inside each, the href/src/poster
# attributes and srcset lists, in either quote style. Regexes are enough here: the input is HTML
# that Markdown or nh3 produced, so tags and attributes are well-formed and quoted. Looking at tags
# first, rather than at every space of the text, halves the time (a post, its summary, for an
# email and a feed each) and leaves text that merely reads href="..." (a code sample) alone.
_TAG = re.compile(
    r"""<[A-Za-z][^\s/>]*(?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*\s*/?>"""
)
_ATTRIBUTE = re.compile(
    r"""(?P<lead>\s(?P<name>href|src|poster|srcset)=)(?P<q>["'])(?P<url>.*?)(?P=q)""", re.I
)
_KEEP = ("mailto:", "tel:", "data:")  # never joined onto a base
_KEEP_FRAGMENTS = ("#", *_KEEP)


def absolute_url(url: str, base: str, keep_fragments: bool = True) -> str:
    """``url`` (as written in an attribute) resolved against ``base``; mailto kept, and
    fragments (``#fn:1``) too unless ``keep_fragments`` is false.

    Attribute values may be entity-encoded (Markdown writes ``<mailto:...>`` links that way), so
    the URL is decoded before it is judged, and re-encoded when it is rewritten.
    """
    decoded = html.unescape(url).strip()
    if not decoded or decoded.lower().startswith(_KEEP_FRAGMENTS if keep_fragments else _KEEP):
        return url
    return html.escape(urljoin(base, decoded), quote=True)


def make_urls_absolute(html: str, base: str, keep_fragments: bool = True) -> str:
    """Rewrite every relative href, src, poster and srcset URL in ``html`` against ``base``.

    A feed reader shows a post as one page, so its in-page links (footnotes) are kept as they
    are; an email is no page of the site, and there they must lead to ``base``'s page.
    """

    def attribute(match: re.Match) -> str:
        if match["name"].lower() == "srcset":
            candidates = []
            for candidate in match["url"].split(","):
                parts = candidate.strip().split(maxsplit=1)
                if parts:
                    parts[0] = absolute_url(parts[0], base)
                    candidates.append(" ".join(parts))
            url = ", ".join(candidates)
        else:
            url = absolute_url(match["url"], base, keep_fragments)
        return f"{match['lead']}{match['q']}{url}{match['q']}"

    def tag(match: re.Match) -> str:
        text = match[0]
        return _ATTRIBUTE.sub(attribute, text) if "=" in text else text

    return _TAG.sub(tag, html)
