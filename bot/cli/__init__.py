"""The `hotlead` command line: one group, commands grouped by what they work on."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from bot.config import SettingError, Settings
from scoring.errors import ScoringError
from storage.errors import ImportFileError, StorageError

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Which module defines each command. A command's module is imported only when the command runs (or help lists
# them all), so `hotlead nlp "…"` in rules mode does not pay for SQLAlchemy, the models and the chat.
COMMAND_MODULES = {
    "alerts": "push", "ask": "chat", "bench": "bench", "chat": "chat", "demo": "data", "demo-session": "push",
    "dev": "dev", "digest": "push_jobs", "import": "data", "init": "data", "model": "scoring", "nlp": "nlp",
    "reps": "chat", "score": "scoring", "serve": "chat", "top": "scoring", "train": "scoring", "why": "scoring",
    "experiment": "scoring", "segments": "scoring", "connect": "crm", "sync": "crm",
}


@dataclass
class AppContext:
    """What every command gets: the settings (read once) and a lazily made engine."""

    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self, *, check: bool = True) -> Engine:
        """The database engine; by default the schema is checked first."""
        from storage.db import check_schema, make_engine

        if self._engine is None:
            self._engine = make_engine(self.settings.hotlead_database_url)
        if check:
            check_schema(self._engine)
        return self._engine


class HotleadGroup(click.Group):
    """Loads each command's module on first use, and turns Hotlead's own errors into one clear message and a
    non-zero exit, never a traceback."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"bot.cli.{COMMAND_MODULES[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in sorted(set(COMMAND_MODULES.values())):
            importlib.import_module(f"bot.cli.{module}")
        return super().list_commands(ctx)

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
