from .sitemap_xml import register  # noqa: F401
