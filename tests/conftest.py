"""Fixtures shared by every test package: an isolated instance folder and its settings."""

from __future__ import annotations

import pytest

from hotspots.settings import get_settings


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Point HOTSPOTS_HOME at a fresh folder so no test reads or writes ./instance."""
    home = tmp_path / "instance"
    monkeypatch.setenv("HOTSPOTS_HOME", str(home))
    for name in list(__import__("os").environ):
        if name.startswith("HOTSPOTS_") and name != "HOTSPOTS_HOME":
            monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def home(_isolated_home):
    return _isolated_home


@pytest.fixture
def settings(home):
    return get_settings(home)
