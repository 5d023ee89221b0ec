"""The web application and the `hotspots` command line.

`create_app` and `bootstrap` live in `webapp.app` and are imported on first use, so that the command
line's `--help` does not pay for Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["bootstrap", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from webapp import app

        return getattr(app, name)
    msg = f"module 'webapp' has no attribute {name!r}"
    raise AttributeError(msg)


if TYPE_CHECKING:
    from webapp.app import bootstrap, create_app
