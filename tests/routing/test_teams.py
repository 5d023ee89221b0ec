"""Teams: validation, bases (points and wards), default teams from the settings."""

from __future__ import annotations

import datetime as dt

import pytest

from hotspots import InputError
from hotspots.settings import get_settings
from hotspots.wards import load_wards
from routing import Team, base_points, default_teams
from routing.teams import parse_team_spec

# ------------------------------------------------------------------ input checks


def test_unknown_mode():
    with pytest.raises(InputError, match="`mode` is 'bicycle'; expected one of drive, walk"):
        Team("A", (-1.55, 53.8), "16:00", 240, mode="bicycle")


@pytest.mark.parametrize("start", ["4pm", "25:00", 16, None])
def test_bad_shift_start(start):
    with pytest.raises(InputError, match="`shift_start`"):
        Team("A", (-1.55, 53.8), start)


@pytest.mark.parametrize("shift", [0, -10, 2000, "long"])
def test_bad_shift_length(shift):
    with pytest.raises(InputError, match="`shift_min`"):
        Team("A", (-1.55, 53.8), "16:00", shift)


def test_latitude_first_is_caught():
    with pytest.raises(InputError, match="longitude first"):
        Team("A", (53.8, -1.55), "16:00")


@pytest.mark.parametrize("base", ["Leeds", (1, 2, 3), (-200, 53)])
def test_bad_base(base):
    with pytest.raises(InputError, match="base"):
        Team("A", base, "16:00")


def test_empty_name():
    with pytest.raises(InputError, match="non-empty `name`"):
        Team(" ", (-1.55, 53.8))


def test_unknown_ward_base(settings):
    with pytest.raises(InputError, match="'E05099999' is not in the ward boundaries"):
        base_points([Team("A", "E05099999")], settings=settings)


# ------------------------------------------------------------------ output contract


def test_start_minute_forms():
    assert Team("A", (-1.55, 53.8), "16:30").start_minute == 16 * 60 + 30
    assert Team("A", (-1.55, 53.8), dt.time(7, 15)).start_minute == 7 * 60 + 15
    t = Team("A", (-1.55, 53.8), dt.datetime(2025, 6, 2, 18, 0))
    assert t.start_minute == 18 * 60
    assert t.date == dt.date(2025, 6, 2)
    assert Team("A", (-1.55, 53.8), "16:00").date is None


def test_base_points_in_metres(settings):
    pts = base_points([Team("A", (-1.55, 53.8)), Team("B", "E05011394")], settings=settings)
    assert 429_000 < pts[0].x < 431_000 and 432_000 < pts[0].y < 434_000
    wards = load_wards(settings=settings)
    ward = wards.loc[wards["ward_code"] == "E05011394"].geometry.iloc[0]
    assert pts[1].distance(ward.centroid) < 1e-6


def test_default_teams_one_per_priority_ward(settings):
    teams = default_teams(settings=settings)
    assert [t.base for t in teams] == list(settings.priority_wards)
    assert teams[0].name == "Gipton & Harehills"
    assert {t.shift_min for t in teams} == {240}
    assert {t.mode for t in teams} == {"drive"}
    assert {t.start_minute for t in teams} == {16 * 60}


def test_default_teams_first_n_and_overrides(settings):
    teams = default_teams(4, shift_start="18:00", shift_min=180, mode="walk", settings=settings)
    assert len(teams) == 4
    assert {(t.start_minute, t.shift_min, t.mode) for t in teams} == {(18 * 60, 180, "walk")}


def test_default_teams_too_many(settings):
    with pytest.raises(InputError, match="7 teams asked for but the patrol_teams setting defines 6"):
        default_teams(7, settings=settings)


def test_team_setting_with_a_point(tmp_path):
    s = get_settings(tmp_path, patrol_teams=["Millgarth=-1.5365 53.7990", "E05011385"])
    teams = default_teams(settings=s)
    assert teams[0].name == "Millgarth"
    assert teams[0].base == (-1.5365, 53.799)
    assert teams[1].base == "E05011385"


def test_parse_team_spec_rejects_nonsense():
    with pytest.raises(InputError, match="BASE must be a ward code"):
        parse_team_spec("Team=somewhere")
