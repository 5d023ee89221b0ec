"""Uploads: good files are stored with their report; bad ones are refused with the CLI's words and
nothing is stored; the size limit; the audit log."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.webapp.conftest import DEMO_END, csrf_token


@pytest.fixture(scope="module")
def policeuk_files(tmp_path_factory) -> list[Path]:
    """Two police.uk-format monthly CSVs (synthetic incidents of a different seed, without the
    Context that marks them synthetic: they stand for a real download)."""
    from hotspots.demo import generate_demo, write_policeuk_csv
    from hotspots.ingest.policeuk import DEMO_CONTEXT
    from hotspots.settings import get_settings

    folder = tmp_path_factory.mktemp("policeuk")
    settings = get_settings(folder)
    incidents = generate_demo(seed=11, weeks=3, end=DEMO_END, settings=settings)
    files = sorted(write_policeuk_csv(incidents, folder / "csv"))
    for path in files:
        path.write_text(path.read_text(encoding="utf-8").replace(DEMO_CONTEXT, ""), encoding="utf-8")
    return files


def _store_state(app):
    data = app.extensions["hotspots_data"]
    return data.store_version(), len(data.store)


def _upload(c, content: bytes, name: str, **fields):
    token = csrf_token(c, "/data/")
    data = {"csrf_token": token, "format": "auto", **fields,
            "file": (io.BytesIO(content), name)}
    return c.post("/data/", data=data, content_type="multipart/form-data")


def _uploads(app):
    from webapp.db import AuditEntry, Upload, db_session

    with app.app_context():
        s = db_session()
        return ([(u.filenames, u.accepted, u.message) for u in s.query(Upload)],
                [(e.action, e.target, e.detail.get("accepted")) for e in s.query(AuditEntry).filter_by(action="upload")])


def test_upload_policeuk_csv(app, as_role, policeuk_files):
    c = as_role("analyst")
    before = _store_state(app)
    path = policeuk_files[-1]
    response = _upload(c, path.read_bytes(), path.name)
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text[:2000]
    assert "Stored:" in text and "rows read:" in text and "added:" in text
    after = _store_state(app)
    assert after[0] != before[0] and after[1] > before[1]
    uploads, audit = _uploads(app)
    assert uploads == [([path.name], True, f"{after[1] - before[1]} added")]
    assert audit == [("upload", path.name, True)]
    # The same file again adds nothing (ingest is idempotent).
    again = _upload(c, path.read_bytes(), path.name)
    assert "Stored: 0 incidents added." in again.get_data(as_text=True)
    assert _store_state(app)[1] == after[1]


def test_upload_policeuk_zip_and_new_data_shows(app, as_role, token_for, policeuk_files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in policeuk_files:
            month = path.name[:7]
            archive.write(path, f"{month}/{path.name}")
    c = as_role("analyst")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token_for('viewer')}"}
    before = api.get("/api/v1/wards?period=2025-07", headers=headers).get_json()
    response = _upload(c, buffer.getvalue(), "police-uk-archive.zip")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    after = api.get("/api/v1/wards?period=2025-07", headers=headers).get_json()
    total = lambda body: sum(w["count"] for w in body["wards"])  # noqa: E731
    assert total(after) > total(before)  # the cache follows the store


def test_dry_run_stores_nothing(app, as_role, policeuk_files):
    before = _store_state(app)
    response = _upload(as_role("analyst"), policeuk_files[0].read_bytes(), policeuk_files[0].name,
                       dry_run="y")
    assert response.status_code == 200
    assert "Checked (dry run): nothing stored." in response.get_data(as_text=True)
    assert _store_state(app) == before


BAD_FILES = {
    "missing-columns.csv": b"Crime ID,Month,Longitude\nabc,2025-06,-1.5\n",
    "bad-values.csv": (b"Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
                       b"LSOA name,Crime type,Last outcome category,Context\n"
                       b"a1,2025-13,West Yorkshire Police,West Yorkshire Police,-1.5,53.8,On or near X,"
                       b"E01,Leeds 1,Burglary,,\n"
                       b"a2,2025-06,West Yorkshire Police,West Yorkshire Police,53.8,-1.5,On or near X,"
                       b"E01,Leeds 1,Burglary,,\n"),
    "empty.csv": b"",
    "binary.csv": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_refused_with_the_cli_message(app, as_role, home, tmp_path, name):
    from webapp.cli import cli

    content = BAD_FILES[name]
    before = _store_state(app)
    response = _upload(as_role("analyst"), content, name)
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The file was refused; nothing was stored." in text
    assert _store_state(app) == before
    # The CLI says the same about the same file (its message names the path it was given).
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(cli, ["--home", str(home), "ingest", str(path)])
    assert result.exit_code == 2
    cli_message = result.output.strip().splitlines()[-1].removeprefix("error: ")
    expected = cli_message.replace(str(path), name)
    from markupsafe import escape

    assert str(escape(expected)) in text, (expected, text[text.find("refused"):][:1500])
    uploads, audit = _uploads(app)
    assert uploads[-1][:2] == ([name], False)
    assert audit[-1] == ("upload", name, False)


def test_wrong_kind_of_file(app, as_role):
    before = _store_state(app)
    response = _upload(as_role("analyst"), b"MZ\x90\x00", "tool.exe")
    assert response.status_code == 400
    assert "not a file type the service reads" in response.get_data(as_text=True)
    assert _store_state(app) == before


def test_upload_size_limit(app, as_role, policeuk_files):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    c = as_role("analyst")
    before = _store_state(app)
    response = _upload(c, policeuk_files[0].read_bytes(), policeuk_files[0].name)
    assert response.status_code == 413
    assert "larger than the limit" in response.get_data(as_text=True)
    assert _store_state(app) == before


def test_upload_limit_comes_from_the_setting(home):
    from tests.webapp.conftest import make_app

    application = make_app(home, SETTINGS={"upload_limit_mb": 3})
    assert application.config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024
    assert make_app(home).config["MAX_CONTENT_LENGTH"] == 200 * 1024 * 1024


def test_upload_needs_a_file(as_role):
    c = as_role("analyst")
    response = c.post("/data/", data={"csrf_token": csrf_token(c, "/data/"), "format": "auto"})
    assert response.status_code == 400
    assert "Choose a file to upload." in response.get_data(as_text=True)


def test_remove_demo_incidents(app, as_role, policeuk_files):
    c = as_role("analyst")
    _upload(c, policeuk_files[0].read_bytes(), policeuk_files[0].name)
    assert "Remove the demo incidents" in c.get("/data/").get_data(as_text=True)
    response = c.post("/data/remove-demo", data={"csrf_token": csrf_token(c, "/data/")})
    assert response.status_code == 302
    data = app.extensions["hotspots_data"]
    assert not data.is_demo() and len(data.store) > 0
    assert "Demo data." not in c.get("/map?period=2025-07").get_data(as_text=True)
    from webapp.db import AuditEntry, db_session

    with app.app_context():
        entry = db_session().query(AuditEntry).filter_by(action="demo_removed").one()
        assert entry.detail["removed"] > 0 and entry.username == "analyst"


@pytest.mark.parametrize("limit", ["upload_max_rows", "upload_max_ratio"])
def test_upload_limits_refuse_and_store_nothing(app, as_role, tmp_path, limit):
    from dataclasses import replace

    from tests.hotspots.test_ingest_limits import bomb, rows_csv

    data = app.extensions["hotspots_data"]
    if limit == "upload_max_rows":
        data.settings = replace(data.settings, upload_max_rows=5)
        path, words = rows_csv(tmp_path), "more than 5 rows (setting upload_max_rows)"
    else:
        path, words = bomb(tmp_path), "unzips to more than 100 times its compressed size"
    before = _store_state(app)
    response = _upload(as_role("analyst"), path.read_bytes(), path.name)
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert words in text and "The file was refused; nothing was stored." in text
    assert _store_state(app) == before
    assert not list((Path(app.instance_path) / "uploads").glob("upload-*"))


def test_leftover_uploads_are_removed_at_start(home):
    from tests.webapp.conftest import make_app

    left = home / "uploads" / "upload-abc123"
    left.mkdir(parents=True)
    (left / "big.zip").write_bytes(b"PK" * 100)
    make_app(home)
    assert not left.exists() and (home / "uploads").is_dir()


def test_refusal_counts_every_problem(app, as_role, tmp_path):
    from tests.hotspots.test_ingest import crime, policeuk_text

    content = policeuk_text([crime(f"{i:064x}", month="bad") for i in range(250)]).encode()
    response = _upload(as_role("analyst"), content, "x.csv")
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "All 250 problems" in text and "(and 249 more problems: unparseable month)" in text
    assert "150 more rows like this (unparseable month)" in text
