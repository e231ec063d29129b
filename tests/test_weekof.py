"""The "Week of" series and ordinary series: navigation, pages, labels and bad input (issue 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pelican import signals

from encounter_habit.build import build_site

ROOT = Path(__file__).resolve().parent.parent
NOW = "2020-01-01T00:00"  # the build's "now": posts dated later are future posts


@pytest.fixture
def captured():
    """The shared template context of the next build, as the plugins left it."""
    context: dict = {}

    def keep_context(generators):
        for generator in generators:
            context.update(generator.context)

    signals.all_generators_finalized.connect(keep_context)
    yield context
    signals.all_generators_finalized.disconnect(keep_context)


def build(site, **weekof):
    """Build with "now" pinned, and any other WEEKOF settings."""
    return site.build(WEEKOF={"now": NOW, **weekof})


def write_three_weeks(site):
    """Encounter (two posts), Conversation (one), Uniqueness (one): weeks 1, 2, 3."""
    site.post(
        "encounter-kickoff", "Make this the Week of Encounter", "2009-09-21 09:00", week="Encounter"
    )
    site.post(
        "encounter-followup", "Encounters at the counter", "2009-09-23 09:00", week="Encounter"
    )
    site.post("conversation", "The Week of Conversation", "2009-09-28 09:00", week="Conversation")
    site.post("uniqueness", "The Week of Uniqueness", "2009-10-05 09:00", week="Uniqueness")
    site.post("unrelated", "A post of no week", "2009-09-25 09:00")


def nav_of(soup, label="The Week of …"):
    """The series navigation of a page, found by its accessible name."""
    (nav,) = soup.select(f'main nav[aria-label="{label}"]')
    return nav


def texts(nodes):
    return [" ".join(node.get_text().split()) for node in nodes]


# -- a post in a week ---------------------------------------------------------------------------


def test_post_names_its_week_number_theme_and_the_series_page(site):
    write_three_weeks(site)
    assert build(site).errors == []
    nav = nav_of(site.soup("2009/09/conversation/index.html"))
    label = nav.select_one(".series-nav__label a")
    assert label.get_text(strip=True) == "Week 2 of The Week of …"
    assert label["href"] == "/week-of/"
    title = nav.select_one(".series-nav__title a")
    assert (title.get_text(strip=True), title["href"]) == (
        "The Week of Conversation",
        "/week-of/conversation/",
    )


def test_prev_and_next_link_the_neighbouring_weeks_with_rel(site):
    write_three_weeks(site)
    build(site)
    middle = nav_of(site.soup("2009/09/conversation/index.html"))
    assert middle.select_one('a[rel="prev"]')["href"] == "/week-of/encounter/"
    assert middle.select_one('a[rel="next"]')["href"] == "/week-of/uniqueness/"
    assert "Week 3: The Week of Uniqueness" in middle.select_one('a[rel="next"]').get_text()
    first = nav_of(site.soup("2009/09/encounter-kickoff/index.html"))
    assert first.select('a[rel="prev"]') == []
    last = nav_of(site.soup("2009/10/uniqueness/index.html"))
    assert last.select('a[rel="next"]') == []


def test_a_week_of_several_posts_lists_them_oldest_first_marking_the_current_one(site):
    write_three_weeks(site)
    build(site)
    nav = nav_of(site.soup("2009/09/encounter-followup/index.html"))
    items = nav.select(".series-nav__posts li")
    assert texts(items) == ["Make this the Week of Encounter", "Encounters at the counter"]
    assert items[0].a["href"] == "/2009/09/encounter-kickoff/"
    assert items[1].select_one('[aria-current="page"]') is not None
    # A one-post week has nothing else to list.
    assert nav_of(site.soup("2009/09/conversation/index.html")).select(".series-nav__posts") == []


def test_a_post_outside_any_week_or_series_has_no_series_navigation(site):
    write_three_weeks(site)
    build(site)
    assert site.soup("2009/09/unrelated/index.html").select("main nav") == []


# -- drafts, hidden and future posts --------------------------------------------------------------


def write_week_with_unpublished_posts(site):
    write_three_weeks(site)
    site.post(
        "encounter-draft",
        "Draft of encounter",
        "2009-09-22 09:00",
        week="Encounter",
        status="draft",
    )
    site.post(
        "encounter-hidden",
        "Hidden encounter",
        "2009-09-22 10:00",
        week="Encounter",
        status="hidden",
    )
    site.post("encounter-future", "Future encounter", "2030-09-22 09:00", week="Encounter")
    # A week whose only post is in the future does not exist yet.
    site.post(
        "patience", "The Week of Patience", "2009-09-10 09:00", week="Patience", status="draft"
    )
    site.post("later", "The Week of Later", "2031-01-05 09:00", week="Later")


def test_drafts_hidden_and_future_posts_are_in_no_navigation_count_or_listing(site):
    write_week_with_unpublished_posts(site)
    assert build(site).errors == []
    unpublished = {"Draft of encounter", "Hidden encounter", "Future encounter"}
    nav = nav_of(site.soup("2009/09/encounter-kickoff/index.html"))
    assert texts(nav.select(".series-nav__posts li")) == [
        "Make this the Week of Encounter",
        "Encounters at the counter",
    ]
    week_page = site.soup("week-of/encounter/index.html")
    assert unpublished.isdisjoint(texts(week_page.select(".post-card__title")))
    assert "2 posts" in week_page.select_one(".week-lead").get_text()
    weeks_page = site.soup("week-of/index.html")
    assert unpublished.isdisjoint(texts(weeks_page.select(".week-card__posts a")))
    assert texts(weeks_page.select(".week-card__number")) == ["Week 3", "Week 2", "Week 1"]
    assert not (site.output / "week-of/patience").exists()
    assert not (site.output / "week-of/later").exists()
    # The last published week is still the last one: no link to a week that is not out.
    assert nav_of(site.soup("2009/10/uniqueness/index.html")).select('a[rel="next"]') == []


def test_unpublished_posts_carry_no_series_objects(site, captured):
    write_week_with_unpublished_posts(site)
    site.post("part-draft", "Draft part", "2009-09-22 09:00", series="Listening", status="draft")
    site.post("part-one", "Part one", "2009-09-20 09:00", series="Listening")
    build(site)
    by_slug = {article.slug: article for article in captured["articles"]}
    assert by_slug["encounter-future"].week is None
    assert by_slug["later"].week is None
    (draft,) = [d for d in captured["drafts"] if d.slug == "part-draft"]
    assert (draft.week, draft.series, draft.series_part_label) == (None, None, None)
    assert by_slug["part-one"].series.total == 1


def test_now_decides_what_is_future(site):
    site.post("soon", "Soon", "2019-12-31 09:00", week="Soon")
    build(site, now="2019-12-30T00:00")
    assert not (site.output / "week-of/soon").exists()
    build(site, now="2019-12-31T10:00")
    assert (site.output / "week-of/soon/index.html").is_file()


# -- next week's announcement ---------------------------------------------------------------------


def test_next_week_is_announced_on_the_latest_week_until_it_is_published(site):
    write_three_weeks(site)
    site.post(
        "uniqueness-2",
        "More uniqueness",
        "2009-10-07 09:00",
        week="Uniqueness",
        next_week="Curiosity",
    )
    build(site)
    announcement = "Next week: the Week of Curiosity"
    latest = nav_of(site.soup("2009/10/uniqueness/index.html"))
    assert latest.select_one(".series-nav__announce").get_text(strip=True) == announcement
    assert (
        site.soup("week-of/index.html").select_one(".week-announce").get_text(strip=True)
        == announcement
    )
    assert (
        nav_of(site.soup("2009/09/conversation/index.html")).select(".series-nav__announce") == []
    )

    site.post("curiosity", "The Week of Curiosity", "2009-10-12 09:00", week="Curiosity")
    build(site)
    assert site.soup("week-of/index.html").select(".week-announce") == []
    assert nav_of(site.soup("2009/10/uniqueness/index.html")).select(".series-nav__announce") == []
    nav = nav_of(site.soup("2009/10/uniqueness/index.html"))
    assert nav.select_one('a[rel="next"]')["href"] == "/week-of/curiosity/"


def test_an_announcement_on_an_older_week_is_history_not_news(site):
    write_three_weeks(site)
    site.post(
        "conversation-2",
        "More conversation",
        "2009-09-29 09:00",
        week="Conversation",
        next_week="Silence",
    )
    build(site)
    assert site.soup("week-of/index.html").select(".week-announce") == []


# -- the series pages -----------------------------------------------------------------------------


def test_series_page_lists_every_week_with_number_theme_dates_and_posts(site):
    write_three_weeks(site)
    build(site)
    page = site.soup("week-of/index.html")
    assert page.select_one("h1").get_text(strip=True) == "The Week of …"
    cards = page.select(".week-card")
    assert [c.select_one(".week-card__title a")["href"] for c in cards] == [
        "/week-of/uniqueness/",
        "/week-of/conversation/",
        "/week-of/encounter/",
    ]
    encounter = cards[2]
    assert encounter.select_one(".week-card__number").get_text(strip=True) == "Week 1"
    assert encounter.select_one(".week-card__title").get_text(strip=True) == "The Week of Encounter"
    assert [t["datetime"] for t in encounter.select(".week-card__dates time")] == [
        "2009-09-21",
        "2009-09-23",
    ]
    assert texts(encounter.select(".week-card__posts a")) == [
        "Make this the Week of Encounter",
        "Encounters at the counter",
    ]
    assert encounter.select_one(".week-card__count").get_text(strip=True) == "2 posts"


def test_week_page_lists_its_posts_and_links_the_neighbouring_weeks(site):
    write_three_weeks(site)
    build(site)
    page = site.soup("week-of/conversation/index.html")
    assert page.select_one("h1").get_text(strip=True) == "The Week of Conversation"
    assert texts(page.select(".post-card__title")) == ["The Week of Conversation"]
    nav = nav_of(page)
    assert nav.select_one('a[rel="prev"]')["href"] == "/week-of/encounter/"
    assert nav.select_one('a[rel="next"]')["href"] == "/week-of/uniqueness/"
    assert page.select_one('link[rel="canonical"]')["href"] == "/week-of/conversation/"


def test_menu_links_the_week_of_page_as_current_there(site):
    write_three_weeks(site)
    build(site)
    link = site.soup("week-of/index.html").select_one('.site-nav a[href="/week-of/"]')
    assert link["aria-current"] == "page"


def test_series_page_exists_with_no_week_yet(site):
    site.post("plain", "Plain")
    build(site)
    page = site.soup("week-of/index.html")
    assert page.select(".week-card") == []
    assert "No week" in page.select_one(".page-lead").get_text()


def test_names_and_url_patterns_come_from_the_settings(site):
    write_three_weeks(site)
    build(
        site,
        name="Weekly themes",
        url="themes/",
        save_as="themes/index.html",
        week_url="themes/{slug}.html",
        week_save_as="themes/{slug}.html",
        week_title="Week of {theme}",
        week_label="#{number} in {series}",
    )
    nav = nav_of(site.soup("2009/09/conversation/index.html"), "Weekly themes")
    assert nav.select_one(".series-nav__label").get_text(strip=True) == "#2 in Weekly themes"
    assert nav.select_one(".series-nav__title a")["href"] == "/themes/conversation.html"
    assert (
        site.soup("themes/conversation.html").select_one("h1").get_text(strip=True)
        == "Week of Conversation"
    )
    assert (site.output / "themes/index.html").is_file()


# -- ordinary series ------------------------------------------------------------------------------


def write_series_out_of_order(site):
    # Written in the wrong date order on purpose: parts decide, dates only break ties.
    site.post(
        "listening-3",
        "Listening, part three",
        "2009-09-01 09:00",
        series="Listening",
        series_part="3",
    )
    site.post(
        "listening-1",
        "Listening, part one",
        "2009-09-10 09:00",
        series="Listening",
        series_part="1",
    )
    site.post(
        "listening-2",
        "Listening, part two",
        "2009-09-05 09:00",
        series="Listening",
        series_part="2",
    )


def test_ordinary_series_is_ordered_by_part_then_date_with_part_labels(site):
    write_series_out_of_order(site)
    assert build(site).errors == []
    page = site.soup("series/listening/index.html")
    assert page.select_one("h1").get_text(strip=True) == "Listening"
    assert texts(page.select(".post-card__title")) == [
        "Listening, part one",
        "Listening, part two",
        "Listening, part three",
    ]
    assert texts(page.select(".post-card__series")) == ["Part 1 of 3", "Part 2 of 3", "Part 3 of 3"]


def test_listings_show_the_part_label(site):
    write_series_out_of_order(site)
    build(site)
    cards = site.soup("index.html").select(".post-card")
    labels = {
        c.select_one(".post-card__title").get_text(strip=True): c.select_one(
            ".post-card__series"
        ).get_text(strip=True)
        for c in cards
    }
    assert labels["Listening, part two"] == "Part 2 of 3"


def test_series_post_links_its_parts_and_neighbours(site):
    write_series_out_of_order(site)
    build(site)
    nav = nav_of(site.soup("2009/09/listening-2/index.html"), "Listening")
    assert nav.select_one(".series-nav__label").get_text(strip=True) == "Part 2 of 3 of the series"
    assert nav.select_one(".series-nav__title a")["href"] == "/series/listening/"
    assert nav.select_one('a[rel="prev"]')["href"] == "/2009/09/listening-1/"
    assert nav.select_one('a[rel="next"]')["href"] == "/2009/09/listening-3/"


def test_a_draft_part_leaves_no_gap_in_the_labels(site):
    write_series_out_of_order(site)
    site.post(
        "listening-4",
        "Listening, part four",
        "2009-09-12 09:00",
        series="Listening",
        series_part="4",
        status="draft",
    )
    build(site)
    page = site.soup("series/listening/index.html")
    assert texts(page.select(".post-card__series"))[-1] == "Part 3 of 3"
    assert "Listening, part four" not in texts(page.select(".post-card__title"))


def test_a_post_in_a_week_and_a_series_shows_both_navigations(site):
    site.post(
        "both", "Both", "2009-09-21 09:00", week="Encounter", series="Listening", series_part="1"
    )
    build(site)
    soup = site.soup("2009/09/both/index.html")
    assert nav_of(soup) is not None
    assert nav_of(soup, "Listening") is not None


# -- what templates and other plugins see ---------------------------------------------------------


def test_series_collections_hold_each_series_published_newest_first(site, captured):
    write_week_with_unpublished_posts(site)
    write_series_out_of_order(site)
    build(site)
    collections = captured["series_collections"]
    assert [(c.kind, c.name, c.slug, c.url) for c in collections] == [
        ("week-of", "The Week of …", "week-of", "week-of/"),
        ("series", "Listening", "listening", "series/listening/"),
    ]
    weekof, listening = collections
    assert [a.slug for a in weekof.articles] == [
        "uniqueness",
        "conversation",
        "encounter-followup",
        "encounter-kickoff",
    ]
    assert [a.slug for a in listening.articles] == ["listening-1", "listening-2", "listening-3"]


def test_article_week_and_weeks_follow_the_contract(site, captured):
    write_three_weeks(site)
    write_series_out_of_order(site)
    build(site)
    weeks = captured["weekof_weeks"]
    assert [(w.number, w.theme, w.title, w.url) for w in weeks] == [
        (1, "Encounter", "The Week of Encounter", "week-of/encounter/"),
        (2, "Conversation", "The Week of Conversation", "week-of/conversation/"),
        (3, "Uniqueness", "The Week of Uniqueness", "week-of/uniqueness/"),
    ]
    by_slug = {article.slug: article for article in captured["articles"]}
    week = by_slug["encounter-followup"].week
    assert week is weeks[0]
    assert [a.slug for a in week.articles] == ["encounter-kickoff", "encounter-followup"]
    assert (week.first_date.day, week.last_date.day) == (21, 23)
    assert (week.prev, week.next) == (None, weeks[1])
    part = by_slug["listening-2"].series
    assert (part.name, part.slug, part.url, part.part, part.total) == (
        "Listening",
        "listening",
        "series/listening/",
        2,
        3,
    )
    assert [a.slug for a in part.articles] == ["listening-1", "listening-2", "listening-3"]
    assert by_slug["listening-2"].series_part_label == "Part 2 of 3"
    assert by_slug["unrelated"].week is None


# -- bad input: one line each, the build goes on ----------------------------------------------------


def test_non_numeric_part_is_one_line_naming_file_line_and_fix(site):
    write_series_out_of_order(site)
    bad = site.post(
        "listening-x", "Listening, extra", "2009-09-11 09:00", series="Listening", series_part="two"
    )
    errors = build(site).errors
    assert errors == [
        f"weekof: {bad}:5: Series-part 'two' is not a whole number from 1 up; write it like "
        "'Series-part: 2' (ordered by date meanwhile)"
    ]
    # Still in the series, after the numbered parts.
    page = site.soup("series/listening/index.html")
    assert texts(page.select(".post-card__title"))[-1] == "Listening, extra"
    assert (site.output / "2009/09/listening-x/index.html").is_file()


def test_two_posts_claiming_the_same_part_are_named_and_both_kept(site):
    first = site.post("a", "First claim", "2009-09-01 09:00", series="Listening", series_part="1")
    second = site.post("b", "Second claim", "2009-09-02 09:00", series="Listening", series_part="1")
    (error,) = build(site).errors
    assert error == (
        f"weekof: {second}:5: Series-part 1 of series 'Listening' is also claimed by {first}; "
        "give each post its own part (both kept, in date order)"
    )
    page = site.soup("series/listening/index.html")
    assert texts(page.select(".post-card__title")) == ["First claim", "Second claim"]


@pytest.mark.parametrize(
    ("spelling", "difference"),
    [
        ("encounter", "differs only in case from"),
        ("Encounter  Habit", "differs only in spacing from"),
        ("encounter  habit", "differs only in case and spacing from"),
    ],
)
def test_a_theme_spelled_two_ways_says_how_and_makes_one_week(site, spelling, difference):
    theme = "Encounter Habit" if "habit" in spelling.casefold() else "Encounter"
    first = site.post("first", "First", "2009-09-21 09:00", week=theme)
    second = site.post("second", "Second", "2009-09-22 09:00", week=spelling)
    (error,) = build(site).errors
    assert error == (
        f"weekof: {second}:4: Week {spelling!r} {difference} {theme!r} in {first}; "
        f"spell it {theme!r} so both are one week"
    )
    slug = "encounter-habit" if "habit" in spelling.casefold() else "encounter"
    page = site.soup(f"week-of/{slug}/index.html")
    assert texts(page.select(".post-card__title")) == ["First", "Second"]
    assert len(site.soup("week-of/index.html").select(".week-card")) == 1


def test_series_name_spelled_two_ways_is_reported_too(site):
    site.post("one", "One", "2009-09-01 09:00", series="Listening Well", series_part="1")
    other = site.post("two", "Two", "2009-09-02 09:00", series="listening well", series_part="2")
    (error,) = build(site).errors
    assert error.startswith(f"weekof: {other}:4: Series 'listening well' differs only in case from")
    assert len(site.soup("series/listening-well/index.html").select(".post-card")) == 2


def test_part_without_series_and_next_week_without_week_are_reported(site):
    lone_part = site.post("lone-part", "Lone part", series_part="2")
    lone_next = site.post("lone-next", "Lone next", next_week="Uniqueness")
    errors = build(site).errors
    assert (
        f"weekof: {lone_part}:4: Series-part without Series; add 'Series: <name>' or remove it"
        in errors
    )
    assert (
        f"weekof: {lone_next}:4: Next-week only works on a post of a week; add 'Week: <theme>' "
        "or remove Next-week"
    ) in errors
    assert len(errors) == 2


def test_bad_settings_get_one_line_each_and_the_defaults(site):
    write_three_weeks(site)
    errors = site.build(
        WEEKOF={
            "now": "someday",
            "week_url": "weeks/",
            "part_label": "{part}/{count}",
            "colour": "red",
        }
    ).errors
    assert (
        "weekof: WEEKOF['week_url'] must be a string containing '{slug}', got 'weeks/'; "
        "using 'week-of/{slug}/'"
    ) in errors
    assert any(
        line.startswith("weekof: WEEKOF['now'] 'someday' is not a date-time") for line in errors
    )
    assert (
        "weekof: WEEKOF['part_label'] = '{part}/{count}' uses a placeholder other than "
        "['name', 'part', 'total']; using 'Part {part} of {total}'"
    ) in errors
    assert len(errors) == 3  # the unknown key is a warning, not an error
    assert (site.output / "week-of/conversation/index.html").is_file()


# -- the real content -----------------------------------------------------------------------------


def test_the_seed_posts_build_a_week_of_encounter(tmp_path):
    report = build_site(
        ROOT / "pelicanconf.py",
        {
            "PATH": str(ROOT / "content"),
            "OUTPUT_PATH": str(tmp_path / "output"),
            "CACHE_PATH": str(tmp_path / "cache"),
            "SITEURL": "",
        },
    )
    assert [line for line in report.errors if line.startswith("weekof:")] == []
    from bs4 import BeautifulSoup

    week = BeautifulSoup(
        (tmp_path / "output/week-of/encounter/index.html").read_text(), "html.parser"
    )
    assert "Make this the Week of Encounter" in texts(week.select(".post-card__title"))
    post = BeautifulSoup(
        (tmp_path / "output/2009/09/make-this-the-week-of-encounter/index.html").read_text(),
        "html.parser",
    )
    from encounter_habit.build import load_settings

    name = load_settings(ROOT / "pelicanconf.py")["WEEKOF"]["name"]
    assert (
        nav_of(post, name).select_one(".series-nav__label").get_text(strip=True)
        == f"Week 1 of {name}"
    )


def test_a_long_series_links_neighbours_without_listing_every_part(site):
    for number in range(1, 5):
        site.post(
            f"part-{number}",
            f"Part {number}",
            f"2009-09-0{number} 09:00",
            series="Long",
            series_part=str(number),
        )
    build(site, nav_list_limit=3)
    nav = nav_of(site.soup("2009/09/part-2/index.html"), "Long")
    assert nav.select(".series-nav__posts") == []
    assert nav.select_one('a[rel="next"]')["href"] == "/2009/09/part-3/"
    assert len(site.soup("series/long/index.html").select(".post-card")) == 4
