"""Request parameters: the one set of validators every page and API route parses its input with.

Each validator takes the raw value (query text, form text or a JSON value) and the parameter's
name, and returns the checked value or raises `ParameterError` naming the parameter; the app turns
that into a 400 (the API's JSON error shape, or the error page). Numbers are written with ASCII
digits only (Python's `int` would also read `١٢` or `１２`; `str.isdigit` even passes `²`), and
every number is bounded, so nothing reaches the database or the calendar that could overflow.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from hotspots.errors import InputError
from hotspots.periods import Period, parse_period
from webapp.errors import ParameterError

#: Largest id of a stored row (PostgreSQL's INTEGER); a larger id in a URL matches no route (404).
MAX_ID = 2**31 - 1
#: Years a period may fall in: wide enough for any incident data, narrow enough that shifting a
#: period by a few years (trends, history, evaluation) stays inside the calendar.
FIRST_YEAR, LAST_YEAR = 1900, 2100
#: Longest text accepted for a parameter that is a name or a label.
MAX_TEXT = 200

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,12}(?:\.[0-9]{0,9})?|\.[0-9]{1,9})")
_YEAR = re.compile(r"(?:^|\.\.)\s*([0-9]{4})")


def _shown(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def integer(raw: Any, name: str, *, lo: int, hi: int, default: int | None = None) -> int | None:
    """A whole number from `lo` to `hi` (query text or a JSON integer); `default` when empty."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    expected = f"expected a whole number from {lo:,} to {hi:,}".replace(",", "")
    if isinstance(raw, bool):
        raise ParameterError(name, f"`{name}` is {_shown(raw)}; {expected}.", value=raw)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
        value = int(raw.strip())
    else:
        raise ParameterError(name, f"`{name}` is {_shown(raw)}; {expected}.", value=raw)
    if not lo <= value <= hi:
        raise ParameterError(name, f"`{name}` is {_shown(raw)}; {expected}.", value=raw)
    return value


def number(raw: Any, name: str, *, lo: float, hi: float, default: float | None = None) -> float | None:
    """A finite decimal number from `lo` to `hi` (text, a JSON number or a `Decimal` from a form)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    expected = f"expected a number from {lo:g} to {hi:g}"
    if isinstance(raw, bool):
        raise ParameterError(name, f"`{name}` is {_shown(raw)}; {expected}.", value=raw)
    if isinstance(raw, str):
        if not _DECIMAL.fullmatch(raw.strip()):
            raise ParameterError(name, f"`{name}` is {_shown(raw)}; {expected}.", value=raw)
        value = float(raw.strip())
    else:
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(name, f"`{name}` is {_shown(raw)}; {expected}.", value=raw) from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ParameterError(name, f"`{name}` is {_shown(raw)}; {expected}.", value=raw)
    return value


def choice(raw: Any, name: str, choices: Sequence[str], *, default: str | None = None) -> str:
    """One of `choices` (exactly as written there, after trimming spaces); `default` when empty."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if default is None:
            raise ParameterError(name, f"`{name}` is missing; expected one of {', '.join(choices)}.")
        return default
    value = raw.strip() if isinstance(raw, str) else raw
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(name, f"`{name}` is {_shown(raw)}; expected one of {', '.join(choices)}.",
                             value=raw)
    return value


def text(raw: Any, name: str, *, max_len: int = MAX_TEXT, default: str = "") -> str:
    """Free text of at most `max_len` characters, trimmed; `default` when missing."""
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise ParameterError(name, f"`{name}` must be text, not {_shown(raw)}.", value=raw)
    value = raw.strip()
    if len(value) > max_len or "\x00" in value:
        raise ParameterError(name, f"`{name}` is too long or holds a NUL character; at most "
                             f"{max_len} characters.", value=value[:60])
    return value


def period(raw: Any, name: str = "period", *, tz: str) -> Period:
    """An ISO week (`2025-W23`), a month (`2025-06`) or dates (`2025-06-01..2025-06-14`) in
    `FIRST_YEAR` to `LAST_YEAR`, in timezone `tz`."""
    if not isinstance(raw, str):
        raise ParameterError(name, f"`{name}` must be text such as 2025-W23 or 2025-06, not "
                             f"{_shown(raw)}.", value=raw)
    value = raw.strip()
    if len(value) > 40 or not value.isascii():
        raise ParameterError(name, f"`{name}` is {_shown(raw)}; expected an ISO week such as "
                             "2025-W23 or a month such as 2025-06, written with ASCII digits.",
                             value=raw)
    out_of_range = (f"`{name}` is {_shown(value)}; periods must fall in the years {FIRST_YEAR} to "
                    f"{LAST_YEAR}.")
    if any(not FIRST_YEAR <= int(y) <= LAST_YEAR for y in _YEAR.findall(value)):
        raise ParameterError(name, out_of_range, value=value)
    try:
        parsed = parse_period(value, tz=tz)
    except InputError as exc:
        raise ParameterError(name, f"`{name}`: {exc}", value=value) from None
    except (ValueError, OverflowError):  # a date the calendar cannot hold
        raise ParameterError(name, out_of_range, value=value) from None
    last = (parsed.end - dt.timedelta(days=1)).year
    if parsed.start.year < FIRST_YEAR or last > LAST_YEAR:
        raise ParameterError(name, out_of_range, value=value)
    return parsed


def timestamp(raw: Any, name: str, *, tz: str) -> dt.datetime | None:
    """An ISO 8601 date-time (local time in `tz` when it has no offset), as naive UTC; None when
    empty."""
    from zoneinfo import ZoneInfo

    if raw in (None, ""):
        return None
    example = "2025-07-21T16:20:00+01:00"
    if not isinstance(raw, str) or len(raw) > 40 or not raw.isascii():
        raise ParameterError(name, f"`{name}` must be an ISO 8601 date-time such as {example}.",
                             value=raw)
    try:
        value = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(name, f"`{name}` is {_shown(raw)}; expected an ISO 8601 date-time "
                             f"such as {example}.", value=raw) from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ParameterError(name, f"`{name}` is {_shown(raw)}; expected a date in the years "
                             f"{FIRST_YEAR} to {LAST_YEAR}.", value=raw)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def known(names: Iterable[str], allowed: Sequence[str], *, what: str = "query parameter") -> None:
    """Refuse a name not in `allowed` (unknown query parameters or JSON fields), naming the first."""
    for name in names:
        if name not in allowed:
            raise ParameterError(name, f"unknown {what} `{_clip(name)}`; this endpoint takes "
                                 f"{', '.join(allowed) or 'none'}.", value=name)


def check_query(allowed: Sequence[str]) -> None:
    """Refuse a query parameter of the current request not in `allowed`, naming the first."""
    known(request.args, allowed)


def one(args: Mapping[str, Any], name: str) -> Any:
    """The single value of `name` in a query (a repeated parameter is refused)."""
    getlist = getattr(args, "getlist", None)
    if getlist is not None:
        values = getlist(name)
        if len(values) > 1:
            raise ParameterError(name, f"`{name}` is given {len(values)} times; give it once.",
                                 value=values[0])
        return values[0] if values else None
    return args.get(name)


def _clip(name: str) -> str:
    return name if len(name) <= 40 else name[:37] + "..."


class IdConverter(IntegerConverter):
    """`<int:...>` in a route: ASCII digits, 0 to `MAX_ID`; anything else matches no route (404)."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 0,  # noqa: A002 - werkzeug's names
                 max: int | None = MAX_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_params(app: Flask) -> None:
    """Bound every `<int:...>` route parameter (call before the blueprints are registered)."""
    app.url_map.converters["int"] = IdConverter
