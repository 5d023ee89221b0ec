"""The `hotspots` command line: one click group, so it can also sit on Flask's `app.cli`.

Each concern keeps its commands in a module of `webapp.commands`; they are registered here.
An `InputError` anywhere becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import click

from hotspots.errors import InputError
from hotspots.settings import Settings, get_settings

#: (module, attribute) of every command or command group, in the order `--help` lists them.
COMMANDS: list[tuple[str, str]] = [
    ("webapp.commands.data", "demo"),
    ("webapp.commands.data", "ingest"),
    ("webapp.commands.data", "store"),
    ("webapp.commands.data", "settings_cmd"),
    ("webapp.commands.analysis", "rank"),
    ("webapp.commands.analysis", "wards_cmd"),
    ("webapp.commands.analysis", "evaluate"),
    ("webapp.commands.routing", "network"),
    ("webapp.commands.routing", "plan"),
    ("webapp.commands.programme", "register_cmd"),
    ("webapp.commands.programme", "teams_cmd"),
    ("webapp.commands.programme", "dosage_cmd"),
    ("webapp.commands.programme", "impact_cmd"),
    ("webapp.commands.programme", "brief_cmd"),
    ("webapp.commands.serve", "serve"),
    ("webapp.commands.serve", "users"),
]


class Context:
    """What every command shares: the instance folder and, on first use, the settings."""

    def __init__(self, home: Path | None, quiet: bool) -> None:
        self.home = home
        self.quiet = quiet
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings(self.home)
        return self._settings

    def say(self, message: str) -> None:
        """Progress and announcements go to stderr so stdout stays clean for data."""
        if not self.quiet:
            click.echo(message, err=True)


class HotspotsGroup(click.Group):
    """A click group that turns `InputError` into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=HotspotsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="HOTSPOTS_HOME",
              help="Instance folder holding the store, settings and networks "
                   "[env HOTSPOTS_HOME; default ./instance].")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, quiet: bool, verbose: int) -> None:
    """Hotspots: ASB and serious-violence hotspots and patrol routes for Leeds.

    \b
    Start here:
      hotspots demo             write the synthetic demo incidents into the store
      hotspots ingest FILE...   load police.uk CSVs/zips or a force export
      hotspots store summary    what the store holds
      hotspots serve            run the web app

    Every command takes --help.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(home, quiet)


def _register() -> None:
    for module_name, attr in COMMANDS:
        module = importlib.import_module(module_name)
        cli.add_command(getattr(module, attr))


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="hotspots")
