"""Every route with every role: allowed, refused (403), and logged out (login page or 401).

`CASES` must name every endpoint of the app; a new route without a case fails
`test_every_route_has_a_case`.
"""

from __future__ import annotations

import pytest

from tests.webapp.conftest import ROLES, csrf_token, login

# endpoint -> (method, path template, least role or None for open/any-login, JSON body)
# `{plan}` is replaced by a saved plan's id, `{hotspot}` by a designated hotspot's. "login" means
# any logged-in user.
CASES: dict[str, tuple[str, str, str | None, dict | None]] = {
    "index": ("GET", "/", "login", None),
    "auth.login": ("GET", "/login", None, None),
    "auth.logout": ("POST", "/logout", "login", None),
    "auth.account": ("GET", "/account", "login", None),
    "maps.hotspot_map": ("GET", "/map", "viewer", None),
    "maps.frame": ("GET", "/map/frame", "viewer", None),
    "maps.ward_summary": ("GET", "/wards", "viewer", None),
    "maps.compare": ("GET", "/compare?view=change", "viewer", None),
    "maps.compare_frame": ("GET", "/compare/frame", "viewer", None),
    "maps.streets": ("GET", "/map/streets.geojson", "viewer", None),  # 404: no network loaded
    "plans.index": ("GET", "/plans/", "guardian", None),
    "plans.show": ("GET", "/plans/{plan}", "guardian", None),
    "plans.plan_map": ("GET", "/plans/{plan}/map", "guardian", None),
    "plans.sheet": ("GET", "/plans/{plan}/sheet", "guardian", None),
    "plans.save": ("POST", "/plans/{plan}/save", "guardian", None),
    "patrol_log.index": ("GET", "/patrol/", "guardian", None),
    "patrol_log.route": ("GET", "/patrol/{plan}/0", "guardian", None),
    "patrol_log.visit": ("POST", "/patrol/{plan}/0/visit", "guardian", None),
    "patrol_log.undo": ("POST", "/patrol/{plan}/0/undo", "guardian", None),
    "patrol_log.my_shift": ("GET", "/patrol/shift", "guardian", None),
    "patrol_log.route_map": ("GET", "/patrol/{plan}/0/map?done=1,2&next=3", "guardian", None),
    "patrol_log.dosage_report": ("GET", "/patrol/dosage", "guardian", None),
    "evaluation.index": ("GET", "/evaluation/?periods=2", "analyst", None),
    "data.upload": ("GET", "/data/", "analyst", None),
    "exports.hotspots": ("GET", "/exports/hotspots.geojson", "analyst", None),
    "exports.plan_gpx": ("GET", "/exports/plans/{plan}.gpx", "guardian", None),
    "exports.plan_geojson": ("GET", "/exports/plans/{plan}.geojson", "guardian", None),
    "exports.plan_csv": ("GET", "/exports/plans/{plan}.csv", "guardian", None),
    "exports.evaluation_csv": ("GET", "/exports/evaluation.csv?periods=2", "analyst", None),
    "admin.users": ("GET", "/admin/users", "admin", None),
    "admin.edit_user": ("POST", "/admin/users/1", "admin", None),
    "admin.reset_password": ("POST", "/admin/users/1/password", "admin", None),
    "admin.audit_log": ("GET", "/admin/audit", "admin", None),
    "admin.locks": ("GET", "/admin/locks", "admin", None),
    "admin.clear_lock": ("POST", "/admin/locks/clear", "admin", None),
    "assets.leaflet": ("GET", "/assets/leaflet/{leaflet}/leaflet.js", None, None),
    "api.index": ("GET", "/api/v1/", "viewer", None),
    "api.openapi": ("GET", "/api/v1/openapi.json", "viewer", None),
    "api.hotspots": ("GET", "/api/v1/hotspots?top=5", "viewer", None),
    "api.wards": ("GET", "/api/v1/wards", "viewer", None),
    "api.plans": ("GET", "/api/v1/plans", "guardian", None),
    "api.plan": ("GET", "/api/v1/plans/{plan}", "guardian", None),
    "api.visits": ("POST", "/api/v1/visits", "guardian", {"plan_id": "{plan}", "team": 0, "stop": 1}),
    "api.evaluation": ("GET", "/api/v1/evaluation?periods=2", "analyst", None),
    "programme.register_index": ("GET", "/register/", "viewer", None),
    "programme.new": ("GET", "/register/new?cells=8a194254508ffff", "analyst", None),
    "programme.show": ("GET", "/register/{hotspot}", "viewer", None),
    "programme.edit": ("POST", "/register/{hotspot}/edit", "analyst", None),
    "programme.close": ("POST", "/register/{hotspot}/close", "analyst", None),
    "programme.export": ("GET", "/register/export.csv", "analyst", None),
    "programme.teams": ("GET", "/teams/", "viewer", None),
    "programme.team_edit": ("POST", "/teams/1", "analyst", None),
    "programme.dosage": ("GET", "/dosage/", "viewer", None),
    "programme_api.hotspots": ("GET", "/api/v1/register", "viewer", None),
    "programme_api.hotspot": ("GET", "/api/v1/register/{hotspot}", "viewer", None),
    "programme_api.hotspot_impact": ("GET", "/api/v1/register/{hotspot}/impact", "viewer", None),
    "programme_api.impact": ("GET", "/api/v1/impact", "viewer", None),
    "programme_api.dosage": ("GET", "/api/v1/dosage", "viewer", None),
    "programme_api.teams": ("GET", "/api/v1/teams", "viewer", None),
    "brief.page": ("GET", "/brief/", "viewer", None),
    "brief.pdf": ("GET", "/brief/brief.pdf", "viewer", None),
    # Last: it empties the demo store.
    "data.remove_demo": ("POST", "/data/remove-demo", "analyst", None),
}

