"""The newsletter email: real builds, every .eml parsed by the standard library, HTML by BeautifulSoup."""

from __future__ import annotations

import binascii
import email
import logging
import random
import re
import textwrap
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import css_inline
import pytest
from bs4 import BeautifulSoup
from newsletter_email.newsletter_email import (
    Fragment,
    Shell,
    header_field,
    one_line,
    quoted_printable,
    relative_urls_in,
    stand_ins,
    without_at_rules,
    wrap_words,
)
from PIL import Image

from encounter_habit import placeholders
from encounter_habit.subscribers.issue import IssueTemplate
from tests.conftest import ROOT

pytest_plugins = ["tests.browser"]

SLUG = "field-notes"
BODY = """\
Notice, at the end of each interaction, whether the [relationship improved](https://example.org/we)
and read [the sibling post]({filename}/posts/sibling.md) too. Again: [same link](https://example.org/we).

## Three things can happen

1. Your relationship gets better
2. Your relationship stays the same, which is the quiet way a business loses its customers one by one
3. Your relationship gets worse

What to notice:

- outer item
    - inner item

> Every customer interaction is an opportunity to practice the skill of encounter.

![Two people shaking hands]({static}/images/handshake.png)

Write to <mailto:steve@example.com> or see <https://example.org/a/very/long/path/that/never/wraps/because/it/is/a/url>.
"""


NEWSLETTER = {
    "from_name": "Steve Yastrow at The Encounter Habit",
    "from_address": "newsletter@encounterhabit.example",
    "reply_to": "steve@yastrow.com",
    "postal_address": "1 Main Street, Chicago, IL 60601, USA",
}


