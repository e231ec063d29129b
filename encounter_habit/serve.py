"""Serve the built site on localhost, with pretty URLs and the site's own 404 page."""

from __future__ import annotations

import functools
import http.server
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


class SiteRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Static files from the output folder; unknown paths get output/404.html with status 404."""

    def send_error(self, code, message=None, explain=None):
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        logger.info("serve: %s", format % args)


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8000) -> http.server.HTTPServer:
    """An HTTP server for the built site in ``root`` (port 0 picks a free one)."""
    handler = functools.partial(SiteRequestHandler, directory=str(root))
    return http.server.ThreadingHTTPServer((host, port), handler)
