"""Admin: users and roles (every change audited), password resets, the audit log; console commands."""

from __future__ import annotations

import re

from click.testing import CliRunner

from tests.webapp.conftest import csrf_token, login


def _user(app, name):
    from webapp.db import User, db_session

    with app.app_context():
        return db_session().query(User).filter_by(username=name).one_or_none()


def _audit(app):
    from webapp.db import AuditEntry, db_session

    with app.app_context():
        return [(e.username, e.action, e.target, e.detail) for e in
                db_session().query(AuditEntry).order_by(AuditEntry.id)]


def test_add_user_shows_a_random_password_once(app, as_role):
    c = as_role("admin")
    response = c.post("/admin/users", data={"csrf_token": csrf_token(c, "/admin/users"),
                                            "username": "pat", "role": "guardian", "team": "Armley"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    password = re.search(r'<code class="token">([^<]+)</code>', text).group(1)
    assert len(password) >= 16
    user = _user(app, "pat")
    assert user.role == "guardian" and user.team == "Armley" and password not in user.password_hash
    assert password not in c.get("/admin/users").get_data(as_text=True)
    assert login(app.test_client(), "pat", password).status_code == 302
    assert ("admin", "role_change", "pat", {"old": None, "new": "guardian"}) in _audit(app)
    duplicate = c.post("/admin/users", data={"csrf_token": csrf_token(c, "/admin/users"),
                                             "username": "PAT", "role": "viewer"})
    assert duplicate.status_code == 400


def test_role_change_is_audited_and_takes_effect(app, as_role):
    viewer = as_role("viewer")
    assert viewer.get("/plans/").status_code == 403
    c = as_role("admin")
    uid = _user(app, "viewer").id
    response = c.post(f"/admin/users/{uid}", data={"csrf_token": csrf_token(c, "/admin/users"),
                                                   f"u{uid}-role": "guardian", f"u{uid}-active": "y",
                                                   f"u{uid}-team": "Armley"})
    assert response.status_code == 302
    assert viewer.get("/plans/").status_code == 302  # the old session has ended
    assert login(viewer, "viewer", app.passwords["viewer"]).status_code == 302
    assert viewer.get("/plans/").status_code == 200  # the new role
    entries = _audit(app)
    assert ("admin", "role_change", "viewer", {"old": "viewer", "new": "guardian"}) in entries
    assert any(e[1] == "team_change" for e in entries)
    page = c.get("/admin/audit").get_data(as_text=True)
    assert "role_change" in page and "viewer" in page


def test_deactivated_user_is_logged_out(app, as_role):
    viewer = as_role("viewer")
    c = as_role("admin")
    uid = _user(app, "viewer").id
    c.post(f"/admin/users/{uid}", data={"csrf_token": csrf_token(c, "/admin/users"),
                                        f"u{uid}-role": "viewer"})  # active unticked
    assert viewer.get("/map").status_code == 302
    assert ("admin", "user_deactivated", "viewer", {}) in _audit(app)


def test_last_admin_cannot_be_demoted(app, as_role):
    c = as_role("admin")
    uid = _user(app, "admin").id
    c.post(f"/admin/users/{uid}", data={"csrf_token": csrf_token(c, "/admin/users"),
                                        f"u{uid}-role": "viewer", f"u{uid}-active": "y"})
    assert _user(app, "admin").role == "admin"


def test_password_reset(app, as_role, token_for):
    token = token_for("analyst")
    c = as_role("admin")
    uid = _user(app, "analyst").id
    response = c.post(f"/admin/users/{uid}/password", data={"csrf_token": csrf_token(c, "/admin/users")})
    password = re.search(r'<code class="token">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    assert login(app.test_client(), "analyst", app.passwords["analyst"]).status_code == 401
    assert login(app.test_client(), "analyst", password).status_code == 302
    api = app.test_client()
    assert api.get("/api/v1/", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert ("admin", "password_reset", "analyst", {}) in _audit(app)


def test_audit_log_filter_and_paging(app, as_role):
    from webapp.db import audit

    with app.test_request_context():
        for i in range(60):
            audit("export", target=f"file-{i}.csv", username="tester")
        audit("upload", target="x.csv", username="tester")
    c = as_role("admin")
    page1 = c.get("/admin/audit?action=export").get_data(as_text=True)
    assert "file-59.csv" in page1 and "file-0.csv" not in page1 and "x.csv" not in page1
    assert "Page 1 of 2" in page1
    page2 = c.get("/admin/audit?action=export&page=2").get_data(as_text=True)
    assert "file-0.csv" in page2
    assert c.get("/admin/audit?page=x").status_code == 400


def test_console_user_commands(app, home):
    from webapp.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(home), "users", "add", "sam", "--role", "analyst"])
    assert result.exit_code == 0, result.output
    password = result.output.strip().rsplit(" ", 1)[-1]
    assert login(app.test_client(), "sam", password).status_code == 302
    result = runner.invoke(cli, ["--home", str(home), "users", "set-role", "sam", "viewer"])
    assert result.exit_code == 0 and "analyst -> viewer" in result.output
    assert _user(app, "sam").role == "viewer"
    result = runner.invoke(cli, ["--home", str(home), "users", "add", "sam"])
    assert result.exit_code == 2 and "already a user" in result.output
    result = runner.invoke(cli, ["--home", str(home), "users", "reset-password", "nobody"])
    assert result.exit_code == 2
    listing = runner.invoke(cli, ["--home", str(home), "users", "list"]).output
    assert "sam" in listing and "viewer" in listing
    assert ("(console)", "role_change", "sam", {"old": "analyst", "new": "viewer"}) in _audit(app)
