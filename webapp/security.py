"""Security headers, the content security policy and session cookie flags.

The policy allows scripts and styles only from the app itself, plus inline blocks carrying this
response's nonce (Folium writes its map set-up as inline script). Nothing is loaded from another
origin; the optional tile layer's origin is the one exception, and only for images.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g, request
from flask.sessions import SecureCookieSessionInterface

_TAG = re.compile(r"<(script|style)(?=[\s>])", re.IGNORECASE)


def csp_nonce() -> str:
    """The nonce of the current response (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def add_nonce(html: str) -> str:
    """Give every `<script>` and `<style>` tag of `html` the current response's nonce."""
    nonce = csp_nonce()
    return _TAG.sub(lambda m: f'<{m.group(1)} nonce="{nonce}"', html)


def tile_origin(url: str) -> str:
    """`scheme://host[:port]` of a tile URL template, or '' when none is configured."""
    if not url:
        return ""
    parts = urlsplit(url.replace("{s}", "a"))
    if not parts.scheme or not parts.netloc:
        return ""
    host = parts.netloc
    if "{s}" in url:
        host = "*." + host.split(".", 1)[1] if "." in host else host
    return f"{parts.scheme}://{host}"


def content_security_policy(nonce: str, tiles: str = "") -> str:
    img = "'self' data:" + (f" {tiles}" if tiles else "")
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        f"img-src {img}",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


def _bearer(req) -> bool:
    return req.headers.get("Authorization", "").lower().startswith("bearer ")


class SessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose Secure flag follows the `cookie_secure` setting.

    `auto` marks the cookie Secure whenever the request came over HTTPS (directly or through a
    proxy that the app trusts), so a plain-HTTP start on the loopback interface still works.
    A request with an API token is stateless: any session cookie it carries is ignored and none
    is set.
    """

    def open_session(self, app: Flask, req):
        if _bearer(req):
            return self.session_class()
        return super().open_session(app, req)

    def save_session(self, app: Flask, session, response) -> None:
        if _bearer(request):
            return
        super().save_session(app, session, response)

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.config.get("COOKIE_SECURE_MODE", "auto")
        if mode == "always":
            return True
        if mode == "never":
            return False
        try:
            return bool(request.is_secure)
        except RuntimeError:  # outside a request
            return bool(app.config.get("SESSION_COOKIE_SECURE"))


def protect_session_writes() -> None:
    """CSRF for an API write made by a browser session (token-authenticated calls carry none):
    the API blueprints run it before each request."""
    from flask import current_app
    from flask_login import current_user

    if request.method in ("POST", "PUT", "PATCH", "DELETE") and current_user.is_authenticated \
            and not g.get("token_auth"):
        current_app.extensions["hotspots_csrf"].protect()


def init_security(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _headers(response: Response) -> Response:
        tiles = tile_origin(app.config.get("MAP_TILES_URL", ""))
        response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), tiles)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), payment=()")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint and not request.endpoint.startswith(("assets.", "static")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
