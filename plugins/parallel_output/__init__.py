from .parallel_output import register  # noqa: F401
