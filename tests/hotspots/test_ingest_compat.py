"""Ids stay what earlier versions gave: the files of `data/compat` against the ids and the store
the ingest code of December 2025 wrote (see data/compat/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hotspots.ingest import read_incidents
from hotspots.settings import get_settings
from hotspots.store import IncidentStore

COMPAT = Path(__file__).parent / "data" / "compat"
EXPECTED: dict[str, list[str]] = json.loads((COMPAT / "ids.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_gives_the_ids_it_always_gave(tmp_path, name):
    frame = read_incidents(COMPAT / "files" / name, settings=get_settings(tmp_path))
    assert frame["incident_id"].tolist() == EXPECTED[name]


def test_reingest_into_a_store_written_by_the_old_code_adds_nothing(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(COMPAT / "store", home / "store")
    settings = get_settings(home)
    store = IncidentStore(home, settings=settings)
    before = store.load()
    assert len(before) == 20
    assert set(before["location"]) == {""}  # written before the column existed
    months = [COMPAT / "files" / "2024-05", COMPAT / "files" / "2024-06"]
    report = store.add(read_incidents(months, settings=settings))
    assert report.added == 0
    assert report.duplicates == 20
    assert sorted(store.load()["incident_id"]) == sorted(before["incident_id"])
