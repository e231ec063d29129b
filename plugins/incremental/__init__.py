from .incremental import register  # noqa: F401
