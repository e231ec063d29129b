"""Per-subscriber placeholders: the email rendition writes them, the sender fills them in.

They are plain ASCII tokens so they survive header folding and every MIME encoding the
sender may re-apply after substituting them in the decoded text of each part.
"""

from __future__ import annotations

RECIPIENT = "%%RECIPIENT%%"  # the subscriber's address, in the To header
# https one-click unsubscribe link (List-Unsubscribe and footer)
UNSUBSCRIBE_URL = "%%UNSUBSCRIBE_URL%%"
UNSUBSCRIBE_MAILTO = "%%UNSUBSCRIBE_MAILTO%%"  # mailto: unsubscribe address (List-Unsubscribe)
MANAGE_URL = "%%MANAGE_URL%%"  # page where the subscriber manages or leaves the subscription

ALL = (RECIPIENT, UNSUBSCRIBE_URL, UNSUBSCRIBE_MAILTO, MANAGE_URL)