def parse(path: Path) -> EmailMessage:
    """The .eml parsed with the modern policy, as any careful reader would."""
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def html_part(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def text_part(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def top_level_css_rules(css: str) -> list[str]:
    """The preludes of the top-level rules of a stylesheet ('@media ...', 'p', ...)."""
    preludes, depth, current = [], 0, []
    for char in css:
        if char == "{":
            if depth == 0:
                preludes.append("".join(current).strip())
            depth += 1
        elif char == "}":
            depth -= 1
            current = []
        elif depth == 0:
            current.append(char)
    return preludes


def write_post_site(site, **meta: str) -> None:
    """A post with headings, lists, links, a quote and a local image, its sibling, two comments."""
    images = site.content / "images"
    images.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (1200, 800), "white").save(images / "handshake.png")
    meta = {"summary": "Notice whether each interaction made the relationship better.", **meta}
    site.post(SLUG, title="Field notes on encounters", date="2009-09-21 09:00", body=BODY, **meta)
    site.post("sibling", title="The sibling post", date="2009-09-14 09:00", body="Earlier.")
    for name, reply in (("c1", ""), ("c2", "Reply-To: c1\n")):
        site.write(
            f"comments/{SLUG}/{name}.md",
            f"Author: Reader {name}\nDate: 2009-09-22T10:00:00\n{reply}\nThanks for this.\n",
        )


@pytest.fixture
def built(site):
    """The sample post built with the project's settings (weekof on: it is in Week of Encounter)."""
    write_post_site(site, week="Encounter")
    result = site.build(NEWSLETTER=NEWSLETTER)
    assert result.errors == []
    return site


def test_message_headers_name_the_list_and_leave_subscriber_fields_as_placeholders(built):
    message = parse(built.output / f"email/{SLUG}/message.eml")
    assert message["From"].addresses[0].addr_spec == "newsletter@encounterhabit.example"
    assert message["From"].addresses[0].display_name == "Steve Yastrow at The Encounter Habit"
    assert message["Reply-To"].addresses[0].addr_spec == "steve@yastrow.com"
    assert str(message["To"]) == placeholders.RECIPIENT
    assert str(message["Subject"]) == "Field notes on encounters"
    assert message["Date"].datetime.replace(tzinfo=None) == datetime(2009, 9, 21, 9, 0)
    assert re.fullmatch(r"<field-notes\.[0-9a-f]+@encounterhabit\.example>", message["Message-ID"])
    assert message["List-Id"] == '"The Encounter Habit" <newsletter.encounterhabit.example>'
    assert message["List-Unsubscribe"] == (
        f"<{placeholders.UNSUBSCRIBE_URL}>, <{placeholders.UNSUBSCRIBE_MAILTO}>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.defects == []


def test_message_is_multipart_alternative_of_utf8_text_then_html_in_seven_bit(built):
    raw = (built.output / f"email/{SLUG}/message.eml").read_bytes()
    raw.decode("ascii")  # every byte 7-bit: no client or relay has to guess an encoding
    message = parse(built.output / f"email/{SLUG}/message.eml")
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in parts] == ["utf-8", "utf-8"]
    assert all(part["MIME-Version"] is None for part in parts)


def test_layout_lives_in_style_attributes_and_style_block_holds_only_media_rules(built):
    soup = BeautifulSoup(
        html_part(parse(built.output / f"email/{SLUG}/message.eml")), "html.parser"
    )
    styles = soup.find_all("style")
    assert styles, "the @media enhancements (dark mode, narrow screens) are kept"
    for style in styles:
        assert all(rule.startswith("@media") for rule in top_level_css_rules(style.string))
        style.decompose()  # what a client that drops <style> shows
    container = soup.find("table", class_="container")
    assert container["width"] == "600"
    assert "max-width: 600px" in container["style"]
    assert "width: 100%" in container["style"]
    assert "font-family" in soup.find("td", class_="post")["style"]
    assert "display: none" in soup.find("div", class_="preheader")["style"]
    body = soup.find("div", class_="post-body")
    for element in body.find_all(["p", "li", "h2", "blockquote", "img"]):
        assert element.get("style"), f"<{element.name}> has no inline style"


def test_every_url_in_both_parts_is_absolute(built):
    message = parse(built.output / f"email/{SLUG}/message.eml")
    soup = BeautifulSoup(html_part(message), "html.parser")
    urls = [tag.get(attr) for attr in ("href", "src") for tag in soup.find_all(attrs={attr: True})]
    assert len(urls) > 10
    allowed = re.compile(r"^(https?://[^/]+/|mailto:|%%[A-Z_]+%%$)")
    assert [url for url in urls if not allowed.match(url)] == []
    assert "http://127.0.0.1:8000/2009/09/sibling/" in urls
    assert "mailto:steve@example.com" in urls  # Markdown obfuscates it with entities
    text = text_part(message)
    assert "http://127.0.0.1:8000/2009/09/sibling/" in text
    assert not re.search(r"(?<![\w:/.])/\d{4}/\d{2}/", text), "a site-relative path in the text"


def test_images_get_width_height_and_alt_scaled_to_the_column(built):
    soup = BeautifulSoup(
        html_part(parse(built.output / f"email/{SLUG}/message.eml")), "html.parser"
    )
    (image,) = soup.find("div", class_="post-body").find_all("img")
    assert (image["width"], image["height"]) == ("552", "368")  # 1200 x 800 scaled to 552 px
    assert image["alt"] == "Two people shaking hands"
    assert image["src"] == "http://127.0.0.1:8000/images/handshake.png"
    assert "max-width: 100%" in image["style"]


def test_html_carries_preheader_masthead_series_conversation_and_footer(built):
    soup = BeautifulSoup(
        html_part(parse(built.output / f"email/{SLUG}/message.eml")), "html.parser"
    )
    preheader = soup.find("div", class_="preheader").get_text()
    assert preheader.startswith("Notice whether each interaction made the relationship better.")
    assert soup.find(class_="masthead-name").get_text(strip=True) == "The Encounter Habit"
    assert soup.find("time")["datetime"].startswith("2009-09-21T09:00")
    assert soup.find(class_="masthead-date").get_text(strip=True) == "September 21, 2009"
    series = soup.find("td", class_="series").find("a")
    assert series.get_text(strip=True) == "Week 1: The Week of Encounter"
    assert series["href"] == "http://127.0.0.1:8000/week-of/encounter/"
    conversation = soup.find("a", string="Join the conversation (2 comments)")
    assert conversation["href"] == "http://127.0.0.1:8000/2009/09/field-notes/#comments"
    footer = soup.find("td", class_="footer")
    assert "you subscribed to The Encounter Habit" in footer.get_text()
    assert "1 Main Street, Chicago, IL 60601, USA" in footer.get_text()
    assert footer.find("a", string="Unsubscribe")["href"] == placeholders.UNSUBSCRIBE_URL
    assert footer.find("a", string="Manage your subscription")["href"] == placeholders.MANAGE_URL


def test_view_in_browser_page_is_noindex_and_carries_no_subscriber_link(built):
    page = built.soup(f"email/{SLUG}/index.html")
    assert "noindex" in page.find("meta", attrs={"name": "robots"})["content"]
    assert "%%" not in built.page(f"email/{SLUG}/index.html")
    footer = page.find("td", class_="footer")
    assert footer.find("a", string=re.compile("Subscribe to"))["href"].startswith("http")
    assert page.find("h1").get_text(strip=True) == "Field notes on encounters"
    # A web page, valid HTML: no mail-client table attributes; served wherever the site is.
    assert page.find("table", class_="container").get("width") is None
    assert page.find("h1").a["href"] == "/2009/09/field-notes/"
    sitemap = (built.output / "sitemap.xml").read_text()
    assert "/email/" not in sitemap


def test_plain_text_follows_the_post_structure_wrapped_at_72(built):
    text = text_part(parse(built.output / f"email/{SLUG}/message.eml"))
    assert text.replace("\r\n", "\n") == built.page(f"email/{SLUG}/email.txt")
    lines = text.splitlines()
    assert "Field notes on encounters\n=========================" in text
    assert "Three things can happen\n-----------------------" in text
    assert "Week 1: The Week of Encounter (http://127.0.0.1:8000/week-of/encounter/)" in text
    assert "1. Your relationship gets better" in lines
    item = text.split("2. Your relationship stays the same", 1)[1].split("3.", 1)[0]
    assert item.splitlines()[1].startswith("   "), "a wrapped list item hangs under its text"
    assert "* outer item" in lines
    assert "  * inner item" in lines
    assert any(line.startswith("> Every customer interaction") for line in lines)
    assert "[Two people shaking hands]" in text
    # Links become numbered footnotes; the same URL keeps its number.
    flowing = " ".join(text.split())
    assert "whether the relationship improved [1] and read the sibling post [2] too" in flowing
    assert "same link [1]" in flowing
    assert "[1] https://example.org/we" in lines
    assert "[2] http://127.0.0.1:8000/2009/09/sibling/" in lines
    assert "Write to steve@example.com or see" in text  # a bare address needs no footnote
    assert (
        "Links\n-----\n[1] https://example.org/we\n[2] http://127.0.0.1:8000/2009/09/sibling/\n\n"
        in text
    )
    assert (
        "Join the conversation (2 comments): http://127.0.0.1:8000/2009/09/field-notes/#comments"
        in text
    )
    assert f"Unsubscribe: {placeholders.UNSUBSCRIBE_URL}" in lines
    assert "-- " in lines  # the signature separator mail clients recognise
    too_long = [line for line in lines if len(line) > 72 and not re.search(r"https?://|%%", line)]
    assert too_long == []
    assert "<" not in text.replace("<mailto", "")  # no markup left over


def test_oversized_post_becomes_its_summary_and_a_link_under_the_limit(site, caplog):
    paragraph = "An encounter makes the relationship better; a transaction does not. " * 12
    site.post(
        "long-read",
        title="A very long read",
        summary="The first words of a long read.",
        body="\n\n".join(paragraph for _ in range(150)),
    )
    with caplog.at_level(logging.WARNING):
        result = site.build()
    assert result.errors == []
    warnings = [r.getMessage() for r in caplog.records if "over the 90 KB" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("newsletter_email: posts/long-read.md: the email is ")
    message = parse(site.output / "email/long-read/message.eml")
    html = html_part(message)
    assert len(html.encode("utf-8")) < 90_000
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("a", string="Read the whole post")["href"] == (
        "http://127.0.0.1:8000/2009/09/long-read/"
    )
    assert "The first words of a long read." in soup.find(class_="post-summary").get_text()
    assert "Read the whole post: http://127.0.0.1:8000/2009/09/long-read/" in text_part(message)


def test_title_with_markup_or_line_separators_stays_inert(site):
    site.post("evil", title='<script>alert("x")</script> & \u2028Bcc: victim@example.com')
    result = site.build(NEWSLETTER={"from_name": "Evil\r\nBcc: victim@example.com"})
    assert result.errors == []
    message = parse(site.output / "email/evil/message.eml")
    assert message["Bcc"] is None
    assert "\n" not in str(message["Subject"]) and "\u2028" not in str(message["Subject"])
    assert str(message["Subject"]) == '<script>alert("x")</script> & Bcc: victim@example.com'
    (sender,) = message["From"].addresses
    assert sender.display_name == "Evil Bcc: victim@example.com"
    assert "victim" not in sender.addr_spec
    for html in (html_part(message), site.page("email/evil/index.html")):
        soup = BeautifulSoup(html, "html.parser")
        assert soup.find("script") is None
        assert soup.find("h1").get_text() == '<script>alert("x")</script> & Bcc: victim@example.com'


def test_published_site_uses_its_domain_in_urls_and_message_id(site):
    write_post_site(site)
    result = site.build(SITEURL="https://theencounterhabit.com", NEWSLETTER={"postal_address": "x"})
    assert result.errors == []
    message = parse(site.output / f"email/{SLUG}/message.eml")
    assert message["Message-ID"].endswith("@theencounterhabit.com>")
    assert message["List-Id"] == '"The Encounter Habit" <newsletter.theencounterhabit.com>'
    soup = BeautifulSoup(html_part(message), "html.parser")
    assert soup.find("h1").a["href"] == "https://theencounterhabit.com/2009/09/field-notes/"
    assert soup.find("td", class_="series") is None, "no Week: no series line"


def test_sender_fills_every_placeholder_of_the_built_message(built):
    template = IssueTemplate(built.output / f"email/{SLUG}/message.eml")
    values = {
        placeholders.RECIPIENT: "reader@example.net",
        placeholders.UNSUBSCRIBE_URL: "https://subscribe.example/unsubscribe?token=abc",
        placeholders.UNSUBSCRIBE_MAILTO: "mailto:leave@example.net?subject=unsubscribe",
        placeholders.MANAGE_URL: "https://subscribe.example/manage?token=abc",
    }
    sent = email.message_from_bytes(
        template.render(values, "<x.1@encounterhabit.example>"), policy=policy.default
    )
    assert str(sent["To"]) == "reader@example.net"
    assert sent["Message-ID"] == "<x.1@encounterhabit.example>"
    assert sent["List-Unsubscribe"] == (
        "<https://subscribe.example/unsubscribe?token=abc>, "
        "<mailto:leave@example.net?subject=unsubscribe>"
    )
    html = html_part(sent)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("a", string="Unsubscribe")["href"] == values[placeholders.UNSUBSCRIBE_URL]
    assert "Manage your subscription: https://subscribe.example/manage?token=abc" in text_part(sent)
    assert "%%" not in html + text_part(sent)
    assert "Field notes on encounters" in html


def test_week_digest_gathers_the_weeks_posts_oldest_first(site):
    site.post("first-day", title="First day", date="2009-09-21 09:00", week="Encounter")
    site.post("second-day", title="Second day", date="2009-09-23 09:00", week="Encounter")
    site.post("unrelated", title="Unrelated", date="2009-09-22 09:00")
    result = site.build()
    assert result.errors == []
    message = parse(site.output / "email/week-of-encounter/message.eml")
    assert str(message["Subject"]) == "Week 1: The Week of Encounter"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    soup = BeautifulSoup(html_part(message), "html.parser")
    titles = [a.get_text() for a in soup.select("h2.digest-title a")]
    assert titles == ["First day", "Second day"]
    assert soup.select("h2.digest-title a")[0]["href"] == "http://127.0.0.1:8000/2009/09/first-day/"
    text = text_part(message)
    assert text.index("First day") < text.index("Second day")
    assert "Unrelated" not in text
    assert (site.output / "email/week-of-encounter/index.html").is_file()
    assert not (site.output / "email/unrelated/message.eml").read_text().count("Week 1")


def test_bad_settings_get_one_line_each_and_the_emails_still_build(site):
    site.post("plain")
    result = site.build(
        NEWSLETTER={
            "from_address": "not an address",
            "reply_to": "x@@y",
            "max_html_bytes": "big",
            "path": "email/",
            "reason": "You asked for {what}",
        },
        SUBSCRIBERS={},  # no sender settings to fall back on: the plugin's own default
    )
    lines = [line for line in result.errors if line.startswith("newsletter_email:")]
    assert len(lines) == 5
    assert any("NEWSLETTER['reason'] is 'You asked for {what}'" in line for line in lines)
    assert any("NEWSLETTER['reply_to'] is 'x@@y'" in line for line in lines)
    assert any("NEWSLETTER['from_address'] is 'not an address'" in line for line in lines)
    assert any("NEWSLETTER['max_html_bytes']" in line and "'big'" in line for line in lines)
    assert any("NEWSLETTER['path'] is 'email/'; it may only use" in line for line in lines)
    message = parse(site.output / "email/plain/message.eml")
    assert message["From"].addresses[0].addr_spec == "newsletter@encounterhabit.example"
    assert message["Reply-To"] is None


def test_from_and_reply_to_default_to_the_senders_settings(site):
    site.post("plain")
    result = site.build(
        NEWSLETTER={},
        SUBSCRIBERS={"from_address": "issues@example.com", "reply_to": "author@example.com"},
    )
    assert result.errors == []
    message = parse(site.output / "email/plain/message.eml")
    assert message["From"].addresses[0].addr_spec == "issues@example.com"
    assert message["Reply-To"].addresses[0].addr_spec == "author@example.com"


def test_drafts_and_hidden_posts_get_no_email(site):
    site.post("published")
    site.post("unfinished", status="draft")
    site.post("secret", status="hidden")
    result = site.build()
    assert result.errors == []
    assert sorted(p.name for p in (site.output / "email").iterdir()) == ["published"]


@pytest.mark.browser
def test_email_reads_without_horizontal_scroll_at_360_and_keeps_its_column_at_1280(
    built, chromium, screenshots
):
    html = html_part(parse(built.output / f"email/{SLUG}/message.eml"))
    part = built.root / "email-part.html"
    part.write_text(html, encoding="utf-8")
    pages = {"part": part, "web": built.output / f"email/{SLUG}/index.html"}
    for name, path in pages.items():
        for width in (360, 1280):
            page = chromium.new_page(viewport={"width": width, "height": 900})
            try:
                page.goto(path.as_uri())
                scroll, inner = page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert scroll <= inner, f"{name} at {width}px scrolls sideways ({scroll} > {inner})"
                column = page.locator("table.container").bounding_box()
                image = page.locator(".post-body img").bounding_box()
                assert image["width"] <= column["width"]
                if width == 1280:
                    assert column["width"] == pytest.approx(600, abs=2)
                else:
                    assert column["width"] <= 360
                page.screenshot(
                    path=str(screenshots / f"newsletter-{name}-{width}.png"), full_page=True
                )
            finally:
                page.close()


def test_rebuild_reuses_unchanged_emails_and_remakes_one_whose_comments_changed(site):
    site.post("quiet", title="Quiet post")
    site.post("talked-about", title="Talked about")
    assert site.build().errors == []

    def inodes() -> dict[str, int]:
        return {
            slug: (site.output / f"email/{slug}/message.eml").stat().st_ino
            for slug in ("quiet", "talked-about")
        }

    first = inodes()
    site.write("comments/talked-about/c1.md", "Author: Reader\nDate: 2009-09-22T10:00:00\n\nYes.\n")
    assert site.build().errors == []
    second = inodes()
    assert second["quiet"] == first["quiet"], "an unchanged email is linked from the last build"
    assert second["talked-about"] != first["talked-about"]
    soup = BeautifulSoup(
        html_part(parse(site.output / "email/talked-about/message.eml")), "html.parser"
    )
    assert soup.find("a", string="Join the conversation (1 comment)") is not None


def test_digest_clashing_with_a_post_slug_is_one_line_and_the_post_keeps_its_email(site):
    site.post("week-of-encounter", title="Week of encounter, the post", week="Encounter")
    result = site.build()
    assert len(result.errors) == 1
    assert result.errors[0].startswith("newsletter_email: the digest of 'The Week of Encounter'")
    message = parse(site.output / "email/week-of-encounter/message.eml")
    assert str(message["Subject"]) == "Week of encounter, the post"


def test_the_same_post_gives_the_same_message_bytes_on_every_build(site):
    site.post("steady", "Steady", body="Same words each time.")
    from encounter_habit.build import build_site

    build_site(ROOT / "pelicanconf.py", site.settings_overrides(), incremental=False)
    first = (site.output / "email/steady/message.eml").read_bytes()
    build_site(ROOT / "pelicanconf.py", site.settings_overrides(), incremental=False)
    assert (site.output / "email/steady/message.eml").read_bytes() == first
    assert b'boundary="=_' in first


# --- the fast paths: each checked against what it replaces -----------------------------------


def post_body_styles(html: str) -> list[tuple[str, str | None]]:
    soup = BeautifulSoup(html, "html.parser")
    return [(tag.name, tag.get("style")) for tag in soup.select(".post-body *")]


def test_post_html_is_styled_as_css_inline_styles_the_whole_document(built):
    """The post's HTML is styled apart from the layout: the same styles as inlining it all."""
    css = (ROOT / "theme/templates/email/email.css").read_text()
    pages = {
        "post": html_part(parse(built.output / f"email/{SLUG}/message.eml")),
        "web page": built.page(f"email/{SLUG}/index.html"),
        "digest": html_part(parse(built.output / "email/week-of-encounter/message.eml")),
    }
    for name, html in pages.items():
        bare = BeautifulSoup(html, "html.parser")
        for tag in bare.select(".post-body *"):
            del tag["style"]
        bare.style.string = css
        reference = post_body_styles(css_inline.inline(str(bare)))
        assert sum(style is not None for _tag, style in reference) >= 1, name
        assert post_body_styles(html) == reference, name
    assert len(post_body_styles(pages["post"])) > 15


def test_non_ascii_names_and_long_subjects_are_encoded_and_folded(site):
    title = (
        "Ça commence: the encounter habit, über alles, 会話 — and a subject long enough that "
        "it has to be folded over several header lines"
    )
    site.post("unicode", title=title)
    result = site.build(NEWSLETTER={"from_name": "Zoë at Café Encounter"})
    assert result.errors == []
    raw = (site.output / "email/unicode/message.eml").read_bytes()
    raw.decode("ascii")
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert all(len(line) <= 998 for line in head.split("\r\n"))  # RFC 5322's hard limit
    assert "=?utf-8?" in head
    subject = re.search(r"^Subject:.*?(?=^\S)", head, re.M | re.S).group()
    assert subject.count("\r\n") > 1, "a long subject is folded"
    assert all(len(line) <= 78 for line in subject.split("\r\n"))
    message = parse(site.output / "email/unicode/message.eml")
    assert str(message["Subject"]) == title
    assert message["From"].addresses[0].display_name == "Zoë at Café Encounter"
    assert message.defects == []
    assert all(part.defects == [] for part in message.walk())
    for part in message.iter_parts():
        body = part.get_payload(decode=False)
        assert all(len(line) <= 76 for line in body.splitlines())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Subject", "Plain words"),
        ("Subject", ""),
        ("Subject", "Ünïcode and 会話"),
        ("Subject", "=?utf-8?q?looks_encoded?="),
        ("Subject", '(parens), "quotes", <angles> and ; semicolons'),
        ("Subject", "two  spaces"),
        ("Subject", "word " * 30),
        ("Subject", "x" * 120),
        ("List-Archive", "<http://127.0.0.1:8000/email/a-post/>"),
        ("List-Archive", f"<http://127.0.0.1:8000/email/{'long-' * 20}/>"),
        ("List-Archive", "<http://127.0.0.1:8000/email/café/>"),
        ("Message-ID", "<a-post.0123456789abcdef@theencounterhabit.com>"),
        ("Date", "Mon, 21 Sep 2009 09:00:00 -0500"),
    ],
)
def test_header_field_writes_what_the_email_package_writes(name, value):
    expected = policy.SMTP.fold(name, policy.SMTP.header_store_parse(name, value)[1])
    assert header_field(name, value) == expected


