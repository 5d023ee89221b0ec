"""Random input at every route, as every role: whatever comes in, the answer is never a 500.

The routes are read from the app's own url_map, so a new route is covered without a change here.
Path parameters get values of their converter's kind and far beyond (huge, text); query
parameters, form fields and JSON fields get random text and numbers, shaped like what the
parameter expects often enough to get past the first check (periods of any year, numbers of any
size in any script). A bad request must be a 4xx: in the API with the one JSON error shape, on
pages as an HTML page. Examples are derandomised (the same on every run).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webapp.conftest import ROLES, csrf_token, login
from tests.webapp.test_api import assert_error_shape

#: Routes that take no parameter and would end the session or empty the store for the examples
#: after them (each is tested on its own elsewhere).
SKIPPED = {"auth.logout", "data.remove_demo"}
#: Routes whose success would change accounts for the examples after them: they get random
#: input, but only ids that name nobody (1000 and up).
HARMFUL = {"admin.reset_password", "admin.edit_user"}
#: Examples per route as a role allowed there, and as any role (most are refused at the door).
EXAMPLES, EXAMPLES_ANY_ROLE = 30, 6

numbers = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=4),  # ², ١٢, １２
)
periods = st.one_of(
    st.builds("{:04d}-{:02d}".format, st.integers(0, 9999), st.integers(0, 13)),
    st.builds("{:04d}-W{:02d}".format, st.integers(0, 9999), st.integers(0, 60)),
    st.builds("{:04d}-{:02d}-01..{:04d}-12-31".format, st.integers(0, 9999), st.integers(1, 12),
              st.integers(0, 9999)),
    st.sampled_from(["2025-W28", "2025-06", "2025-07"]),
)
words = st.one_of(st.text(max_size=24), st.sampled_from(
    ["priority", "all", "asb", "serious_violence", "both", "drive", "walk", "E05011385", "Armley",
     "harm", "count", "gistar", "arrive", "depart", "16:00", "25:61", "../../etc/passwd", "\x00",
     "2025-07-28T16:05:00Z", "9999-12-31T23:59:59-23:59"]))
anything = st.one_of(words, numbers, periods)

#: Good values of some parameters: most examples give the others good values, so that the
#: random one gets past the checks before it.
GOOD = {
    "category": ["asb", "serious_violence", "all", "both"], "wards": ["priority", "all", "E05011385"],
    "resolution": ["9", "10"], "weight": ["harm", "count"], "method": ["gistar", "count"],
    "periods": ["2", "3"], "mode": ["drive", "walk"], "action": ["arrive", "depart"],
    "teams": ["1", "2"], "shift_start": ["16:00"], "shift_min": ["60"], "dwell_min": ["15"],
    "stops_per_ward": ["2"], "stop": ["1", "2"], "team": ["0"], "top": ["5"],
}
#: What a parameter expects, to shape its random values; any other name gets `anything`.
SHAPES = {
    "period": st.one_of(periods, periods, anything), "top": numbers, "resolution": numbers,
    "periods": numbers, "page": numbers, "weeks": numbers, "limit": numbers, "stop": numbers,
    "teams": numbers, "shift_min": numbers, "dwell_min": numbers, "stops_per_ward": numbers,
    "seed": numbers, "plan_id": numbers,
}


#: The query parameters each page reads (a route not listed gets all of them); every route also
#: gets, now and then, one it does not read.
MAP_QUERY = ("period", "category", "wards", "resolution", "weight")
ROUTE_QUERY = {
    "maps.hotspot_map": MAP_QUERY, "maps.frame": MAP_QUERY, "maps.ward_summary": MAP_QUERY,
    "exports.hotspots": (*MAP_QUERY, "top"), "exports.plan_gpx": ("team",),
    "evaluation.index": ("period", "category", "periods", "method"),
    "api.evaluation": ("period", "category", "periods", "method"),
    "api.hotspots": (*MAP_QUERY, "top"), "api.wards": ("period", "category", "wards"),
    "api.plans": ("limit",), "admin.audit_log": ("page", "action"),
    "patrol_log.dosage_report": ("weeks",), "auth.login": ("next",),
}
ALL_QUERY = tuple(sorted({n for names in ROUTE_QUERY.values() for n in names}))
FORM_NAMES = ("stop", "action", "name", "period", "category", "teams", "shift_start", "shift_min",
              "dwell_min", "mode", "stops_per_ward", "username", "password", "role", "team",
              "format", "source", "id_col", "crs", "month_first", "dry_run", "assign-0", "u1-role",
              "u1-active", "pw-current", "pw-new", "pw-submit", "tok-submit", "submit")
JSON_NAMES = ("plan_id", "team", "stop", "action", "arrived_at", "departed_at", "note", "period",
              "category", "teams", "shift_start", "shift_min", "dwell_min", "mode",
              "stops_per_ward", "seed", "extra")


@st.composite
def _fields(draw, names):
    """Some of `names`: at most one with a random value, the rest with good ones where there are
    good ones (so the random one gets past the checks before it)."""
    present = draw(st.sets(st.sampled_from(names), max_size=len(names)))
    wild = draw(st.sets(st.sampled_from(names), max_size=1))
    out = {}
    for name in sorted(present | wild):
        if name in wild or name not in GOOD:
            out[name] = draw(SHAPES.get(name, anything))
        else:
            out[name] = draw(st.sampled_from(GOOD[name]))
    return out


def _query(endpoint: str):
    own = _fields(ROUTE_QUERY.get(endpoint, ALL_QUERY))
    stranger = st.dictionaries(st.sampled_from(("colour", "x", *ALL_QUERY)), anything, max_size=2)
    return st.one_of(own, st.tuples(own, stranger).map(lambda p: {**p[1], **p[0]}))


def _as_json(text: str):
    try:
        return json.loads(text)  # numbers as numbers (1e999 is infinity), the rest as text
    except ValueError:
        return text


json_odd = st.one_of(st.none(), st.booleans(), st.lists(anything.map(_as_json), max_size=2),
                     st.dictionaries(st.text(max_size=4), anything.map(_as_json), max_size=2))
json_bodies = st.one_of(
    _fields(JSON_NAMES).map(lambda body: {k: _as_json(v) for k, v in body.items()}),
    st.tuples(_fields(JSON_NAMES), st.sampled_from(JSON_NAMES), json_odd).map(
        lambda t: {**{k: _as_json(v) for k, v in t[0].items()}, t[1]: t[2]}),
    st.sampled_from(["[]", "null", "nul", '"text"', "{" * 50]),
)


def _routes(app) -> list[tuple[str, str, object]]:
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in SKIPPED:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, rule))
    return out


def _allowed_roles(app, endpoint: str) -> list[str | None]:
    """The roles that get past the route's door (`role_required` marks its views)."""
    view = app.view_functions[endpoint]
    least = getattr(view, "required_role", None)
    if least is not None:
        return [r for r in ROLES if ROLES.index(r) >= ROLES.index(least)]
    if hasattr(view, "__wrapped__"):  # login_required
        return list(ROLES)
    return [None, *ROLES]


