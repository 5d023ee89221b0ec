"""Police.uk street-level CSVs (a monthly file per force, as police.uk publishes them, or as a
spreadsheet saved them again): one incident per row, at the month's first instant."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hotspots.ingest import checks
from hotspots.ingest.checks import FileState, trim
from hotspots.ingest.sources import CsvHead, CsvRows, Source, blank_rows, read_csv

#: The header of a police.uk street-level CSV.
POLICEUK_COLUMNS: tuple[str, ...] = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)
REQUIRED = ("Crime ID", "Month", "Longitude", "Latitude", "Crime type")
#: The fields a row without a Crime ID (ASB) is known by, in this order (those the file has).
#: The others follow from these (Falls within from the force, Location and LSOA from the map
#: point, and LSOA codes were revised in 2023) or change when police.uk republishes a month (the
#: outcome), so none of them may change an incident's id.
ID_FIELDS = ("Month", "Reported by", "Longitude", "Latitude", "Crime type", "Context")
BTP = "British Transport Police"
#: The Context of the rows `hotspots demo --police-uk-csv` writes: read back, they are stored with
#: source `demo`, so synthetic incidents stay labelled synthetic.
DEMO_CONTEXT = "SYNTHETIC demo incident (hotspots demo), not a real crime"


def key(name: str) -> str:
    """A column name compared loosely: letters and digits only, case folded."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def read(src: Source, head: CsvHead, ctx) -> dict | None:
    keys = [key(h) for h in head.header]
    where = {c: keys.index(key(c)) for c in POLICEUK_COLUMNS if key(c) in keys}
    missing = [c for c in REQUIRED if c not in where]
    if missing:
        ctx.missing_columns(src.name, missing, head.header)
        return None
    include = sorted(set(where[c] for c in ("Crime ID", *ID_FIELDS, "Location") if c in where))

    def process(rows: CsvRows) -> dict | None:
        return _read(rows, where, ctx)

    return read_csv(src, head, include, ctx.budget, ctx.advance, process)


def _read(rows: CsvRows, where: dict[str, int], ctx) -> dict | None:
    name, settings = rows.src.name, ctx.settings
    state = FileState(name, ctx.problems)
    forms: dict[str, int] = {}  # month form -> first position using it
    for batch in rows:
        ctx.budget.take_rows(rows.src, batch.num_rows)
        col = {c: batch.column(f"c{i}") for c, i in where.items() if f"c{i}" in batch.schema.names}
        n, off = batch.num_rows, state.offset
        blank = blank_rows(batch)
        active = ~blank
        state.report.rows_read += int(active.sum())
        if "Reported by" in col and settings.exclude_btp:
            btp = pc.equal(pc.utf8_lower(trim(col["Reported by"])), BTP.lower())
            btp = btp.to_numpy(zero_copy_only=False) & active
            state.report.exclude(BTP, int(btp.sum()))
            active &= ~btp

        month_codes, month_words = checks.encode(trim(col["Month"]))
        parsed = [checks.month_of(w) for w in month_words.to_pylist()]
        bad_month = np.array([p is None for p in parsed], dtype=bool)[month_codes]
        ctx.problems.rows(name, np.flatnonzero(bad_month & active) + off, "Month",
                          lambda p, m=col["Month"], off=off: checks.texts(m)(p - off),
                          "is not a month like 2024-05", "unparseable month")
        month_form = np.array([p[0] if p else "" for p in parsed], dtype=object)[month_codes]
        for form in set(month_form[active & ~bad_month]):
            forms.setdefault(form, off + int(np.argmax(month_form == form)))
        month_ns = np.array([checks.month_start_ns(p[1], settings.timezone) if p else 0
                             for p in parsed], dtype=np.int64)[month_codes]

        points = checks.points(col["Longitude"], col["Latitude"], checks.LONLAT, file=name,
                               offset=off, active=active, names=("Longitude", "Latitude"),
                               problems=ctx.problems, project=ctx.project)
        state.report.exclude("no location", int((points.none & active).sum()))
        active &= ~points.none
        types = checks.crime_types(col["Crime type"], settings)
        checks.type_problems(types, file=name, offset=off, active=active, column="Crime type",
                             settings=settings, problems=ctx.problems, warn=state.warn)
        own = trim(col["Crime ID"])
        no_id = checks.empty(own)
        keep = active & points.good & ~bad_month & ~types.empty
        derive = no_id & ~blank
        if derive.any():
            state.keys.append(_keys(col, np.flatnonzero(derive), parsed, month_codes))
            state.keys_kept.append(keep[derive])
        demo = (pc.equal(trim(col["Context"]), DEMO_CONTEXT).to_numpy(zero_copy_only=False)
                if "Context" in col else np.zeros(n, dtype=bool))
        state.keep(keep, own_id=own, missing=derive, ns=month_ns, type=types.label, demo=demo,
                   category=types.category, harm=types.harm, x=points.x, y=points.y,
                   location=trim(col["Location"]) if "Location" in col else pa.array([""] * n),
                   pos=np.arange(off, off + n))
        state.offset += n
        if ctx.first_error and ctx.problems:
            break

    if len(forms) > 1:
        (a, ra), (b, rb) = sorted(forms.items(), key=lambda kv: kv[1])[:2]
        rn = rows.rownum(np.array([ra, rb]))
        ctx.problems.add(checks.Problem(
            name, None, "Month", None, f"mixes month forms: {a} (row {rn[0]}) and {b} (row "
            f"{rn[1]}); save every month the same way (police.uk writes 2024-05)", "mixed months"))
    elif forms and next(iter(forms)) != "2025-02":
        state.report.notices.append(
            f"{name}: column 'Month' is written like {next(iter(forms))} (as a spreadsheet saves "
            "it); read as the months police.uk means (YYYY-MM)")
    demo = int(state.column("demo").sum())
    if demo:
        state.report.notices.append(f"{name}: {demo:,} rows are synthetic demo incidents (their "
                                    "Context says so), stored with source demo")
    ctx.malformed(rows)
    return state.finish(rows.rownum, "Crime ID", lambda pos: ctx.full_rows(rows, pos))


def _keys(col: dict[str, pa.Array], pos: np.ndarray, parsed: list, month_codes: np.ndarray,
          ) -> pa.Array:
    """The text an ASB row's id is derived from: its `ID_FIELDS` joined (coordinates written
    canonically, a month a spreadsheet rewrote as police.uk writes it)."""
    take = pa.array(pos)
    fields = []
    for name in ID_FIELDS:
        if name not in col:
            continue
        values = trim(col[name].take(take))
        if name == "Month":
            words = [(w if p is None or p[0] == "2025-02" else p[1]) for w, p in zip(
                checks.encode(trim(col["Month"]))[1].to_pylist(), parsed, strict=True)]
            values = pa.array(words, pa.string()).take(pa.array(month_codes[pos]))
        elif name in ("Longitude", "Latitude"):
            codes, words = checks.encode(values)
            number, _, _ = checks.numbers(words)
            values = pa.array(checks.coordinate_text(number), pa.string()).take(pa.array(codes))
        fields.append(values)
    return checks.join_fields(fields)
