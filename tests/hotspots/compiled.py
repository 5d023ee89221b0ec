"""The optional C extensions of ingest in tests: skipped where they were not built, except on CI
(HOTSPOTS_REQUIRE_COMPILED=1), where a missing one fails."""

from __future__ import annotations

import os

import pytest


def compiled(module, name: str):
    """`module` (the import of hotspots.`name`, None when it was not built), or skip or fail."""
    if module is None:
        why = f"hotspots.{name} was not built at install"
        if os.environ.get("HOTSPOTS_REQUIRE_COMPILED"):
            pytest.fail(f"{why} (C compiler or Python headers missing)")
        pytest.skip(f"{why} (no C compiler)")
    return module
