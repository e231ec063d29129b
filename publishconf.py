"""Production settings: everything in pelicanconf.py, with the values only the live site needs."""

from __future__ import annotations

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *  # noqa: E402

SITEURL = os.environ.get("ENCOUNTER_SITEURL", "https://theencounterhabit.com")
RELATIVE_URLS = False
DELETE_OUTPUT_DIRECTORY = True

# The subscription service the site's forms post to, and the links in emails point at.
SUBSCRIBERS = {
    **SUBSCRIBERS,
    "service_url": os.environ.get(
        "ENCOUNTER_SERVICE_URL", "https://subscribe.theencounterhabit.com"
    ),
}
SUBSCRIBE_ACTION = SUBSCRIBERS["service_url"] + "/subscribe"
