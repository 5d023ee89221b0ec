"""Accounts: log in and out, roles, per-user API tokens, and the slowdown after failed logins.

Passwords are stored as scrypt hashes (werkzeug). An API client sends `Authorization: Bearer
<token>` instead of a session cookie; only the token's SHA-256 is stored, so a token is shown once.
Tokens expire `api_token_days` after they are made. Repeated failed logins slow down further
attempts for that account from that address, and from that address (`webapp.throttle`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    has_app_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.db import ROLES, User, audit, db_session, utcnow
from webapp.forms import LoginForm, PasswordForm, TokenForm
from webapp.throttle import (
    client_address,
    forget_failures,
    init_throttle,
    login_wait,
    record_failure,
)

bp = Blueprint("auth", __name__)

PASSWORD_METHOD = "scrypt"
MIN_PASSWORD_LENGTH = 10
# A hash to check against when the user name is unknown, so that both paths take as long.
_DUMMY_HASH = generate_password_hash("not a password", method=PASSWORD_METHOD)


def hash_password(password: str) -> str:
    """A scrypt hash (the app's `PASSWORD_HASH_METHOD` may set its cost, e.g. for tests)."""
    method = PASSWORD_METHOD
    if has_app_context():
        method = current_app.config.get("PASSWORD_HASH_METHOD", PASSWORD_METHOD)
    return generate_password_hash(password, method=method)


def random_password() -> str:
    """A random password of 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(user: User, token: str | None = None) -> str:
    """Give `user` a new API token (random unless given; it replaces the old one) and return it;
    only its digest and when it was made are stored. Commit to apply."""
    token = token or "hs_" + secrets.token_urlsafe(32)
    user.token_hash = token_digest(token)
    user.token_created_at = utcnow()
    return token


def token_expires_at(user: User, days: int) -> dt.datetime | None:
    """When `user`'s API token stops working (UTC), or None when there is no token. A token of
    unknown age counts as expired."""
    if not user.token_hash:
        return None
    if user.token_created_at is None:
        return dt.datetime.min
    return user.token_created_at + dt.timedelta(days=days)


def check_password_rules(password: str) -> str | None:
    """An error sentence when `password` is too weak, else None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"A password needs at least {MIN_PASSWORD_LENGTH} characters."
    return None


def create_user(session, username: str, role: str, *, password: str | None = None,
                team: str = "") -> tuple[User, str]:
    """Add a user; returns the user and the password (random when not given)."""
    if role not in ROLES:
        msg = f"role {role!r} is not one of {', '.join(ROLES)}."
        raise ValueError(msg)
    password = password or random_password()
    user = User(username=username.strip(), password_hash=hash_password(password), role=role, team=team)
    session.add(user)
    session.commit()
    forget_users()
    return user, password


# --------------------------------------------------------------------------- login manager


class UserCache:
    """Accounts looked up in the last `ttl_s` seconds, by id or token, so that a busy map or API
    client does not cost a database query per request.

    Every change to an account in this process clears it (`forget_users`); a change made by
    another process (the `hotspots users` commands) applies within `ttl_s`.
    """

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._items: dict[tuple, tuple[float, User | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, load: Callable[[], User | None]) -> User | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        user = load()
        if user is None:
            return None  # misses are not kept: a token made a moment ago must work at once
        db_session().expunge(user)  # a detached copy may be shared between threads
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (now + self.ttl_s, user)
        return user

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def end_sessions(user: User) -> None:
    """End every session of `user` at its next request (commit to apply): raises the session
    version that each session's user id carries."""
    user.session_version = User.session_version + 1


def start_session(user: User) -> None:
    """Log `user` in on a fresh session: nothing of the session before is kept, so the CSRF token
    is a new one too."""
    flask_session.clear()
    login_user(user)


def forget_users() -> None:
    """Drop cached accounts after a change (role, password, token, active)."""
    cache = current_app.extensions.get("hotspots_users") if has_app_context() else None
    if cache is not None:
        cache.clear()



def init_auth(app: Flask) -> None:
    manager = LoginManager()
    manager.login_view = "auth.login"
    manager.login_message = "Please log in to see this page."
    manager.login_message_category = "info"
    manager.session_protection = "strong"
    manager.init_app(app)
    init_throttle(app)

    cache = UserCache(ttl_s=app.config.get("USER_CACHE_S", 5.0))
    app.extensions["hotspots_users"] = cache

    @manager.user_loader
    def _load_user(user_id: str) -> User | None:
        # The session holds `id:version`; a session of an older version has been ended.
        uid_text, _, version_text = user_id.partition(":")
        try:
            uid, version = int(uid_text), int(version_text)
        except ValueError:
            return None
        user = cache.get(("id", uid), lambda: db_session().get(User, uid))
        if user is None or not user.active or (user.session_version or 0) != version:
            return None
        return user

    @manager.request_loader
    def _load_from_token(req) -> User | None:
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = token_digest(token.strip())
        user = cache.get(("token", digest), lambda: db_session().scalars(
            select(User).where(User.token_hash == digest)).first())
        if user is None or not user.active:
            return None
        expires = token_expires_at(user, app.config["HOTSPOTS_SETTINGS"].api_token_days)
        if expires is None or expires <= utcnow():
            g.token_expired = expires
            return None
        g.token_auth = True
        return user

    @manager.unauthorized_handler
    def _unauthorized():
        if request.path.startswith("/api/"):
            if g.get("token_expired"):
                days = app.config["HOTSPOTS_SETTINGS"].api_token_days
                abort(401, description=f"The API token has expired (tokens work for {days} days, "
                      "setting api_token_days); make a new one on the Account page.")
            abort(401, description="Log in or send an API token (Authorization: Bearer ...).")
        flash(manager.login_message, manager.login_message_category)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.context_processor
    def _roles() -> dict[str, Any]:
        def can(role: str) -> bool:
            return bool(current_user.is_authenticated and current_user.has_role(role))
        return {"can": can, "ROLES": ROLES}


def role_required(role: str) -> Callable:
    """Allow a view only to users holding `role` or a more trusted one (403 otherwise)."""
    if role not in ROLES:
        msg = f"`role` must be one of {', '.join(ROLES)}, not {role!r}."
        raise ValueError(msg)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.has_role(role):
                abort(403, description=f"This needs the {role} role or higher; you are a {current_user.role}.")
            return view(*args, **kwargs)

        wrapped.required_role = role  # read by the route-coverage tests
        return wrapped

    return decorator


# --------------------------------------------------------------------------- views


def start_page() -> str:
    """Where the current user starts: a guardian's shift, everyone else's hotspot map."""
    if current_user.is_authenticated and current_user.role == "guardian":
        return url_for("patrol_log.my_shift")
    return url_for("maps.hotspot_map")


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if not target:
        return start_page()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return start_page()
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        session = db_session()
        username = form.username.data.strip()
        address = client_address()
        wait = login_wait(session, username, address)
        if wait > 0:
            session.commit()
            seconds = int(wait) + 1
            flash(f"Too many failed logins. Wait {seconds} seconds and try again, or ask an admin "
                  "to clear the lock.", "error")
            response = current_app.make_response((render_template("login.html", form=form), 429))
            response.headers["Retry-After"] = str(seconds)
            return response
        user = session.scalars(select(User).where(func.lower(User.username) == username.casefold())).first()
        ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, form.password.data)
        if user is not None and ok and user.active:
            forget_failures(session, username, address)
            user.last_login_at = utcnow()
            session.commit()
            start_session(user)
            return redirect(_safe_next(request.args.get("next")))
        if record_failure(session, username, address):
            audit("login_locked", target=username[:80], username="")
        session.commit()
        flash("Wrong user name or password.", "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out everywhere: every session of this user ends, on every device."""
    session = db_session()
    user = session.get(User, current_user.id)
    if user is not None:
        end_sessions(user)
        session.commit()
        forget_users()
    logout_user()
    flask_session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    password_form = PasswordForm(prefix="pw")
    token_form = TokenForm(prefix="tok")
    new_token = None
    session = db_session()
    user = session.get(User, current_user.id)
    status = 200
    if password_form.submit.data and password_form.validate_on_submit():
        problem = check_password_rules(password_form.new.data)
        if not check_password_hash(user.password_hash, password_form.current.data):
            flash("The current password is wrong.", "error")
            status = 400
        elif problem:
            flash(problem, "error")
            status = 400
        else:
            user.password_hash = hash_password(password_form.new.data)
            end_sessions(user)  # every other session ends; this one starts again
            session.commit()
            session.refresh(user)
            forget_users()
            start_session(user)
            audit("password_change", target=user.username)
            flash("Password changed; you are logged out everywhere else.", "success")
    elif token_form.submit.data and token_form.validate_on_submit():
        new_token = issue_token(user)
        session.commit()
        forget_users()
        audit("token_created", target=user.username)
    elif request.method == "POST":
        status = 400
    days = current_app.config["HOTSPOTS_SETTINGS"].api_token_days
    expires = token_expires_at(user, days)
    return render_template("account.html", user=user, password_form=password_form,
                           token_form=token_form, new_token=new_token, token_days=days,
                           token_expires=expires, token_expired=expires is not None and expires <= utcnow()), status
