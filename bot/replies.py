"""What a command answers, independent of the channel that shows it (Block Kit, TwiML, plain text)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """A titled block of lines."""

    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Choice:
    """One answer to "which one did you mean?": asking `question` picks it."""

    label: str
    question: str


@dataclass(frozen=True)
class Action:
    """A button on a lead: `name` is why | snooze | contacted, `lead` its external id."""

    label: str
    name: str
    lead: str


@dataclass(frozen=True)
class Reply:
    """An answer: a headline, sections, and optionally choices to pick from or actions on a lead.

    Text uses the markup Slack and WhatsApp share (`*bold*`, `_italic_`); `data` holds the facts as
    numbers for `--json` and tests.
    """

    text: str
    sections: tuple[Section, ...] = ()
    choices: tuple[Choice, ...] = ()
    actions: tuple[Action, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def plain(self, numbered: bool = True) -> str:
        """The whole reply as text, choices numbered (what WhatsApp and the console show)."""
        parts = [self.text]
        for section in self.sections:
            heading = [f"*{section.title}*"] if section.title else []
            parts.append("\n".join([*heading, *section.lines]))
        if self.choices:
            listed = [f"{i}. {c.label}" if numbered else f"• {c.label}" for i, c in enumerate(self.choices, 1)]
            parts.append("\n".join(listed) + ("\nReply with a number." if numbered else ""))
        return "\n\n".join(parts)


_MARKUP = re.compile(r"(?<![\w*])[*_](\S(?:.*?\S)?)[*_](?![\w*])")


def unmarked(text: str) -> str:
    """Text without `*bold*` / `_italic_` markers, for a terminal."""
    return _MARKUP.sub(r"\1", text)


def split_message(text: str, limit: int) -> list[str]:
    """Split text into pieces of at most `limit` characters, at paragraph, then line, then word breaks."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = next((i for sep in ("\n\n", "\n", " ") if (i := window.rfind(sep)) > limit // 2), limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
