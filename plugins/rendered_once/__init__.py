from .rendered_once import register  # noqa: F401
