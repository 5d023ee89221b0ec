"""Data: an analyst uploads incident files; the ingest report is shown; a bad file stores nothing.

The upload goes to a private temporary folder under its own (sanitised) name, so messages name the
file as the analyst knows it; `hotspots.ingest` checks everything before `IncidentStore.add`
commits anything, exactly as `hotspots ingest` does, and the same messages come back.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.utils import secure_filename

from hotspots.errors import InputError
from webapp.auth import role_required
from webapp.db import Upload, audit, db_session
from webapp.forms import ActionForm, UploadForm
from webapp.services import get_data

bp = Blueprint("data", __name__, url_prefix="/data")

ALLOWED_SUFFIXES = (".csv", ".zip", ".txt", ".geojson", ".json", ".gpkg", ".parquet", ".geoparquet")


def ingest_upload(storage, *, fmt: str = "auto", source: str | None = None,
                  columns: dict[str, Any] | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Read and store one uploaded file; returns the ingest report as a dict.

    Raises
    ------
    InputError
        The file is refused (the message and `problems` name the file by its uploaded name).
    """
    from hotspots.ingest import ForceColumns, Limits, read_incidents_report

    data = get_data()
    name = secure_filename(storage.filename or "") or "upload.csv"
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        msg = (f"{name}: not a file type the service reads; upload a police.uk CSV or archive zip, "
               "a force export CSV, or GeoJSON/GeoPackage/GeoParquet points.")
        raise InputError(msg)
    columns = dict(columns or {})
    dayfirst = not columns.pop("month_first", False)
    force_columns = ForceColumns.from_options(dayfirst=dayfirst, **columns)
    tmp = Path(tempfile.mkdtemp(prefix="upload-", dir=_upload_dir()))
    try:
        path = tmp / name
        storage.save(path)
        prefix = str(tmp) + "/"
        try:
            frame, read_report = read_incidents_report([path], format=fmt, columns=force_columns,
                                                       source=source or None, settings=data.settings,
                                                       progress=False,
                                                       limits=Limits.from_settings(data.settings),
                                                       first_error=dry_run)
            # The report travels separately; attrs would otherwise go into the Parquet metadata.
            frame.attrs.pop("read_report", None)
            report = data.store.add(frame, read_report=read_report, dry_run=dry_run)
        except InputError as exc:
            raise _renamed(exc, prefix) from None
        out = report.to_dict()
        out["files"] = [f.replace(prefix, "") for f in out.get("files", [])]
        out["warning_examples"] = {k: [e.replace(prefix, "") for e in v]
                                   for k, v in out.get("warning_examples", {}).items()}
        out["lines"] = [line.replace(prefix, "") for line in report.lines()] + [
            f"notice: {n.replace(prefix, '')}" for n in read_report.notices]
        out["dry_run"] = dry_run
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _renamed(exc: InputError, prefix: str) -> InputError:
    problems = [replace(p, file=p.file.replace(prefix, "")) for p in exc.problems]
    return InputError(str(exc).replace(prefix, ""), problems=problems, total=exc.total)


def remove_leftover_uploads(instance_path: str | Path) -> int:
    """Remove upload folders left by a server that stopped mid-upload; returns how many."""
    folder = Path(instance_path) / "uploads"
    left = [p for p in folder.glob("upload-*") if p.is_dir()] if folder.is_dir() else []
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    return len(left)


def _upload_dir() -> Path:
    folder = Path(current_app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@bp.route("/", methods=["GET", "POST"])
@role_required("analyst")
def upload():
    form = UploadForm()
    result = None
    refused = None
    status = 200
    if form.validate_on_submit():
        storage = form.file.data
        name = secure_filename(storage.filename or "") or "upload"
        columns = {k: form[k].data for k in ("id_col", "datetime_col", "type_col", "x_col", "y_col", "crs")}
        columns["month_first"] = form.month_first.data
        record = Upload(user_id=current_user.id, filenames=[name])
        try:
            result = ingest_upload(storage, fmt=form.format.data, source=form.source.data,
                                   columns=columns, dry_run=form.dry_run.data)
        except InputError as exc:
            refused = {"message": str(exc), "problems": [str(p) for p in exc.problems[:200]],
                       "more": max(0, len(exc.problems) - 200), "total": exc.total}
            record.accepted, record.message = False, str(exc)
            record.report = {"problems": refused["problems"]}
            status = 400
        else:
            record.accepted = True
            record.message = "dry run" if result["dry_run"] else f"{result['added']} added"
            record.report = {k: v for k, v in result.items() if k != "lines"}
        session = db_session()
        session.add(record)
        session.commit()
        audit("upload", target=name, accepted=record.accepted, message=record.message[:300],
              format=form.format.data, dry_run=form.dry_run.data,
              added=(result or {}).get("added", 0))
    elif form.is_submitted():
        status = 400
    data = get_data()
    uploads = db_session().scalars(select(Upload).order_by(Upload.id.desc()).limit(15)).all()
    return render_template("data.html", form=form, result=result, refused=refused,
                           summary=data.summary(), uploads=uploads, action_form=ActionForm(),
                           coverage=data.coverage().describe(),
                           limit_mb=data.settings.upload_limit_mb), status


@bp.route("/remove-demo", methods=["POST"])
@role_required("analyst")
def remove_demo():
    """Take the synthetic demo incidents out of the store (once real data is loaded)."""
    if not ActionForm().validate_on_submit():
        abort(400, description="The form has expired; reload the page.")
    removed = get_data().store.remove(source="demo")
    audit("demo_removed", target="store", removed=removed)
    flash(f"Removed {removed:,} demo incidents from the store.", "success")
    return redirect(url_for("data.upload"))
