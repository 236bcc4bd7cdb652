"""Chat commands, one module each; the router tries them in this order and `help` lists them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.replies import Reply
from bot.router import Query


@dataclass(frozen=True)
class Command:
    """A chat command: what it does, questions that work, the shapes it recognises, and its handler."""

    name: str
    summary: str
    usage: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    handle: Callable[[Query], Reply]


def patterns(*sources: str) -> tuple[re.Pattern[str], ...]:
    """Compile question shapes: case-insensitive, matched against the whole question."""
    return tuple(re.compile(source + r"\s*[?.!]*$", re.IGNORECASE) for source in sources)


from bot.commands import account, actions, call, changed, compare, demo, guide, movers, segments, top, verdict, why  # noqa: E402,E501

COMMANDS: tuple[Command, ...] = (
    guide.COMMAND, verdict.COMMAND, actions.COMMAND, compare.COMMAND, changed.COMMAND, movers.COMMAND, top.COMMAND,
    call.COMMAND, account.COMMAND, demo.COMMAND, segments.COMMAND, why.COMMAND,
)
fallback = why.fallback