# POST routes that take a form: besides the CSRF token, what makes the request a real one.
FORMS = {
    "plans.save": {"name": "Renamed", "assign-0": "guardian"},
    "patrol_log.visit": {"stop": "1", "action": "arrive"},
    "patrol_log.undo": {"visit": "1", "action": "arrive"},
    "admin.edit_user": {"u1-role": "admin", "u1-active": "y"},
    "programme.edit": {"notes": "Checked by every role", "reason": "route test"},
    "programme.close": {"reason": "route test"},
    "programme.team_edit": {"name": "Gipton & Harehills", "base": "E05011394", "mode": "drive",
                            "members": "", "home_wards": "E05011394", "active": "yes",
                            "reason": "route test"},
    "admin.clear_lock": {"username": "nobody"},
}
EXTRA_POSTS = {
    # Routes that also take POST on a GET path: (path, form, the answer to a role allowed there)
    "auth.account": ("/account", {}, 400),  # neither form's button
    "plans.index": ("/plans/", {"period": "not a period", "teams": "1", "shift_start": "16:00",
                                "shift_min": "60", "dwell_min": "15", "mode": "drive",
                                "stops_per_ward": "2", "category": "asb"}, 400),
    "data.upload": ("/data/", {}, 400),  # no file
    "admin.users": ("/admin/users", {"username": "someone", "role": "viewer"}, 200),  # added
    "api.plans": ("/api/v1/plans", None, 400),  # period 2025-W99 does not exist
}


def _path(template: str, plan: int, hotspot: int = 0) -> str:
    import xstatic.pkg.leaflet as leaflet

    return (template.replace("{plan}", str(plan)).replace("{hotspot}", str(hotspot))
            .replace("{leaflet}", leaflet.VERSION))


def _allowed(least: str | None, role: str | None) -> bool:
    if least is None:
        return True
    if role is None:
        return False
    if least == "login":
        return True
    return ROLES.index(role) >= ROLES.index(least)


def _client(app, role):
    c = app.test_client()
    if role is not None:
        assert login(c, role, app.passwords[role]).status_code == 302
    return c


