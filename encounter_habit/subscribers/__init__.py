"""Subscribers: the store, the double opt-in service and the crash-safe newsletter sender."""
