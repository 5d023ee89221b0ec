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


@pytest.fixture(scope="session")
def policeuk_stores(tmp_path_factory):
    """`policeuk_stores(months, seed=0, **kw)`: the `store` folder of police.uk files for `months`
    made by `tests.policeuk.build_store` (once per session and arguments; copy it, never change it)."""
    from tests.policeuk import build_store

    made: dict = {}

    def make(months, **kw):
        key = (tuple([months] if isinstance(months, str) else months),
               tuple(sorted((k, repr(v)) for k, v in kw.items())))
        if key not in made:
            home = tmp_path_factory.mktemp("policeuk-home")
            build_store(home, list(key[0]), settings=get_settings(home), **kw)
            made[key] = home / "store"
        return made[key]

    return make


@pytest.fixture
def policeuk_home(home, policeuk_stores):
    """`policeuk_home(months, **kw)`: this test's instance folder holding a copy of that store."""
    import shutil

    def make(months, **kw):
        if (home / "store").exists():
            shutil.rmtree(home / "store")
        shutil.copytree(policeuk_stores(months, **kw), home / "store")
        return home

    return make