def test_header_field_refuses_a_line_break():
    with pytest.raises(ValueError):
        header_field("Subject", "Hello\r\nBcc: victim@example.com")


def test_quoted_printable_round_trips_in_short_crlf_lines():
    text = (
        "A = sign, caf\u00e9, \u4f1a\u8a71, a tab\there, trailing space \n"
        + "long line " * 40
        + "\nCRLF\r\nlone CR\rend"
    )
    encoded = quoted_printable(text)
    assert encoded.isascii() and encoded.endswith("\r\n")
    lines = encoded.split("\r\n")
    assert all(len(line) <= 76 for line in lines)
    assert "\n" not in encoded.replace("\r\n", "")
    expected = "\r\n".join(text.splitlines()) + "\r\n"
    assert binascii.a2b_qp(encoded.encode()).decode("utf-8") == expected


def test_wrap_words_makes_the_lines_textwrap_makes():
    rng = random.Random(7)
    words = ["a", "bb", "word.", "caf\u00e9", "foo-bar", "x" * 19, "y" * 25, "%%MANAGE_URL%%"]
    words.append("https://example.org/" + "p" * 70)
    for _ in range(3000):
        line = one_line(" ".join(rng.choice(words) for _ in range(rng.randint(0, 40))))
        width = rng.randint(20, 80)
        assert wrap_words(line, width) == textwrap.fill(
            line, width, break_long_words=False, break_on_hyphens=False
        )