def _send(app, c, method: str, path: str, body, form: dict | None, role):
    if method == "GET":
        return c.get(path)
    token = csrf_token(c, "/account" if role else "/login")
    if path.startswith("/api/"):
        return c.post(path, json=body, headers={"X-CSRFToken": token})
    return c.post(path, data={**(form or {}), "csrf_token": token})


def test_every_route_has_a_case(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    missing = sorted(endpoints - set(CASES))
    assert not missing, f"routes without an access case: {missing}"
    stale = sorted(set(CASES) - endpoints)
    assert not stale, f"cases for routes that no longer exist: {stale}"


@pytest.mark.parametrize("role", [None, *ROLES])
def test_access_by_role(app, saved_plan, saved_hotspot, role):
    c = _client(app, role)
    failures = []
    for endpoint, (method, template, least, body) in CASES.items():
        if endpoint == "auth.logout":
            continue  # it ends the session; tested below
        path = _path(template, saved_plan, saved_hotspot)
        if body is not None:
            body = {k: (saved_plan if v == "{plan}" else v) for k, v in body.items()}
        response = _send(app, c, method, path, body, FORMS.get(endpoint), role)
        status = response.status_code
        if _allowed(least, role):
            ok = status < 400 or (status == 400 and endpoint in ("admin.edit_user",)) or (
                status == 404 and endpoint == "maps.streets")
            if role is not None and least not in (None,) and status in (401, 403):
                ok = False
            if status == 302 and "/login" in response.headers.get("Location", ""):
                ok = False
        elif role is None:
            if path.startswith("/api/"):
                ok = status == 401 and response.get_json()["error"]["code"] == "unauthorized"
            else:
                ok = status == 302 and "/login" in response.headers["Location"]
        else:
            ok = status == 403
            if path.startswith("/api/"):
                ok = ok and response.get_json()["error"]["code"] == "forbidden"
        if not ok:
            failures.append((endpoint, method, path, status, response.get_data(as_text=True)[:200]))
    assert not failures, failures


@pytest.mark.parametrize("role", [None, *ROLES])
def test_posts_on_get_routes_by_role(app, saved_plan, role):
    c = _client(app, role)
    failures = []
    for endpoint, (path, form, answer) in EXTRA_POSTS.items():
        least = CASES[endpoint][2]
        token = csrf_token(c, "/account" if role else "/login")
        if path.startswith("/api/"):
            response = c.post(path, json={"period": "2025-W99"}, headers={"X-CSRFToken": token})
        else:
            response = c.post(path, data={**form, "csrf_token": token})
        status = response.status_code
        if _allowed(least, role):
            ok = status == answer
        elif role is None:
            ok = status == 401 if path.startswith("/api/") else (
                status == 302 and "/login" in response.headers["Location"])
        else:
            ok = status == 403
        if not ok:
            failures.append((endpoint, status, response.get_data(as_text=True)[:200]))
    assert not failures, failures


def test_logout_for_every_role(app):
    for role in ROLES:
        c = _client(app, role)
        response = c.post("/logout", data={"csrf_token": csrf_token(c, "/account")})
        assert response.status_code == 302
        assert c.get("/account").status_code == 302


def test_api_with_tokens_by_role(app, saved_plan, saved_hotspot, token_for):
    c = app.test_client()
    for role in ROLES:
        headers = {"Authorization": f"Bearer {token_for(role)}"}
        for method, template, least, body in CASES.values():
            if not template.startswith("/api/"):
                continue
            path = _path(template, saved_plan, saved_hotspot)
            if method == "GET":
                response = c.get(path, headers=headers)
            else:
                body = {k: (saved_plan if v == "{plan}" else v) for k, v in body.items()}
                response = c.post(path, json=body, headers=headers)  # tokens need no CSRF
            if _allowed(least, role):
                assert response.status_code < 400, (role, path, response.get_data(as_text=True)[:300])
            else:
                assert response.status_code == 403, (role, path)
