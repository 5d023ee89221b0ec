"""Fixtures for the web app: a small demo store made once, an app per test, a user per role."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from hotspots.settings import get_settings

#: A short demo set: enough weeks for a trend and an evaluation, small enough to be quick.
DEMO_WEEKS = 10
DEMO_END = dt.date(2025, 7, 27)
ROLES = ("viewer", "guardian", "analyst", "admin")

_CSRF = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> Path:
    """A store folder holding a few weeks of synthetic demo incidents (made once per session)."""
    from hotspots.demo import generate_demo
    from hotspots.store import IncidentStore

    home = tmp_path_factory.mktemp("demo-home")
    settings = get_settings(home)
    store = IncidentStore(home, settings=settings)
    store.add(generate_demo(seed=3, weeks=DEMO_WEEKS, end=DEMO_END, settings=settings))
    return home / "store"


def make_app(home: Path, **config):
    from webapp import create_app

    # A cheap scrypt cost keeps logins quick in tests; production uses werkzeug's default.
    cfg = {"HOME": home, "TESTING": True, "BOOTSTRAP": False, "LOGIN_BACKOFF_BASE_S": 0.0,
           "PASSWORD_HASH_METHOD": "scrypt:1024:8:1", "PLAN_IN_PROCESS": True}
    cfg.update(config)
    cfg["SETTINGS"] = {"web_plan_time_limit_s": 0.5, **cfg.get("SETTINGS", {})}
    return create_app(cfg)


@pytest.fixture
def app(home, demo_store):
    """The app on a copy of the demo store, with one user per role (password in `.passwords`)."""
    shutil.copytree(demo_store, home / "store")
    application = make_app(home)
    add_role_users(application)
    return application


@pytest.fixture(scope="session")
def monthly_store(tmp_path_factory) -> Path:
    """A store of police.uk-style incidents (month precision), read from police.uk CSVs."""
    from hotspots.demo import generate_demo, write_policeuk_csv
    from hotspots.ingest import read_incidents_report
    from hotspots.store import IncidentStore

    home = tmp_path_factory.mktemp("monthly-home")
    settings = get_settings(home)
    files = write_policeuk_csv(generate_demo(seed=5, weeks=9, end=DEMO_END, settings=settings),
                               home / "csv")
    frame, report = read_incidents_report(files, settings=settings, progress=False)
    frame.attrs.pop("read_report", None)
    IncidentStore(home, settings=settings).add(frame, read_report=report)
    return home / "store"


@pytest.fixture
def monthly_app(home, monthly_store):
    """The app on a store of month-precision (police.uk) incidents."""
    shutil.copytree(monthly_store, home / "store")
    application = make_app(home)
    add_role_users(application)
    return application


@pytest.fixture
def empty_app(home):
    """The app on an empty store."""
    application = make_app(home)
    add_role_users(application)
    return application


def add_role_users(application) -> None:
    from webapp.auth import create_user, random_password
    from webapp.db import db_session

    application.passwords = {}
    with application.app_context():
        for role in ROLES:
            password = random_password()
            create_user(db_session(), role, role, password=password,
                        team="Armley" if role == "guardian" else "")
            application.passwords[role] = password


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's form."""
    page = client.get(path)
    found = _CSRF.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client, role: str, password: str):
    token = csrf_token(client)
    return client.post("/login", data={"username": role, "password": password, "csrf_token": token})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def as_role(app):
    """`as_role("analyst")` gives a test client logged in with that role."""
    def make(role: str):
        c = app.test_client()
        response = login(c, role, app.passwords[role])
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return c

    return make


def make_token(application, role: str) -> str:
    """Give the user `role` an API token and return it."""
    from webapp.auth import issue_token
    from webapp.db import User, db_session

    token = f"test-token-{role}"
    with application.app_context():
        session = db_session()
        user = session.query(User).filter_by(username=role).one()
        issue_token(user, token)
        session.commit()
    application.extensions["hotspots_users"].clear()
    return token


@pytest.fixture
def token_for(app):
    """`token_for("viewer")` gives an API token of that role's user."""
    return lambda role: make_token(app, role)


_PLAN_CACHE: dict[str, object] = {}


def _plan_fields(app) -> dict:
    """The stored form of one small plan (made once per session: the demo store never changes)."""
    if "fields" not in _PLAN_CACHE:
        with app.test_request_context():
            data = app.extensions["hotspots_data"]
            params = {"period": data.default_period(), "category": "asb", "teams": 2,
                      "shift_start": "16:00", "shift_min": 120, "dwell_min": 15.0, "mode": "drive",
                      "stops_per_ward": 4, "seed": 0}
            from webapp._deployment import make_plan

            out = make_plan(data, **params, time_limit_s=0.5, title="Test plan")
            _PLAN_CACHE["fields"] = {
                "name": "Test plan", "period": params["period"], "category": "asb", "params": params,
                "plan": out["plan"], "geojson": out["geojson"], "gpx": out["gpx"],
                "gpx_teams": out["gpx_teams"], "sheet_html": out["sheet_html"],
                "approximate": out["approximate"], "demo": True, "status": "saved",
                "assignments": {out["teams"][0]: "guardian"},
            }
    return dict(_PLAN_CACHE["fields"])


@pytest.fixture
def saved_plan(app) -> int:
    """The id of a saved two-team plan whose first route is assigned to the guardian user."""
    from webapp.db import SavedPlan, db_session

    with app.app_context():
        session = db_session()
        record = SavedPlan(**_plan_fields(app))
        session.add(record)
        session.commit()
        return record.id


#: Start of the designated hotspot of `saved_hotspot`: 5 weeks before the demo data ends.
HOTSPOT_START = DEMO_END - dt.timedelta(weeks=5) + dt.timedelta(days=1)


def busiest_cells(application, category: str = "asb", n: int = 1) -> list[str]:
    """The `n` top-ranked cells (hex) of the demo store's latest period in the priority wards."""
    from webapp.presentation import cell_hex

    with application.test_request_context():
        data = application.extensions["hotspots_data"]
        ranking = data.ranking(data.query(category=category, period=None, wards="priority"))
        return [cell_hex(c) for c in ranking["h3_cell"].head(n)]


@pytest.fixture
def saved_hotspot(app) -> int:
    """The id of an active designated ASB hotspot (the busiest cell) owned by the Armley team."""
    from webapp.register import create_hotspot

    cells = busiest_cells(app)
    with app.app_context():
        record = create_hotspot({"cells": cells, "category": "asb", "status": "active",
                                 "team": "Armley", "start_date": HOTSPOT_START.isoformat(),
                                 "reason": "test fixture"}, who="(test)")
        return record.id
