"""The `hotlead` command line: one group, commands grouped by what they work on."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import click
from sqlalchemy import Engine

from bot.config import SettingError, Settings
from scoring.errors import ScoringError
from storage.db import check_schema, make_engine
from storage.errors import ImportFileError, StorageError


@dataclass
class AppContext:
    """What every command gets: the settings (read once) and a lazily made engine."""

    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self, *, check: bool = True) -> Engine:
        """The database engine; by default the schema is checked first."""
        if self._engine is None:
            self._engine = make_engine(self.settings.hotlead_database_url)
        if check:
            check_schema(self._engine)
        return self._engine


class HotleadGroup(click.Group):
    """Turns Hotlead's own errors into one clear message and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImportFileError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(1)
        except (StorageError, ScoringError, SettingError) as exc:
            raise click.ClickException(str(exc)) from exc


def emit_json(value: Any) -> None:
    """Print machine-readable output."""
    click.echo(json.dumps(value, indent=2, default=str))


pass_app = click.make_pass_decorator(AppContext)


@click.group(cls=HotleadGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", "-v", is_flag=True, help="Log what happens, to stderr.")
@click.version_option(package_name="hotlead")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Hotlead: lead scoring and a sales assistant for Slack and WhatsApp.

    Start with `hotlead demo` for a ready database, or `hotlead init` and then `hotlead import`
    your own data. The database is HOTLEAD_DATABASE_URL (default: hotlead.db here).
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = AppContext(Settings.from_env())


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="hotlead")


from bot.cli import bench, chat, data, dev, nlp, push, push_jobs, scoring  # noqa: E402,F401  (registers the commands)
