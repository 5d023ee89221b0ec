"""Accounts and security: login, roles, tokens, CSRF, the login slowdown, headers, cookies, bootstrap."""

from __future__ import annotations

import re

import pytest

from tests.webapp.conftest import csrf_token, login, make_app

# ----------------------------------------------------------------------------- login


def test_pages_need_login(client):
    for path in ("/", "/map", "/wards", "/plans/", "/patrol/", "/evaluation/", "/data/",
                 "/admin/users", "/admin/audit", "/account"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"]


def test_login_page_is_open(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "Log in" in response.get_data(as_text=True)


def test_login_right_and_wrong_password(app, client):
    assert login(client, "viewer", "not the password").status_code == 401
    assert client.get("/map").status_code == 302
    response = login(client, "viewer", app.passwords["viewer"])
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/map")
    assert client.get("/account").status_code == 200


def test_unknown_user_is_refused_like_a_wrong_password(client):
    response = login(client, "nobody", "whatever it is")
    assert response.status_code == 401
    assert "Wrong user name or password." in response.get_data(as_text=True)


def test_login_follows_only_local_next(app, client):
    token = csrf_token(client)
    response = client.post("/login?next=https://evil.example/x",
                           data={"username": "viewer", "password": app.passwords["viewer"],
                                 "csrf_token": token})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_logout_needs_post_and_csrf(as_role):
    c = as_role("viewer")
    assert c.get("/logout").status_code == 405
    assert c.post("/logout").status_code == 400  # no CSRF token
    response = c.post("/logout", data={"csrf_token": csrf_token(c, "/account")})
    assert response.status_code == 302
    assert c.get("/map").status_code == 302


def test_passwords_are_scrypt_hashes(app):
    from webapp.db import User, db_session

    with app.app_context():
        for user in db_session().query(User):
            assert user.password_hash.startswith("scrypt:")
            assert app.passwords[user.username] not in user.password_hash


def test_inactive_user_cannot_log_in(app, client):
    from webapp.db import User, db_session

    with app.app_context():
        session = db_session()
        session.query(User).filter_by(username="viewer").one().active = False
        session.commit()
    assert login(client, "viewer", app.passwords["viewer"]).status_code == 401


# ----------------------------------------------------------------------------- CSRF


def test_csrf_enforced_on_forms(app, as_role):
    c = as_role("admin")
    posts = {
        "/login": {"username": "viewer", "password": app.passwords["viewer"]},
        "/account": {"tok-submit": "1"},
        "/admin/users": {"username": "newbie", "role": "viewer"},
        "/plans/": {"period": "2025-W30", "teams": "1"},
        "/data/": {},
    }
    for path, form in posts.items():
        response = c.post(path, data=form)
        assert response.status_code == 400, path
        assert "security token" in response.get_data(as_text=True)
        bad = dict(form, csrf_token="forged")
        assert c.post(path, data=bad).status_code == 400, path


def test_csrf_token_from_another_session_is_refused(app, as_role):
    a = as_role("admin")
    b = as_role("admin")
    token_a = csrf_token(a, "/account")
    response = b.post("/admin/users", data={"username": "x-user", "role": "viewer", "csrf_token": token_a})
    assert response.status_code == 400


def test_api_post_with_a_session_needs_the_csrf_header(as_role):
    c = as_role("guardian")
    response = c.post("/api/v1/visits", json={"plan_id": 1, "team": 0, "stop": 1})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    token = csrf_token(c, "/account")
    response = c.post("/api/v1/visits", json={"plan_id": 999, "team": 0, "stop": 1},
                      headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["parameter"] == "plan_id"


# ----------------------------------------------------------------------------- slowdown


def test_repeated_failed_logins_slow_down(app, client):
    app.config.update(LOGIN_FREE_FAILURES=3, LOGIN_BACKOFF_BASE_S=60.0)
    for _ in range(3):
        assert login(client, "viewer", "wrong password!").status_code == 401
    response = login(client, "viewer", app.passwords["viewer"])  # even the right one must wait
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed logins" in response.get_data(as_text=True)
    # Another account from the same address does not (tests/webapp/test_throttle.py has the rest).
    assert login(client, "analyst", app.passwords["analyst"]).status_code == 302


def test_slowdown_ends_after_the_wait(app, client):
    app.config.update(LOGIN_FREE_FAILURES=2, LOGIN_BACKOFF_BASE_S=0.0)
    for _ in range(4):
        login(client, "viewer", "wrong password!")
    assert login(client, "viewer", app.passwords["viewer"]).status_code == 302


def test_wait_doubles_per_failure(app):
    import datetime as dt

    from webapp.db import utcnow
    from webapp.throttle import wait_seconds

    app.config.update(LOGIN_FREE_FAILURES=5, LOGIN_BACKOFF_BASE_S=2.0, LOGIN_BACKOFF_MAX_S=300.0)
    with app.app_context():
        now = utcnow() + dt.timedelta(seconds=1)  # a failure "just now"
        assert wait_seconds(4, now) == 0
        w5, w6, w7 = (wait_seconds(n, now) for n in (5, 6, 7))
        assert 1.5 < w5 <= 3.1 and 3.5 < w6 <= 5.1 and 7.5 < w7 <= 9.1
        assert wait_seconds(40, now) <= 301


# ----------------------------------------------------------------------------- tokens


def test_api_token_instead_of_a_session(app, token_for):
    c = app.test_client()
    token = token_for("viewer")
    response = c.get("/api/v1/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["user"] == {"username": "viewer", "role": "viewer"}
    assert c.get("/api/v1/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/v1/", headers={"Authorization": f"Basic {token}"}).status_code == 401
    # A token does not open a browser session.
    assert c.get("/api/v1/").status_code == 401


def test_account_page_makes_a_token_shown_once(app, as_role):
    from webapp.auth import token_digest
    from webapp.db import User, db_session

    c = as_role("analyst")
    response = c.post("/account", data={"tok-submit": "1", "tok-csrf_token": csrf_token(c, "/account")})
    assert response.status_code == 200
    token = re.search(r'<code class="token">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    with app.app_context():
        user = db_session().query(User).filter_by(username="analyst").one()
        assert user.token_hash == token_digest(token)
    assert token not in c.get("/account").get_data(as_text=True)
    api = app.test_client()
    assert api.get("/api/v1/", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_change_password(app, as_role):
    c = as_role("viewer")
    data = {"pw-current": app.passwords["viewer"], "pw-new": "a brand new password",
            "pw-submit": "1", "pw-csrf_token": csrf_token(c, "/account")}
    assert c.post("/account", data=data).status_code == 200
    fresh = app.test_client()
    assert login(fresh, "viewer", app.passwords["viewer"]).status_code == 401
    assert login(app.test_client(), "viewer", "a brand new password").status_code == 302


# ----------------------------------------------------------------------------- headers, cookies


def test_security_headers(as_role):
    c = as_role("viewer")
    response = c.get("/account")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self' 'nonce-" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "http" not in csp  # no other origin
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "no-store" in response.headers["Cache-Control"]


def test_session_cookie_flags(app):
    c = app.test_client()
    login(c, "viewer", app.passwords["viewer"])
    cookie = c.get_cookie("hotspots_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert not cookie.secure  # plain HTTP on loopback, cookie_secure = auto
    s = app.test_client()
    page = s.get("/login", base_url="https://localhost")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    s.post("/login", base_url="https://localhost",
           data={"username": "viewer", "password": app.passwords["viewer"], "csrf_token": token},
           headers={"Referer": "https://localhost/login"})
    cookie = s.get_cookie("hotspots_session", domain="localhost")
    assert cookie is not None and cookie.secure


def test_cookie_secure_always(home, demo_store):
    application = make_app(home, SETTINGS={"cookie_secure": "always"})
    c = application.test_client()
    c.get("/login")
    cookie = c.get_cookie("hotspots_session")
    assert cookie is not None and cookie.secure


# ----------------------------------------------------------------------------- first start


def test_bootstrap_loads_demo_and_makes_one_admin(home, monkeypatch):
    import hotspots.demo
    from webapp import bootstrap, create_app
    from webapp.db import User, db_session

    real = hotspots.demo.generate_demo
    monkeypatch.setattr(hotspots.demo, "generate_demo",
                        lambda **kw: real(**{**kw, "weeks": 2}))
    lines: list[str] = []
    application = create_app({"HOME": home, "TESTING": True, "BOOTSTRAP": False})
    done = bootstrap(application, echo=lines.append)
    assert done["admin_created"] and done["demo_added"] > 0
    password = next(line.strip() for line in lines if line.startswith("    "))
    assert len(password) >= 16
    with application.app_context():
        users = db_session().query(User).all()
        assert [(u.username, u.role) for u in users] == [("admin", "admin")]
        assert password not in users[0].password_hash
    assert application.extensions["hotspots_data"].is_demo()
    again: list[str] = []
    assert bootstrap(application, echo=again.append) == {}
    assert not any(password in line for line in again)
    c = application.test_client()
    assert login(c, "admin", password).status_code == 302


def test_no_fixed_password_in_the_code():
    from pathlib import Path

    import webapp

    root = Path(webapp.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"password\s*=\s*['\"][^'\"]+['\"]", text), path


@pytest.mark.parametrize("role", ["viewer", "guardian", "analyst", "admin"])
def test_role_shown_in_header(as_role, role):
    text = as_role(role).get("/account").get_data(as_text=True)
    assert f'<span class="role">{role}</span>' in text


# ----------------------------------------------------------------------------- token expiry


def _token_made(app, role: str, days_ago: float | None) -> None:
    import datetime as dt

    from webapp.db import User, db_session, utcnow

    with app.app_context():
        session = db_session()
        user = session.query(User).filter_by(username=role).one()
        user.token_created_at = None if days_ago is None else utcnow() - dt.timedelta(days=days_ago)
        session.commit()
    app.extensions["hotspots_users"].clear()


def test_api_tokens_expire_after_api_token_days(app, token_for):
    c = app.test_client()
    headers = {"Authorization": f"Bearer {token_for('analyst')}"}
    _token_made(app, "analyst", 89.9)
    assert c.get("/api/v1/", headers=headers).status_code == 200
    _token_made(app, "analyst", 90.1)
    response = c.get("/api/v1/", headers=headers)
    assert response.status_code == 401
    err = response.get_json()["error"]
    assert err["code"] == "unauthorized" and "expired" in err["message"] and "Account page" in err["message"]
    _token_made(app, "analyst", None)  # a token of unknown age is not trusted either
    assert c.get("/api/v1/", headers=headers).status_code == 401


def test_token_lifetime_is_a_setting(home, demo_store):
    import shutil

    from tests.webapp.conftest import add_role_users, make_token

    shutil.copytree(demo_store, home / "store")
    application = make_app(home, SETTINGS={"api_token_days": 7})
    add_role_users(application)
    headers = {"Authorization": f"Bearer {make_token(application, 'viewer')}"}
    _token_made(application, "viewer", 6.5)
    assert application.test_client().get("/api/v1/", headers=headers).status_code == 200
    _token_made(application, "viewer", 7.5)
    assert application.test_client().get("/api/v1/", headers=headers).status_code == 401


def test_account_page_shows_when_the_token_expires(app, as_role, token_for):
    token_for("viewer")
    _token_made(app, "viewer", 30)
    c = as_role("viewer")
    text = c.get("/account").get_data(as_text=True)
    assert "A token works for 90 days" in text
    found = re.search(r"it works until <strong>(\d{4}-\d{2}-\d{2}) ", text)
    import datetime as dt

    from webapp.db import utcnow

    assert found and dt.date.fromisoformat(found.group(1)) == (utcnow() + dt.timedelta(days=60)).date()
    _token_made(app, "viewer", 100)
    assert "Your token has expired" in c.get("/account").get_data(as_text=True)
