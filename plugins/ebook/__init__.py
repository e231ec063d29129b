from .ebook import register  # noqa: F401
