"""The Flask application factory: `create_app(test_config=None)` builds the app for one instance
folder: settings from its `hotspots.toml` and `HOTSPOTS_*` variables, the application database, one
blueprint per concern. Nothing is read at import time.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from flask import Flask, redirect

log = logging.getLogger(__name__)


def _secret_key(home: Path, configured: str) -> str:
    """The configured key, or a random one kept (owner-only) in the instance folder."""
    if configured:
        return configured
    path = home / "secret_key"
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    key = secrets.token_hex(32)
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    return key


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web app.

    Parameters
    ----------
    test_config
        Flask config values that win over the settings. Two keys are special: `HOME` (the
        instance folder; default `HOTSPOTS_HOME` or ./instance) and `SETTINGS` (a dict of setting
        overrides, as for `hotspots.get_settings`). `BOOTSTRAP` (default True unless `TESTING`)
        loads the demo data into an empty store and creates the first admin account.

    Returns
    -------
    Flask
        The application.
    """
    from hotspots.settings import get_settings
    from webapp import (
        admin,
        api,
        assets,
        auth,
        brief,
        data,
        evaluation,
        exports,
        maps,
        patrol_log,
        plans,
        programme,
        programme_api,
    )
    from webapp._planner import Planner
    from webapp.db import init_db
    from webapp.errors import init_errors
    from webapp.params import init_params
    from webapp.security import init_security
    from webapp.services import AppData

    config = dict(test_config or {})
    home = config.pop("HOME", None)
    settings = get_settings(home, **config.pop("SETTINGS", {}))
    home_path = settings.home.expanduser().resolve()
    home_path.mkdir(parents=True, exist_ok=True)

    app = Flask(__name__, instance_path=str(home_path))
    app.config.update(
        HOTSPOTS_SETTINGS=settings,
        SECRET_KEY=_secret_key(home_path, settings.secret_key),
        MAX_CONTENT_LENGTH=settings.upload_limit_mb * 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        COOKIE_SECURE_MODE=settings.cookie_secure,
        SESSION_COOKIE_NAME="hotspots_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PASSWORD_HASH_METHOD="scrypt",
        MAP_TILES_URL=settings.map_tiles_url,
        MAP_TILES_ATTRIBUTION=settings.map_tiles_attribution,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        # A patrol log page may stay open on a phone for a whole shift.
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        WTF_CSRF_SSL_STRICT=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    app.json.sort_keys = False
    if settings.trusted_proxies:
        # Behind that many proxies, the client's address and scheme come from X-Forwarded-For and
        # X-Forwarded-Proto (each proxy appends one); without it those headers are ignored.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,
                                x_proto=settings.trusted_proxies)
    app.config.update(config)
    data.remove_leftover_uploads(home_path)  # of a server that stopped mid-upload
    app.config.setdefault("BOOTSTRAP", not app.config.get("TESTING", False))

    init_params(app)  # before any route is added: it bounds every <int:...> parameter
    from webapp._once import once_token

    app.jinja_env.globals["once_token"] = once_token
    init_security(app)
    init_errors(app)
    init_db(app)

    from flask_login import login_required
    from flask_wtf.csrf import CSRFProtect

    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # the API checks CSRF itself for cookie sessions; tokens need none
    csrf.exempt(programme_api.bp)
    app.extensions["hotspots_csrf"] = csrf
    auth.init_auth(app)
    app.extensions["hotspots_data"] = AppData(settings)
    app.extensions["hotspots_planner"] = Planner(workers=app.config.get("PLAN_WORKERS", 1),
                                                 in_process=app.config.get("PLAN_IN_PROCESS", False))
    app.extensions["hotspots_plan_gate"] = threading.BoundedSemaphore(
        app.config.get("PLAN_MAX_WAITING", 6))

    for module in (auth, maps, plans, patrol_log, evaluation, data, exports, admin, assets, programme,
                   brief):
        app.register_blueprint(module.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(programme_api.bp, url_prefix="/api/v1")
    maps.init_app(app)
    programme.init_app(app)

    @app.route("/")
    @login_required
    def index():
        return redirect(auth.start_page())

    if app.config["BOOTSTRAP"]:
        bootstrap(app)
    return app


def bootstrap(app: Flask, *, echo=None) -> dict[str, Any]:
    """First start: load the demo data into an empty store; create an admin when there is no user.

    The admin's random password is shown once (through `echo`, default stderr) and stored only
    as a hash.
    """
    import click
    from sqlalchemy.exc import IntegrityError

    from webapp.auth import create_user
    from webapp.db import count_users, db_session

    echo = echo or (lambda text: click.echo(text, err=True))
    done: dict[str, Any] = {}
    data = app.extensions["hotspots_data"]
    with app.app_context():
        if data.store_version() == (0, 0, 0) or len(data.store) == 0:
            from hotspots.demo import generate_demo

            echo("The incident store is empty: loading the synthetic demo incidents (source 'demo')...")
            report = data.store.add(generate_demo(seed=0, settings=data.settings))
            done["demo_added"] = report.added
            echo(f"Loaded {report.added:,} SYNTHETIC demo incidents; every page says so.")
        session = db_session()
        if count_users(session) == 0:
            try:
                _user, password = create_user(session, "admin", "admin")
            except IntegrityError:
                session.rollback()
            else:
                done["admin_created"] = True
                echo("")
                echo("Created the first account: user name 'admin', password (shown only now):")
                echo(f"    {password}")
                echo("Log in and add accounts under Admin; change this password under Account.")
                echo("")
    return done
