"""The command line starts light: `--help` never imports the analysis stack."""

import subprocess
import sys

import pytest

HEAVY = ("pandas", "geopandas", "scipy", "flask", "osmnx", "ortools", "shapely")


@pytest.mark.parametrize("argv", [["--help"], ["rank", "--help"], ["plan", "--help"],
                                  ["ingest", "--help"], ["serve", "--help"],
                                  ["register", "--help"], ["register", "add", "--help"],
                                  ["impact", "--help"], ["dosage", "--help"], ["teams", "--help"]])
def test_help_imports_no_heavy_package(argv):
    code = (
        "import sys\n"
        "from webapp.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().splitlines()[-1].removeprefix("LOADED=")
    assert loaded == "", f"`hotspots {' '.join(argv)}` imported {loaded}"


def test_public_names_still_resolve():
    import hotspots
    import webapp

    assert callable(hotspots.rank_hotspots)
    assert issubclass(hotspots.InputError, ValueError)
    assert callable(webapp.create_app)
    with pytest.raises(AttributeError):
        _ = hotspots.no_such_name
