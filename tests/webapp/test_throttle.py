"""Login throttling per account and address and per address; trusted proxies; clearing a lock."""

from __future__ import annotations

import re

from click.testing import CliRunner

from tests.webapp.conftest import csrf_token, login, make_app

ATTACKER = "203.0.113.9"
COLLEAGUE = "198.51.100.20"


def _login_from(app, address: str, username: str, password: str, *, headers=None):
    """A login attempt from `address` (the test client's REMOTE_ADDR)."""
    c = app.test_client()
    env = {"REMOTE_ADDR": address}
    page = c.get("/login", environ_base=env, headers=headers)
    token = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return c.post("/login", data={"username": username, "password": password, "csrf_token": token},
                  environ_base=env, headers=headers)


def _slow(app, **extra):
    app.config.update(LOGIN_FREE_FAILURES=3, LOGIN_ADDRESS_FREE_FAILURES=6, LOGIN_BACKOFF_BASE_S=600.0,
                      **extra)


def test_failures_from_one_address_never_block_the_right_password_from_another(app):
    _slow(app)
    for _ in range(3):
        assert _login_from(app, ATTACKER, "admin", "guess guess guess").status_code == 401
    held = _login_from(app, ATTACKER, "admin", app.passwords["admin"])
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0
    assert "ask an admin to clear the lock" in held.get_data(as_text=True)
    # The admin, elsewhere, is not locked out by the attacker.
    assert _login_from(app, COLLEAGUE, "admin", app.passwords["admin"]).status_code == 302


def test_one_users_failures_do_not_lock_out_others_behind_the_same_address(app):
    _slow(app)
    for _ in range(3):
        _login_from(app, COLLEAGUE, "viewer", "forgot my password")
    assert _login_from(app, COLLEAGUE, "viewer", app.passwords["viewer"]).status_code == 429
    # Another account from the same office address logs in.
    assert _login_from(app, COLLEAGUE, "analyst", app.passwords["analyst"]).status_code == 302


def test_an_address_trying_many_accounts_is_slowed_down(app):
    _slow(app)
    for name in ("a1", "a2", "a3", "a4", "a5", "a6"):
        assert _login_from(app, ATTACKER, name, "password1234").status_code == 401
    assert _login_from(app, ATTACKER, "guardian", app.passwords["guardian"]).status_code == 429
    assert _login_from(app, COLLEAGUE, "guardian", app.passwords["guardian"]).status_code == 302


def test_a_lock_is_audited_listed_and_cleared_by_an_admin(app):
    from webapp.db import AuditEntry, db_session

    _slow(app)
    for _ in range(3):
        _login_from(app, ATTACKER, "viewer", "wrong password!")
    with app.app_context():
        locked = [(e.action, e.target, e.address) for e in db_session().query(AuditEntry)
                  .filter_by(action="login_locked")]
    assert locked == [("login_locked", "viewer", ATTACKER)]
    admin = app.test_client()
    assert login(admin, "admin", app.passwords["admin"]).status_code == 302
    page = admin.get("/admin/locks").get_data(as_text=True)
    assert "viewer" in page and ATTACKER in page and "every account" not in page
    response = admin.post("/admin/locks/clear", data={"username": "viewer", "address": ATTACKER,
                                                      "csrf_token": csrf_token(admin, "/admin/locks")})
    assert response.status_code == 302
    assert "No login is held up now." in admin.get("/admin/locks").get_data(as_text=True)
    assert _login_from(app, ATTACKER, "viewer", app.passwords["viewer"]).status_code == 302
    with app.app_context():
        cleared = [(e.username, e.target, e.detail["failures"]) for e in db_session().query(AuditEntry)
                   .filter_by(action="login_unlocked")]
    assert cleared == [("admin", "viewer", 3)]
    refused = admin.post("/admin/locks/clear", data={"csrf_token": csrf_token(admin, "/admin/locks")})
    assert refused.status_code == 400


def test_console_unlock(app, home):
    from webapp.cli import cli

    _slow(app)
    for _ in range(3):
        _login_from(app, ATTACKER, "analyst", "wrong password!")
    assert _login_from(app, ATTACKER, "analyst", app.passwords["analyst"]).status_code == 429
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(home), "users", "unlock", "analyst"])
    assert result.exit_code == 0, result.output
    assert "3 failed logins forgotten" in result.output
    assert _login_from(app, ATTACKER, "analyst", app.passwords["analyst"]).status_code == 302
    missing = runner.invoke(cli, ["--home", str(home), "users", "unlock"])
    assert missing.exit_code == 2 and "give a user name" in missing.output


def test_forwarded_address_is_ignored_unless_proxies_are_trusted(app):
    """Without trusted_proxies, anyone could pick a fresh address per guess in X-Forwarded-For."""
    _slow(app)
    for i in range(3):
        _login_from(app, ATTACKER, "admin", "guess guess guess", headers={"X-Forwarded-For": f"10.0.0.{i}"})
    forged = _login_from(app, ATTACKER, "admin", app.passwords["admin"],
                         headers={"X-Forwarded-For": "10.9.9.9"})
    assert forged.status_code == 429


def test_trusted_proxy_gives_the_client_address(home, demo_store):
    import shutil

    from tests.webapp.conftest import add_role_users
    from webapp.db import AuditEntry, db_session

    shutil.copytree(demo_store, home / "store")
    app = make_app(home, SETTINGS={"trusted_proxies": 1})
    add_role_users(app)
    _slow(app)
    proxy = "127.0.0.1"
    for _ in range(3):
        _login_from(app, proxy, "admin", "guess guess guess", headers={"X-Forwarded-For": ATTACKER})
    # Behind the one proxy, the attacker is held up and a colleague is not.
    assert _login_from(app, proxy, "admin", app.passwords["admin"],
                       headers={"X-Forwarded-For": ATTACKER}).status_code == 429
    ok = _login_from(app, proxy, "admin", app.passwords["admin"],
                     headers={"X-Forwarded-For": COLLEAGUE, "X-Forwarded-Proto": "https",
                              "Referer": "https://localhost/login"})
    assert ok.status_code == 302
    with app.app_context():
        addresses = {e.address for e in db_session().query(AuditEntry).filter_by(action="login_locked")}
    assert addresses == {ATTACKER}
    # The proxy's scheme counts: the session cookie is Secure behind a TLS proxy (cookie_secure auto).
    assert "Secure" in ok.headers["Set-Cookie"]
