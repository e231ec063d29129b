"""The subscription service (Flask): double opt-in, one-click unsubscribe, signed ebook download."""

from __future__ import annotations

import hashlib
import hmac
import logging
from urllib.parse import urlsplit

from flask import Flask, Response, g, redirect, render_template, request, send_file, url_for

from . import links, tokens
from .emails import build_email, send_email
from .errors import SubscribersError
from .settings import Settings, load_settings, secret_key
from .store import CONFIRMED, SqliteStore, Subscriber, normalise_email
from .transports import DeliveryError, Transport, make_transport

log = logging.getLogger(__name__)

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
EPUB_MIMETYPE = "application/epub+zip"


def security_headers(site_url: str):
    """An after_request hook setting strict headers; styles and images may come from the site."""
    origin = ""
    parts = urlsplit(site_url)
    if parts.scheme in ("http", "https") and parts.netloc:
        origin = f" {parts.scheme}://{parts.netloc}"
    policy = (
        f"default-src 'none'; style-src 'self'{origin}; img-src 'self'{origin}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )

    def add_headers(response: Response) -> Response:
        # Tokens travel in URLs: never leak them to another site through Referer.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = policy
        response.headers["Cache-Control"] = "no-store"
        return response

    return add_headers


def create_app(settings: Settings | None = None, transport: Transport | None = None) -> Flask:
    """Build the service; refuses (SubscribersError) without ENCOUNTER_SECRET_KEY."""
    settings = settings or load_settings()
    key = secret_key()
    app = Flask(__name__, template_folder="templates/pages")
    app.after_request(security_headers(settings["site_url"]))

    def get_store() -> SqliteStore:
        if "subscriber_store" not in g:
            g.subscriber_store = SqliteStore(settings.path("db_path"))
        return g.subscriber_store

    @app.teardown_appcontext
    def close_store(_exc: BaseException | None) -> None:
        store = g.pop("subscriber_store", None)
        if store is not None:
            store.close()

    @app.context_processor
    def site_context() -> dict[str, str]:
        return {"site_name": settings["site_name"], "site_url": settings["site_url"]}

    def page(heading: str, text: str, status: int, show_subscribe: bool = False) -> tuple[str, int]:
        html = render_template(
            "message.html", heading=heading, text=text, show_subscribe=show_subscribe
        )
        return html, status

    def invalid_link() -> tuple[str, int]:
        return page(
            "This link does not work",
            "The link is incomplete, was altered, or has expired. Links in our emails work as sent; "
            "for a new confirmation link, subscribe again.",
            400,
            show_subscribe=True,
        )

    def deliver(kind: str, email: str, **context: str) -> bool:
        message = build_email(settings, kind, email, **context)
        try:
            send_email(settings, transport or make_transport(settings), message)
        except DeliveryError as exc:
            log.error("subscribers: could not send the %s email to %r: %s", kind, email, exc.detail)
            return False
        return True

    def token_subscriber(purpose: str) -> Subscriber | None:
        """The subscriber a link's token was signed for, if the token is valid and still theirs."""
        try:
            subscriber_id, tag = tokens.read_token(key, purpose, request.args.get("token", ""))
            subscriber = get_store().get(int(subscriber_id))
        except (tokens.TokenError, ValueError):
            return None
        if subscriber is None or not hmac.compare_digest(tokens.email_tag(subscriber.email), tag):
            return None
        return subscriber

    def download_links(subscriber: Subscriber) -> dict[str, str]:
        return {
            "download_url": links.download_url(settings, key, subscriber.id, subscriber.email),
            "manage_url": links.subscriber_links(settings, key, subscriber.id, subscriber.email)[
                "manage_url"
            ],
        }

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("subscribe"))

    @app.route("/subscribe", methods=["GET", "POST"])
    def subscribe() -> tuple[str, int] | str:
        honeypot = settings["honeypot_field"]
        if request.method == "GET":
            return render_template("subscribe.html", email="", error="", honeypot=honeypot)
        limit, window = settings["client_rate_limit"]
        if not get_store().allow(f"client:{request.remote_addr}", limit, window):
            html, _ = page(
                "Too many requests",
                "Too many subscription requests came from your network. Please try again later.",
                429,
            )
            return html, 429, {"Retry-After": str(window)}
        done = render_template("check_inbox.html")
        if request.form.get(honeypot):
            # Bots get the same answer as people, so they learn nothing to adapt to.
            log.info("subscribers: ignored a subscribe request with the honeypot field filled")
            return done, 200
        raw = request.form.get("email", "")
        try:
            email = normalise_email(raw)
        except SubscribersError:
            error = "Please enter a complete email address, like name@example.com."
            return render_template("subscribe.html", email=raw, error=error, honeypot=honeypot), 400
        subscriber = get_store().request_subscription(email)
        limit, window = settings["address_rate_limit"]
        address_key = hashlib.sha256(key + b"\0" + email.encode()).hexdigest()
        if not get_store().allow(f"address:{address_key}", limit, window):
            # Same answer as success: the response never tells whether an address is known.
            return done, 200
        if subscriber.status == CONFIRMED:
            sent = deliver("already", email, **download_links(subscriber))
        else:
            confirm = links.confirm_url(settings, key, subscriber.id, subscriber.nonce)
            sent = deliver("confirm", email, confirm_url=confirm)
        if not sent:
            return page("Please try again later", "We could not send the email just now.", 503)
        return done, 200

    @app.get("/confirm")
    def confirm() -> tuple[str, int] | str:
        try:
            subscriber_id, nonce = tokens.read_token(
                key, tokens.CONFIRM, request.args.get("token", "")
            )
            subscriber, newly = get_store().confirm(int(subscriber_id), nonce)
        except (tokens.TokenError, ValueError):
            return invalid_link()
        if subscriber is None:
            return invalid_link()
        context = download_links(subscriber)
        if newly:
            deliver("welcome", subscriber.email, **context)
        return render_template("confirmed.html", download_url=context["download_url"])

    @app.get("/unsubscribe", endpoint="unsubscribe_page")
    @app.get("/manage")
    def manage() -> tuple[str, int] | str:
        subscriber = token_subscriber(tokens.UNSUBSCRIBE)
        if subscriber is None:
            return invalid_link()
        action = url_for("unsubscribe", token=request.args["token"])
        return render_template(
            "manage.html",
            email=subscriber.email,
            subscribed=subscriber.status == CONFIRMED,
            action=action,
        )

    @app.post("/unsubscribe")
    def unsubscribe() -> tuple[str, int] | str:
        # RFC 8058 one-click posts List-Unsubscribe=One-Click; our page's button posts the same URL.
        subscriber = token_subscriber(tokens.UNSUBSCRIBE)
        if subscriber is None:
            return invalid_link()
        if get_store().unsubscribe(subscriber.id):
            one_click = request.form.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
            log.info("subscribers: unsubscribed %r (one-click: %r)", subscriber.email, one_click)
        return render_template("unsubscribed.html", email=subscriber.email)

    @app.get("/download")
    def download() -> Response | tuple[str, int]:
        subscriber = token_subscriber(tokens.DOWNLOAD)
        if subscriber is None or subscriber.status != CONFIRMED:
            return invalid_link()
        path = settings.path("ebook_path")
        if not path.is_file():
            log.error("subscribers: the ebook %r does not exist; build the site", str(path))
            return page("The ebook is not ready", "Please try again in a little while.", 404)
        return send_file(path, mimetype=EPUB_MIMETYPE, as_attachment=True, download_name=path.name)

    @app.errorhandler(404)
    def not_found(_exc: Exception) -> tuple[str, int]:
        return page("Page not found", "There is nothing at this address.", 404, show_subscribe=True)

    @app.errorhandler(405)
    def wrong_method(_exc: Exception) -> tuple[str, int]:
        return page("Not allowed", "This page cannot be used that way.", 405, show_subscribe=True)

    @app.errorhandler(500)
    def server_error(_exc: Exception) -> tuple[str, int]:
        return page("Something went wrong", "Please try again in a little while.", 500)

    return app


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the service with werkzeug's threaded server (put a WSGI server in front in production)."""
    from werkzeug.serving import run_simple

    app = create_app(settings)
    run_simple(
        host or settings["listen_host"],
        int(port or settings["listen_port"]),
        app,
        threaded=True,
    )
