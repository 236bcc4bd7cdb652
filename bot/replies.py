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


ACTION_QUESTIONS = {"why": "why is {} hot?", "snooze": "snooze {} 7 days", "contacted": "contacted {}",
                    "hotter": "{} is hotter than this", "not_fit": "{} is not a fit",
                    "no_budget": "talked to {}: no budget"}  # each button's question, as a rep would type it


@dataclass(frozen=True)
class Action:
    """A button on a lead: `name` one of ACTION_QUESTIONS, `lead` its external id."""

    label: str
    name: str
    lead: str

    @property
    def question(self) -> str:
        """What pressing it asks."""
        return ACTION_QUESTIONS[self.name].format(self.lead)


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


# Hotlead's markup spans: a cut inside one would leave a `*` open and bold the rest of the message
_SPAN = re.compile(r"(?<![\w*_`])(\*[^*\n]+\*|_[^_\n]+_|`[^`\n]+`)(?![\w*_`])")
MORE = "…"
_MARKUP = re.compile(r"(?<![\w*])[*_](\S(?:.*?\S)?)[*_](?![\w*])")


def unmarked(text: str) -> str:
    """Text without `*bold*` / `_italic_` markers, for a terminal."""
    return _MARKUP.sub(r"\1", text)


def _cut_at(line: str, limit: int) -> int:
    """Where to cut a line longer than `limit`: the last space before it outside a markup span, in the second
    half (so that every cut makes progress)."""
    inside = [(m.start(), m.end()) for m in _SPAN.finditer(line)]
    for cut in range(min(limit, len(line)), limit // 2, -1):
        at_space = line[cut - 1] == " " or line[cut:cut + 1] == " "
        if at_space and not any(start < cut < end for start, end in inside):
            return cut
    return limit  # one word longer than the limit: there is no better place


def split_message(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut between lines where possible, else between words outside a
    markup span and never inside an entity; a line cut in two ends and resumes with "…"."""
    pieces: list[str] = []
    current = ""
    lines = text.split("\n")
    while lines:
        line = lines.pop(0)
        joined = f"{current}\n{line}" if current else line
        if len(joined) <= limit:
            current = joined
            continue
        if current:
            pieces.append(current)
            current = ""
            lines.insert(0, line)
            continue
        cut = _cut_at(line, limit - len(MORE) - 1)
        cut = outside_entity(line, cut)
        pieces.append(line[:cut].rstrip() + " " + MORE)
        lines.insert(0, MORE + " " + line[cut:].lstrip())
    if current or not pieces:
        pieces.append(current)
    return pieces


def outside_entity(line: str, cut: int) -> int:
    """`cut`, moved before an HTML entity (`&amp;`) it would split; Slack's escaped text has them."""
    start = line.rfind("&", max(0, cut - 5), cut)
    return start if start != -1 and ";" not in line[start:cut] and start > 0 else cut


def clip(text: str, limit: int, more: str) -> str:
    """The text cut to at most `limit` characters between lines (or words), ending with `more` when cut."""
    if len(text) <= limit:
        return text
    kept = split_message(text, max(limit - len(more) - 1, 1))[0]
    return f"{kept}\n{more}"
