from .comments import register  # noqa: F401
