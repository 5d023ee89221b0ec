"""Request parameters: the one set of validators, and the inputs that used to end in a 500."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.webapp.conftest import make_token
from tests.webapp.test_api import assert_error_shape

HUGE = "99999999999999999999"

# ----------------------------------------------------------------------------- the validators


def test_integer_takes_ascii_digits_within_bounds():
    from webapp import params
    from webapp.errors import ParameterError

    assert params.integer("12", "top", lo=1, hi=100) == 12
    assert params.integer(" +7 ", "top", lo=1, hi=100) == 7
    assert params.integer(12, "top", lo=1, hi=100) == 12
    assert params.integer("", "top", lo=1, hi=100, default=5) == 5
    assert params.integer(None, "top", lo=1, hi=100) is None
    for bad in ("²", "١٢", "１２", "1.5", "1e3", "0x10", "12 3", "-", HUGE, "101", "0", True, 2.0, [1]):
        with pytest.raises(ParameterError) as caught:
            params.integer(bad, "top", lo=1, hi=100)
        assert caught.value.parameter == "top"
        assert "`top`" in str(caught.value) and "1 to 100" in str(caught.value)


def test_number_is_finite_and_bounded():
    from decimal import Decimal

    from webapp import params
    from webapp.errors import ParameterError

    assert params.number("12.5", "dwell_min", lo=10, hi=16) == 12.5
    assert params.number(Decimal("15.0"), "dwell_min", lo=10, hi=16) == 15.0
    for bad in ("nan", "inf", float("inf"), float("nan"), 1e400, "1e1", "٣", "17", True, "abc"):
        with pytest.raises(ParameterError, match="`dwell_min`"):
            params.number(bad, "dwell_min", lo=10, hi=16)


def test_period_is_ascii_and_within_the_years():
    from webapp import params
    from webapp.errors import ParameterError

    assert params.period("2025-W23", tz="Europe/London").label == "2025-W23"
    assert params.period(" 2025-06 ", tz="Europe/London").label == "2025-06"
    for bad, words in [("9999-12", "1900 to 2100"), ("0001-01", "1900 to 2100"),
                       ("2101-01", "1900 to 2100"), ("1899-W10", "1900 to 2100"),
                       ("2025-06-01..9999-12-31", "1900 to 2100"), ("２０２５-06", "ASCII"),
                       ("2025-13", "month must be 01 to 12"), ("soon", "not understood")]:
        with pytest.raises(ParameterError) as caught:
            params.period(bad, "period", tz="Europe/London")
        assert caught.value.parameter == "period"
        assert words in str(caught.value), (bad, str(caught.value))


def test_timestamp_refuses_dates_outside_the_years():
    from webapp import params
    from webapp.errors import ParameterError

    got = params.timestamp("2025-07-28T16:05:00+01:00", "arrived_at", tz="Europe/London")
    assert got == dt.datetime(2025, 7, 28, 15, 5)
    assert params.timestamp("2025-01-10T10:00:00", "arrived_at", tz="Europe/London") == dt.datetime(2025, 1, 10, 10)
    for bad in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00", "teatime", 17, "２０２５-01-01"):
        with pytest.raises(ParameterError, match="`arrived_at`"):
            params.timestamp(bad, "arrived_at", tz="Europe/London")


# ----------------------------------------------------------------------------- the findings


def test_huge_ids_in_paths_are_not_found(as_role, app, saved_plan):
    c = as_role("admin")
    for path in (f"/plans/{HUGE}", f"/plans/{HUGE}/map", f"/plans/{HUGE}/sheet", f"/patrol/{HUGE}/0",
                 f"/patrol/1/{HUGE}", f"/exports/plans/{HUGE}.gpx", "/plans/2147483648"):
        response = c.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert "Not Found" in response.get_data(as_text=True)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'admin')}"}
    assert_error_shape(api.get(f"/api/v1/plans/{HUGE}", headers=headers), 404, "not_found")
    # A post naming a huge plan id is a 400 naming it, not an overflow in the database.
    err = assert_error_shape(api.post("/api/v1/visits", headers=headers,
                                      json={"plan_id": int(HUGE), "team": 0, "stop": 1}), 400)
    assert err["details"]["parameter"] == "plan_id"
    err = assert_error_shape(api.post("/api/v1/visits", headers=headers,
                                      json={"plan_id": saved_plan, "team": 0, "stop": int(HUGE)}), 400)
    assert err["details"]["parameter"] == "stop"


def test_audit_page_out_of_range(as_role):
    c = as_role("admin")
    response = c.get(f"/admin/audit?page={HUGE}")
    assert response.status_code == 400
    assert "`page`" in response.get_data(as_text=True)
    beyond = c.get("/admin/audit?page=5000")  # past the last page: an empty page, not an error
    assert beyond.status_code == 200 and "Page 5000 of 1" in beyond.get_data(as_text=True)


@pytest.mark.parametrize("value", ["²", "١٢", "1.5", HUGE, "-3"])
def test_top_takes_plain_digits_only(as_role, app, value):
    response = as_role("analyst").get(f"/exports/hotspots.csv?top={value}")
    assert response.status_code == 400
    assert "`top`" in response.get_data(as_text=True)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'viewer')}"}
    err = assert_error_shape(api.get(f"/api/v1/hotspots?top={value}", headers=headers), 400)
    assert err["details"]["parameter"] == "top"


@pytest.mark.parametrize("path", ["/map?period={p}", "/wards?period={p}", "/map/frame?period={p}",
                                  "/evaluation/?period={p}", "/exports/hotspots.csv?period={p}"])
@pytest.mark.parametrize("period", ["9999-12", "0001-01", "9999-W52"])
def test_periods_out_of_range_are_a_400_on_pages(as_role, path, period):
    response = as_role("analyst").get(path.format(p=period))
    text = response.get_data(as_text=True)
    assert response.status_code == 400, text[:300]
    assert "1900 to 2100" in text


@pytest.mark.parametrize("path", ["/api/v1/hotspots?period={p}", "/api/v1/wards?period={p}",
                                  "/api/v1/evaluation?period={p}"])
def test_periods_out_of_range_are_a_400_in_the_api(app, path):
    c = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'analyst')}"}
    err = assert_error_shape(c.get(path.format(p="9999-12"), headers=headers), 400, "invalid_parameter")
    assert err["details"]["parameter"] == "period" and "1900 to 2100" in err["message"]
    plan = c.post("/api/v1/plans", headers=headers, json={"period": "9999-12"})
    assert assert_error_shape(plan, 400)["details"]["parameter"] == "period"


def test_json_numbers_that_overflow_are_a_400(app):
    c = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'guardian')}", "Content-Type": "application/json"}
    for body, name in [('{"teams": 1e999}', "teams"), ('{"shift_min": -1e999}', "shift_min"),
                       ('{"dwell_min": NaN}', "dwell_min"), ('{"seed": 1e20}', "seed"),
                       ('{"teams": true}', "teams")]:
        err = assert_error_shape(c.post("/api/v1/plans", data=body, headers=headers), 400)
        assert err["details"]["parameter"] == name, (body, err)


def test_the_500_page_has_a_title(app, as_role, monkeypatch):
    data = app.extensions["hotspots_data"]

    def broken(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(data, "map_model", broken)
    response = as_role("viewer").get("/map")
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    title = re.search(r"<title>([^<]*)</title>", text).group(1)
    assert title.startswith("Internal Server Error")
    assert "property object" not in text and "boom" not in text
