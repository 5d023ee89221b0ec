"""Forms that must never do their work twice (a double click, a page sent again).

Such a form carries a one-time token (`once_token()`, in a hidden field `once`). The first POST
with a token does the work; any other POST with the same token, while the first is still working
or after it, waits for it and gets the same answer (a redirect to what was made). The browser side
(static/forms.js) also disables the button; this is the guarantee when it could not.
Tokens are kept per process for an hour; the app runs in one process (waitress threads).
"""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import redirect, request
from flask_login import current_user

KEEP_S = 3600.0
_lock = threading.Lock()
_seen: dict[tuple[str, str], tuple[float, threading.Event, list[Any]]] = {}


def once_token() -> str:
    """A fresh token for one form."""
    return secrets.token_urlsafe(16)


def _forget_old(now: float) -> None:
    for key in [k for k, (at, event, _r) in _seen.items() if now - at > KEEP_S and event.is_set()]:
        del _seen[key]


def once(view: Callable) -> Callable:
    """Decorate a view: POSTs carrying the same `once` token (of the same user) do its work once;
    the others get the first one's redirect. A POST without a token is handled as usual."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        token = request.form.get("once", "") if request.method == "POST" else ""
        if not token or len(token) > 64:
            return view(*args, **kwargs)
        key = (str(getattr(current_user, "id", "")), token)
        now = time.monotonic()
        with _lock:
            _forget_old(now)
            seen = _seen.get(key)
            if seen is None:
                mine = (now, threading.Event(), [])
                _seen[key] = mine
        if seen is not None:
            _at, event, result = seen
            event.wait(timeout=600)
            if result:
                status, location = result[0]
                return redirect(location, code=status)
            return view(*args, **kwargs)  # the first attempt failed: this one tries again
        _at, event, result = mine
        try:
            response = view(*args, **kwargs)
        except BaseException:
            with _lock:
                _seen.pop(key, None)
            event.set()
            raise
        status = getattr(response, "status_code", None)
        if status is not None and 300 <= status < 400:
            result.append((status, response.headers.get("Location", "")))  # the same for repeats
        else:
            with _lock:
                _seen.pop(key, None)  # a refusal (a form error): the form may be sent again
        event.set()
        return response

    return wrapped