def test_relative_urls_in_reads_attributes_not_text():
    html = (
        '<p title="a > b href=nope">&lt;a href="text"&gt;</p>'
        '<a href="#top">top</a><a data-href="x" href="https://example.org/">abs</a>'
        "<img alt='q' src='/images/x.png'><a href=page.html>u</a>"
        '<a href="&#109;ailto:me@example.com">m</a><a href="%%UNSUBSCRIBE_URL%%">u</a>'
    )
    assert relative_urls_in(html) == ["#top", "/images/x.png", "page.html"]


def test_in_page_links_lead_to_the_posts_page(site):
    # Markdown's footnotes and a hand-written "#later" are in-page links: most mail clients drop
    # the ids they point at, so the email links them to the same place on the post's page.
    site.post(
        "anchored",
        body='Jump to <a href="#later">later</a>, or a note.[^why]\n\nLater.\n\n[^why]: Because.',
    )
    result = site.build()
    assert result.errors == []
    # the message's URLs are absolute; its "view in browser" copy is on the site itself
    for name, page in (
        ("message.eml", "http://127.0.0.1:8000/2009/09/anchored/"),
        ("index.html", "/2009/09/anchored/"),
    ):
        path = site.output / "email/anchored" / name
        html = html_part(parse(path)) if name.endswith(".eml") else path.read_text()
        hrefs = [a["href"] for a in BeautifulSoup(html, "html.parser").find_all("a")]
        assert page + "#later" in hrefs, name
        assert page + "#fn:why" in hrefs and page + "#fnref:why" in hrefs, name
        assert not [href for href in hrefs if href.startswith("#")], name
    web = site.soup("2009/09/anchored/index.html")
    assert web.find(id="fn:why") and web.find(id="fnref:why"), "the page has what they point at"
    assert web.find("a", href="#fn:why"), "the site's own page keeps its in-page links"


