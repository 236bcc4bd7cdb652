"""Slack's text rules in one place: what comes in is decoded to the words a person typed, what goes out is
escaped, so that data (a lead named `<!channel>`, a CRM account `<https://evil.example|Evil>`) stays text.

Hotlead's own markup is `*bold*`, `_italic_`, `` `code` `` and `:emoji:`; it never writes Slack's `<…>` control
sequences, so escaping every `&`, `<` and `>` of a rendered text leaves exactly Hotlead's own markup as markup.
"""

from __future__ import annotations

import re

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_CONTROL = re.compile(r"<([^<>\n]*)>")
_SPECIAL = {"channel": "@channel", "here": "@here", "everyone": "@everyone"}
# Hotlead's markup spans: a cut inside one would leave a `*` open and bold the rest of the message
_SPAN = re.compile(r"(?<![\w*_`])(\*[^*\n]+\*|_[^_\n]+_|`[^`\n]+`)(?![\w*_`])")
MORE = "…"


def escape(text: str) -> str:
    """Text for any Slack text field: `&`, `<`, `>` as entities, nothing else touched."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _control(found: re.Match[str]) -> str:
    inner = found[1]
    target, _, label = inner.partition("|")
    if target.startswith("@"):  # a user mention stays one: the router knows the bot's own
        return f"<{target}>"
    if target.startswith("!"):
        name = target[1:]
        if name in _SPECIAL:
            return _SPECIAL[name]
        return label or ("@" + name.split("^")[0])  # <!subteam^S1|@sales>, <!date^…|fallback>
    if target.startswith("#"):
        return "#" + (label or target[1:])
    return label or target.removeprefix("mailto:").removeprefix("tel:")


def from_slack(text: str) -> str:
    """A message's text as its author typed it: links and channel names as their labels, `<!channel>` as
    "@channel", entities decoded (after the controls, so a typed `&lt;!here&gt;` never becomes a control)."""
    plain = _CONTROL.sub(_control, text)
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _cut_at(line: str, limit: int) -> int:
    """Where to cut a line longer than `limit`: the last space before it outside a markup span, in the second
    half (so that every cut makes progress)."""
    inside = [(m.start(), m.end()) for m in _SPAN.finditer(line)]
    for cut in range(min(limit, len(line)), limit // 2, -1):
        at_space = line[cut - 1] == " " or line[cut:cut + 1] == " "
        if at_space and not any(start < cut < end for start, end in inside):
            return cut
    return limit  # one word longer than the limit: there is no better place


def fit(text: str, limit: int) -> list[str]:
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
        cut = _outside_entity(line, cut)
        pieces.append(line[:cut].rstrip() + " " + MORE)
        lines.insert(0, MORE + " " + line[cut:].lstrip())
    if current or not pieces:
        pieces.append(current)
    return pieces


def _outside_entity(line: str, cut: int) -> int:
    start = line.rfind("&", max(0, cut - 5), cut)
    return start if start != -1 and ";" not in line[start:cut] and start > 0 else cut


def clip(text: str, limit: int, more: str) -> str:
    """The text cut to at most `limit` characters between lines (or words), ending with `more` when cut."""
    if len(text) <= limit:
        return text
    kept = fit(text, max(limit - len(more) - 1, 1))[0]
    return f"{kept}\n{more}"


def shorten(text: str, limit: int) -> str:
    """An escaped text cut to `limit` characters with "…", never inside an entity."""
    if len(text) <= limit:
        return text
    return text[: _outside_entity(text, limit - len(MORE))] + MORE
