from .newsletter_email import register  # noqa: F401
