"""Frozen URLs: a post's URL and file name are worked out once per build, not at every use.

Pelican computes ``url`` and ``save_as`` afresh on every access: a copy of the metadata, the
relative source path and a date formatted through strftime, about 0.1 ms each. A build reads them
some eight times per post (its page, neighbours' links, listings, feeds, emails, sitemap, the
incremental keys), which at 2,000 posts was 16,000 computations and 1.7 s of a 7 s incremental
build. Once every generator has read its content (``all_generators_finalized``) nothing may change
what a URL is made from any more, so from then until the build ends each content object keeps the
values it has worked out.
"""

from __future__ import annotations

from pelican import signals
from pelican.contents import Content

from encounter_habit import live

_original = Content.get_url_setting
_frozen = False


def get_url_setting(self: Content, key: str) -> str:
    """Pelican's get_url_setting, remembered per object once URLs are frozen."""
    if not _frozen:
        return _original(self, key)
    known = self.__dict__.get("_frozen_url_settings")
    if known is None:
        known = self.__dict__["_frozen_url_settings"] = {}
    value = known.get(key)
    if value is None:
        value = known[key] = _original(self, key)
    return value


def freeze(generators) -> None:
    """All content is read and settled: URLs may be remembered from here on."""
    global _frozen
    _frozen = True


def thaw(*_args) -> None:
    """A build starts or ends: what the next one reads may change any URL."""
    global _frozen
    _frozen = False


def settle(settled: bool) -> None:
    """A live rebuild from the last build's posts (encounter_habit.live): their metadata is as
    it was, so the URLs they remembered still hold."""
    global _frozen
    _frozen = settled


def register() -> None:
    Content.get_url_setting = get_url_setting
    signals.initialized.connect(thaw)
    signals.all_generators_finalized.connect(freeze)
    signals.finalized.connect(thaw)
    live.settled["frozen_urls"] = settle