def test_stand_ins_key_the_shape_of_the_values_not_the_values():
    def shape(values):
        slots: list[str] = []
        stand, key = stand_ins(values, slots)
        return stand, key, slots

    one = {"title": "One", "lines": [{"url": "u1"}], "body": Fragment("<p>1</p>"), "flag": True}
    two = {"title": "Two", "lines": [{"url": "u2"}], "body": Fragment("<p>2</p>"), "flag": True}
    stand, key, slots = shape(one)
    assert slots == ["One", "u1", "<p>1</p>"]
    assert stand["title"] == "\ue0000\ue001" and stand["body"] == "\ue0002\ue001"
    assert shape(two)[1] == key
    assert shape({**one, "title": ""})[1] != key, "an empty string is part of the shape"
    assert shape({**one, "lines": []})[1] != key
    assert shape({**one, "flag": False})[1] != key
    with pytest.raises(TypeError):
        shape({"when": datetime(2009, 9, 21)})


def test_layouts_the_shells_cannot_fill_faithfully_are_refused():
    css = "p { margin: 0 }"
    mangled = "<html><body><p>\ue0001</p></body></html>"  # a stand-in cut by a filter
    with pytest.raises(ValueError, match="changes a value"):
        Shell.of(mangled, set(), css)
    in_attribute = '<html><body><p title="\ue0000\ue001"></p></body></html>'
    with pytest.raises(ValueError, match="inside an element"):
        Shell.of(in_attribute, {0}, css)
    twice = '<html><body><p class="a">\ue0000\ue001</p><p class="b">\ue0000\ue001</p></body></html>'
    with pytest.raises(ValueError, match="two differently styled places"):
        Shell.of(twice, {0}, css)
    same_place_twice = twice.replace('class="b"', 'class="a"')
    assert list(Shell.of(same_place_twice, {0}, css).groups.values()) == [[0]]


def test_without_at_rules_keeps_only_the_rule_sets():
    css = '@charset "utf-8"; @import url(a.css);\np { a: b } /* { */ @media x { q { c: d } } r{e:f}'
    assert without_at_rules(css) == "p { a: b }\nr{e:f}"
