"""Errors a user can cause; each message is one line saying what is wrong and how to fix it."""

from __future__ import annotations


class SubscribersError(Exception):
    """A configuration, input or delivery problem reported as one clear line, never a traceback."""
