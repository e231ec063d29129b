from .weekof import register  # noqa: F401
