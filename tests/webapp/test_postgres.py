"""The web app on a real PostgreSQL server (CI starts one with .ci/postgres.sh).

Skipped when HOTSPOTS_TEST_POSTGRES_URL is not set. Every table is dropped and created again, so
point it only at a throwaway database.
"""

from __future__ import annotations

import os
import shutil

import pytest
import sqlalchemy as sa

from tests.webapp.conftest import add_role_users, login, make_app, make_token

PG_URL = os.environ.get("HOTSPOTS_TEST_POSTGRES_URL", "")

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="HOTSPOTS_TEST_POSTGRES_URL is not set (CI starts a server with .ci/postgres.sh)"
)


@pytest.fixture
def pg_app(home, demo_store):
    from webapp.db import Base

    engine = sa.create_engine(PG_URL)
    Base.metadata.drop_all(engine)
    engine.dispose()
    shutil.copytree(demo_store, home / "store")
    application = make_app(home, SETTINGS={"database_url": PG_URL})
    add_role_users(application)
    yield application
    application.extensions["hotspots_db"]["engine"].dispose()


def count(table: str) -> int:
    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_schema_is_created_on_postgresql(pg_app):
    from webapp.db import get_engine

    with pg_app.app_context():
        engine = get_engine()
        assert engine.dialect.name == "postgresql"
        tables = set(sa.inspect(engine).get_table_names())
    assert {"users", "plans", "visits", "uploads", "audit_log"} <= tables
    assert count("users") == 4


def test_login_plan_visit_and_audit_on_postgresql(pg_app, home):
    client = pg_app.test_client()
    response = login(client, "guardian", pg_app.passwords["guardian"])
    assert response.status_code == 302
    assert client.get("/map").status_code == 200
    token = make_token(pg_app, "guardian")
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/plans", headers=headers,
                          json={"category": "asb", "teams": 1, "shift_min": 90, "stops_per_ward": 2})
    assert created.status_code == 201, created.get_json()
    plan_id = created.get_json()["id"]
    # Guardians log visits on saved plans of their own team: save it, assigning the route.
    from tests.webapp.conftest import csrf_token

    saved = client.post(f"/plans/{plan_id}/save", data={
        "csrf_token": csrf_token(client, f"/plans/{plan_id}"), "name": "On PostgreSQL",
        "assign-0": "guardian"})
    assert saved.status_code == 302
    visit = client.post("/api/v1/visits", headers=headers,
                        json={"plan_id": plan_id, "team": 0, "stop": 1,
                              "arrived_at": "2025-07-28T16:00:00Z", "departed_at": "2025-07-28T16:14:00Z"})
    assert visit.status_code == 201 and visit.get_json()["minutes"] == 14.0
    assert count("plans") == 1 and count("visits") == 1
    assert count("audit_log") >= 1
    # A second app on the same database sees the same state (nothing is kept in the process).
    again = make_app(home, SETTINGS={"database_url": PG_URL})
    other = again.test_client()
    assert login(other, "guardian", pg_app.passwords["guardian"]).status_code == 302
    again.extensions["hotspots_db"]["engine"].dispose()
