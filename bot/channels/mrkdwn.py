"""Slack's text rules in one place: what comes in is decoded to the words a person typed, what goes out is
escaped, so that data (a lead named `<!channel>`, a CRM account `<https://evil.example|Evil>`) stays text.

Hotlead's own markup is `*bold*`, `_italic_`, `` `code` `` and `:emoji:`; it never writes Slack's `<…>` control
sequences, so escaping every `&`, `<` and `>` of a rendered text leaves exactly Hotlead's own markup as markup.
"""

from __future__ import annotations

import re

from bot.replies import MORE, outside_entity

_CONTROL = re.compile(r"<([^<>\n]*)>")
_SPECIAL = {"channel": "@channel", "here": "@here", "everyone": "@everyone"}


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


def shorten(text: str, limit: int) -> str:
    """An escaped text cut to `limit` characters with "…", never inside an entity."""
    if len(text) <= limit:
        return text
    return text[: outside_entity(text, limit - len(MORE))] + MORE
