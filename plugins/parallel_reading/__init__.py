from .parallel_reading import register  # noqa: F401