def _clients(app):
    """A logged-in client and its CSRF token per role (None: logged out)."""
    clients = {}
    for role in (None, *ROLES):
        c = app.test_client()
        if role is not None:
            assert login(c, role, app.passwords[role]).status_code == 302
        clients[role] = (c, csrf_token(c, "/account" if role else "/login"))
    return clients


def _path_values(rule, endpoint: str, plan_id: int):
    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, _integer_converter()):
            low = 1000 if endpoint in HARMFUL else 0
            choices = [st.integers(min_value=low, max_value=10**25)]
            if endpoint not in HARMFUL:
                choices.insert(0, st.sampled_from([plan_id, 0, 1, 7]))
            values[name] = st.one_of(*choices).map(str)
        else:
            values[name] = anything.filter(bool)
    return st.fixed_dictionaries(values)


def _integer_converter():
    from werkzeug.routing import IntegerConverter

    return IntegerConverter


def _url(rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name, value in values.items():
        safe = "/" if type(rule._converters[name]).__name__ == "PathConverter" else ""
        path = re.sub(rf"<[^>]*\b{name}>", lambda _m, v=value, s=safe: quote(v, safe=s), path)
    return path


def _check_route(app, clients, endpoint: str, method: str, rule, roles, examples: int) -> dict[int, int]:
    statuses: dict[int, int] = {}
    if method == "POST":
        body = json_bodies if rule.rule.startswith("/api/") else _fields(FORM_NAMES)
    else:
        body = st.none()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(role=st.sampled_from(roles), path=_path_values(rule, endpoint, app.plan_id),
           query=_query(endpoint), body=body)
    def check(role, path, query, body):
        client, token = clients[role]
        url = _url(rule, path) + ("?" + urlencode(query) if query else "")
        if method == "GET":
            response = client.get(url)
        elif rule.rule.startswith("/api/"):
            data = body if isinstance(body, str) else json.dumps(body)
            response = client.post(url, data=data, content_type="application/json",
                                   headers={"X-CSRFToken": token})
        else:
            response = client.post(url, data={**body, "csrf_token": token})
        status = response.status_code
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (role, method, url, body, response.get_data(as_text=True)[:400])
        if role is not None:  # nothing sent ends the session
            assert "/login" not in response.headers.get("Location", ""), (role, url, body)
        if status >= 400 and rule.rule.startswith("/api/"):
            assert_error_shape(response)
        elif status >= 400:
            assert response.mimetype == "text/html", (url, response.mimetype)

    check()
    return statuses


def test_random_input_never_ends_in_a_500(app, saved_plan):
    app.plan_id = saved_plan
    clients = _clients(app)
    routes = _routes(app)
    assert len(routes) >= 35
    totals: dict[int, int] = {}
    for endpoint, method, rule in routes:
        for roles, n in ((_allowed_roles(app, endpoint), EXAMPLES), ([None, *ROLES], EXAMPLES_ANY_ROLE)):
            for status, count in _check_route(app, clients, endpoint, method, rule, roles, n).items():
                totals[status] = totals.get(status, 0) + count
    # The examples got past the door: many answers were successes, many were refusals.
    assert totals.get(200, 0) > 100 and sum(n for s, n in totals.items() if 400 <= s < 500) > 100, totals
