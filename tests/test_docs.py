"""The README cannot rot: every CLI command and every setting must be documented in it."""

from pathlib import Path

import click
import pytest

from bot.cli import cli
from bot.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: str = "hotlead") -> list[str]:
    paths = []
    context = click.Context(group)
    for name in group.list_commands(context):  # list_commands, not .commands: the CLI loads its commands lazily
        command = group.get_command(context, name)
        assert command is not None
        if command.hidden:  # e.g. `hotlead nlp read`, which `hotlead nlp "TEXT"` documents
            continue
        path = f"{prefix} {name}"
        paths.append(path)
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, path))
    return paths


@pytest.mark.parametrize("command", command_paths(cli))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"`{command}" in README, f"{command} is not documented in README.md"


@pytest.mark.parametrize("variable", Settings.variable_names())
def test_every_setting_is_in_the_readme(variable: str) -> None:
    assert f"`{variable}`" in README, f"{variable} is not documented in README.md"


def test_the_readme_starts_with_the_two_setup_commands() -> None:
    setup = README.index("make demo")
    assert setup < README.index("## Commands") and "make test" in README[:README.index("## Commands")]
