"""Weekly periods behave the same on every page and API route: all answer a week, or all refuse
it with the same clear 400 (never a 500) when the incidents give only their month."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from tests.webapp.conftest import DEMO_END, add_role_users, login, make_app, make_token

PAGES = ["/map?period={p}", "/map/frame?period={p}", "/wards?period={p}",
         "/evaluation/?periods=2&period={p}", "/exports/hotspots.csv?period={p}",
         "/exports/hotspots.geojson?period={p}"]
API = ["/api/v1/hotspots?period={p}", "/api/v1/wards?period={p}",
       "/api/v1/evaluation?periods=2&period={p}"]


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory):
    """police.uk months (month precision) up to May 2025, then day-precision incidents."""
    from hotspots.demo import generate_demo, write_policeuk_csv
    from hotspots.ingest import read_incidents_report
    from hotspots.settings import get_settings
    from hotspots.store import IncidentStore

    home = tmp_path_factory.mktemp("mixed-home")
    settings = get_settings(home)
    files = write_policeuk_csv(generate_demo(seed=5, weeks=9, end=dt.date(2025, 5, 25), settings=settings),
                               home / "csv")
    frame, report = read_incidents_report(files, settings=settings, progress=False)
    frame.attrs.pop("read_report", None)
    store = IncidentStore(home, settings=settings)
    store.add(frame, read_report=report)
    store.add(generate_demo(seed=3, weeks=6, end=DEMO_END, settings=settings))
    return home / "store"


def _answers(application, period: str) -> dict[str, tuple[int, str]]:
    """Status and message of every page and API route for `period`, as an analyst."""
    page = application.test_client()
    assert login(page, "analyst", application.passwords["analyst"]).status_code == 302
    api = application.test_client()
    headers = {"Authorization": f"Bearer {make_token(application, 'analyst')}"}
    out = {}
    for path in PAGES:
        response = page.get(path.format(p=period))
        out[path] = (response.status_code, response.get_data(as_text=True))
    for path in API:
        response = api.get(path.format(p=period), headers=headers)
        body = response.get_json()
        out[path] = (response.status_code, body["error"]["message"] if response.status_code >= 400 else "")
    plan = api.post("/api/v1/plans", headers=headers, json={"period": period, "teams": 1, "stops_per_ward": 2})
    out["POST /api/v1/plans"] = (plan.status_code, plan.get_json().get("error", {}).get("message", ""))
    return out


def _same_everywhere(answers: dict[str, tuple[int, str]], status: int, words: str = "") -> None:
    wrong = {path: code for path, (code, _text) in answers.items() if code != status}
    assert not wrong, f"expected {status} everywhere: {wrong}"
    for path, (_code, text) in answers.items():
        assert words in text, (path, text[:300])


def test_a_week_of_day_precision_data_is_answered_everywhere(app):
    answers = _answers(app, "2025-W28")
    answers["POST /api/v1/plans"] = (200, "") if answers["POST /api/v1/plans"][0] == 201 else answers["POST /api/v1/plans"]
    _same_everywhere(answers, 200)


def test_a_week_of_month_only_data_is_the_same_400_everywhere(monthly_app):
    _same_everywhere(_answers(monthly_app, "2025-W28"), 400, "month")


def test_a_week_of_month_only_data_in_a_mixed_store(home, mixed_store):
    """Weeks where only police.uk months exist are refused everywhere; later weeks work everywhere."""
    shutil.copytree(mixed_store, home / "store")
    application = make_app(home)
    add_role_users(application)
    _same_everywhere(_answers(application, "2025-W14"), 400, "month")
    answers = _answers(application, "2025-W28")
    answers["POST /api/v1/plans"] = (200, "") if answers["POST /api/v1/plans"][0] == 201 else answers["POST /api/v1/plans"]
    _same_everywhere(answers, 200)
