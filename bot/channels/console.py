"""Console adapter: `hotlead ask` and `hotlead chat` ask the same router as Slack and WhatsApp."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

from bot.replies import Reply, unmarked
from bot.router import Deps, IncomingMessage, dispatch
from storage.errors import NotFoundError
from storage.history import REP_KEYS, RepRow, find_rep


def as_rep(deps: Deps, who: str | None) -> RepRow | None:
    """The rep named by name, Slack id or WhatsApp number (None for nobody in particular)."""
    if not who:
        return None
    with deps.engine.connect() as conn:
        for key in REP_KEYS[:3]:
            rep = find_rep(conn=conn, key=key, value=who)
            if rep:
                return rep
    raise NotFoundError(f"no rep {who!r}: `hotlead reps` lists them")


def ask(deps: Deps, question: str, rep: RepRow | None = None) -> Reply:
    """Answer one question as `rep` (or as the console's owner)."""
    return dispatch(IncomingMessage(question, "console", rep.name if rep else "console", rep), deps)


_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # ESC sequences could rewrite the screen


def render(reply: Reply) -> str:
    """The reply for a terminal: numbered choices, no markup, and no control characters from data."""
    return _TERMINAL_CONTROL.sub("", unmarked(reply.plain(numbered=True)))


def render_once(reply: Reply, who: str | None = None) -> str:
    """The reply for one-shot `hotlead ask`, which cannot take "reply with a number": each choice with the
    `hotlead ask` line that asks it (as the same rep, `who`)."""
    text = render(replace(reply, choices=()))
    if not reply.choices:
        return text
    prefix = "hotlead ask " + (f"--as {shlex.quote(who)} " if who else "")
    lines = [f"• {unmarked(choice.label)}: {prefix}{shlex.quote(choice.question)}" for choice in reply.choices]
    return text + "\n\n" + _TERMINAL_CONTROL.sub("", "\n".join(lines))
