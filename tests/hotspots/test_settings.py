"""Settings: every error names the key and what is allowed; then the resolved values."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotspots import InputError, get_settings
from hotspots.settings import (
    DEFAULT_HARM_DAYS,
    PRIORITY_WARDS,
    SETTINGS,
    Settings,
    describe_settings,
)


def write_toml(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "hotspots.toml").write_text(text, encoding="utf-8")


def test_unknown_key_names_the_key_and_the_known_ones(home):
    write_toml(home, "h3_res = 9\n")
    with pytest.raises(InputError, match=r"unknown setting 'h3_res'; known settings: .*h3_resolution"):
        get_settings(home)


def test_bad_choice_lists_allowed_values(home):
    write_toml(home, 'unknown_crime_type = "drop"\n')
    with pytest.raises(InputError, match=r"'unknown_crime_type' is 'drop'; allowed values: other, error"):
        get_settings(home)


def test_out_of_range_and_wrong_type(home):
    write_toml(home, "h3_resolution = 20\n")
    with pytest.raises(InputError, match=r"'h3_resolution' is 20; allowed values: 5 to 13"):
        get_settings(home)
    write_toml(home, 'h3_resolution = "ten"\n')
    with pytest.raises(InputError, match=r"'h3_resolution' is 'ten'; expected a whole number"):
        get_settings(home)
    write_toml(home, 'exclude_btp = "maybe"\n')
    with pytest.raises(InputError, match=r"'exclude_btp' is 'maybe'; expected true or false"):
        get_settings(home)


def test_bad_category_and_timezone(home):
    write_toml(home, '[categories]\n"Dog fouling" = "nuisance"\n')
    with pytest.raises(InputError, match=r"category names from asb, serious_violence, other \(got 'nuisance'"):
        get_settings(home)
    write_toml(home, 'timezone = "Europe/Leeds"\n')
    with pytest.raises(InputError, match=r"'timezone' is invalid; expected a timezone name"):
        get_settings(home)


def test_invalid_toml(home):
    write_toml(home, "h3_resolution = \n")
    with pytest.raises(InputError, match=r"hotspots.toml: not valid TOML"):
        get_settings(home)


def test_environment_variable_errors_name_the_variable(home, monkeypatch):
    monkeypatch.setenv("HOTSPOTS_H3_RESOLUTION", "abc")
    with pytest.raises(InputError, match=r"environment HOTSPOTS_H3_RESOLUTION: setting 'h3_resolution'"):
        get_settings(home)


def test_defaults(home):
    s = get_settings(home)
    assert s.home == home
    assert s.priority_wards == PRIORITY_WARDS and len(s.priority_wards) == 6
    assert s.h3_resolution == 10 and s.timezone == "Europe/London"
    assert s.category_of("Anti-social behaviour") == "asb"
    assert s.category_of("Violence and sexual offences") == "serious_violence"
    assert s.category_of("Robbery") == "serious_violence"
    assert s.category_of("Possession of weapons") == "serious_violence"
    assert s.category_of("Shoplifting") == "other"
    assert s.category_of("  anti-social BEHAVIOUR ") == "asb"  # case and spaces forgiven
    assert s.category_of("Something new") is None
    assert s.harm_of("Robbery", "serious_violence") == 365.0
    assert s.harm_of("Violence and sexual offences", "serious_violence") == pytest.approx(194.21)
    assert s.harm_of("Anti-social behaviour", "asb") == s.asb_harm_days == 1.0
    assert s.harm_of("Something new", "other") == s.unknown_harm_days


def test_toml_overrides_merge_into_tables(home, monkeypatch):
    write_toml(home, 'asb_harm_days = 3.5\npriority_wards = ["E05011385"]\n'
                     '[categories]\n"Dog fouling" = "asb"\n[harm_days]\n"Robbery" = 400\n')
    monkeypatch.setenv("HOTSPOTS_H3_RESOLUTION", "9")
    s = get_settings(home)
    assert s.asb_harm_days == 3.5 and s.priority_wards == ("E05011385",)
    assert s.category_of("Dog fouling") == "asb" and s.harm_of("Dog fouling", "asb") == 3.5
    assert s.category_of("Robbery") == "serious_violence"  # defaults kept
    assert s.harm_of("Robbery", "serious_violence") == 400.0
    assert s.harm_of("Burglary", "other") == DEFAULT_HARM_DAYS["Burglary"]
    assert s.h3_resolution == 9 and s.source_file == home / "hotspots.toml"


def test_keyword_overrides_win_and_are_checked(home):
    assert get_settings(home, h3_resolution=9).h3_resolution == 9
    with pytest.raises(InputError, match="unknown setting 'colour'"):
        get_settings(home, colour="red")


def test_every_default_comes_from_the_one_table_and_is_documented(tmp_path):
    resolved = get_settings(tmp_path / "empty-home")
    bare = Settings(home=tmp_path)
    text = describe_settings()
    for spec in SETTINGS:
        assert getattr(resolved, spec.name) == spec.default, spec.name
        assert getattr(bare, spec.name) == spec.default, spec.name
        row = next(line for line in text.splitlines() if line.startswith(f"| `{spec.name}` |"))
        assert spec.doc in row
    # Tables are copied per Settings: changing one never changes the declared default.
    bare.categories["Made up"] = "asb"
    assert "Made up" not in SETTINGS[[s.name for s in SETTINGS].index("categories")].default
