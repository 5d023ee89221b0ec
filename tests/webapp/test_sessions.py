"""Sessions that end: a saved session cookie replayed after logout, a password change or reset, a
role change or a deactivation is refused; the CSRF token is a new one after login; a database made
by an older version is upgraded in place."""

from __future__ import annotations

import re
import sqlite3

import pytest
from click.testing import CliRunner

from tests.webapp.conftest import csrf_token, login, make_app

COOKIE = "hotspots_session"


def _logged_in(app, role: str):
    c = app.test_client()
    assert login(c, role, app.passwords[role]).status_code == 302
    assert c.get("/account").status_code == 200
    return c


def _saved_cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def _replay(app, cookie: str):
    """A new client sending only the saved cookie (as a thief would)."""
    c = app.test_client()
    c.set_cookie(COOKIE, cookie, domain="localhost")
    return c.get("/account")


def _uid(app, name: str) -> int:
    from webapp.db import User, db_session

    with app.app_context():
        return db_session().query(User).filter_by(username=name).one().id


def _admin_post(app, path: str, data: dict):
    admin = _logged_in(app, "admin")
    return admin.post(path, data={**data, "csrf_token": csrf_token(admin, "/admin/users")})


def test_a_saved_cookie_works_until_something_ends_it(app):
    c = _logged_in(app, "viewer")
    response = _replay(app, _saved_cookie(c))
    assert response.status_code == 200 and "viewer" in response.get_data(as_text=True)


def test_logout_ends_every_session_of_the_user(app):
    phone = _logged_in(app, "guardian")
    laptop = _logged_in(app, "guardian")
    saved = _saved_cookie(phone)
    other_user = _logged_in(app, "viewer")
    assert phone.post("/logout", data={"csrf_token": csrf_token(phone, "/account")}).status_code == 302
    assert _replay(app, saved).status_code == 302  # the stolen copy is dead
    assert laptop.get("/account").status_code == 302  # so is the other device
    assert other_user.get("/account").status_code == 200  # other users carry on
    assert _logged_in(app, "guardian").get("/patrol/").status_code == 200  # logging in again works


def test_password_reset_by_an_admin_ends_every_session(app):
    c = _logged_in(app, "analyst")
    saved = _saved_cookie(c)
    response = _admin_post(app, f"/admin/users/{_uid(app, 'analyst')}/password", {})
    assert response.status_code == 200
    assert _replay(app, saved).status_code == 302
    assert c.get("/data/").status_code == 302


def test_own_password_change_ends_the_other_sessions_only(app):
    here = _logged_in(app, "viewer")
    elsewhere = _logged_in(app, "viewer")
    saved = _saved_cookie(elsewhere)
    data = {"pw-current": app.passwords["viewer"], "pw-new": "a brand new password",
            "pw-submit": "1", "pw-csrf_token": csrf_token(here, "/account")}
    assert here.post("/account", data=data).status_code == 200
    assert here.get("/account").status_code == 200  # this session goes on
    assert elsewhere.get("/account").status_code == 302
    assert _replay(app, saved).status_code == 302


def test_role_change_ends_every_session(app):
    c = _logged_in(app, "analyst")
    saved = _saved_cookie(c)
    uid = _uid(app, "analyst")
    response = _admin_post(app, f"/admin/users/{uid}", {f"u{uid}-role": "viewer", f"u{uid}-active": "y"})
    assert response.status_code == 302
    assert _replay(app, saved).status_code == 302
    assert c.get("/map").status_code == 302
    again = _logged_in(app, "analyst")
    assert again.get("/data/").status_code == 403  # the new role, after logging in again


def test_team_change_keeps_the_session(app):
    c = _logged_in(app, "guardian")
    uid = _uid(app, "guardian")
    response = _admin_post(app, f"/admin/users/{uid}", {f"u{uid}-role": "guardian", f"u{uid}-active": "y",
                                                        f"u{uid}-team": "Armley"})
    assert response.status_code == 302
    assert c.get("/account").status_code == 200


def test_deactivation_ends_every_session(app):
    c = _logged_in(app, "viewer")
    saved = _saved_cookie(c)
    uid = _uid(app, "viewer")
    assert _admin_post(app, f"/admin/users/{uid}", {f"u{uid}-role": "viewer"}).status_code == 302
    assert _replay(app, saved).status_code == 302
    # Activated again, the old cookie stays dead: the deactivation ended it for good.
    assert _admin_post(app, f"/admin/users/{uid}", {f"u{uid}-role": "viewer", f"u{uid}-active": "y"}).status_code == 302
    assert _replay(app, saved).status_code == 302


@pytest.mark.parametrize("command", [["reset-password", "viewer"], ["set-role", "viewer", "analyst"]])
def test_console_commands_end_sessions(app, home, command):
    from webapp.cli import cli

    c = _logged_in(app, "viewer")
    saved = _saved_cookie(c)
    result = CliRunner().invoke(cli, ["--home", str(home), "users", *command])
    assert result.exit_code == 0, result.output
    app.extensions["hotspots_users"].clear()  # the server's account cache lives up to 5 s
    assert _replay(app, saved).status_code == 302


def test_csrf_token_rotates_at_login(app):
    c = app.test_client()
    before = csrf_token(c, "/login")
    assert c.post("/login", data={"username": "admin", "password": app.passwords["admin"],
                                  "csrf_token": before}).status_code == 302
    after = csrf_token(c, "/account")
    assert after != before
    # The token of the logged-out session is no good in the logged-in one.
    refused = c.post("/admin/users", data={"username": "planted", "role": "admin", "csrf_token": before})
    assert refused.status_code == 400 and "security token" in refused.get_data(as_text=True)
    accepted = c.post("/admin/users", data={"username": "welcome", "role": "viewer", "csrf_token": after})
    assert accepted.status_code == 200


def test_a_session_cookie_of_another_shape_is_logged_out(app):
    """Cookies made before session versions held only the user id: they no longer log anyone in."""
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    old = serializer.dumps({"_user_id": str(_uid(app, "admin")), "_fresh": True})
    assert _replay(app, old).status_code == 302


def test_an_old_database_gains_the_new_columns(home, demo_store):
    """A SQLite file written before `session_version` existed works after the upgrade."""
    import shutil

    shutil.copytree(demo_store, home / "store")
    home.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(home / "hotspots.db")
    db.executescript("""
        CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(80) UNIQUE,
            password_hash VARCHAR(255), role VARCHAR(20), team VARCHAR(120), active BOOLEAN,
            token_hash VARCHAR(64) UNIQUE, token_created_at DATETIME, created_at DATETIME,
            last_login_at DATETIME);
    """)
    db.commit()
    db.close()
    app = make_app(home)
    from tests.webapp.conftest import add_role_users

    add_role_users(app)
    columns = {row[1] for row in sqlite3.connect(home / "hotspots.db").execute("PRAGMA table_info(users)")}
    assert "session_version" in columns
    c = _logged_in(app, "viewer")
    assert c.post("/logout", data={"csrf_token": csrf_token(c, "/account")}).status_code == 302
    # Started again on the upgraded file, nothing more is added and logins work.
    from webapp.db import get_engine, upgrade_schema

    again = make_app(home)
    with again.app_context():
        assert upgrade_schema(get_engine()) == []
    assert re.search("Log in", again.test_client().get("/login").get_data(as_text=True))
