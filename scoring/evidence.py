"""Quote what the prospect actually said behind a conversation reason."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from storage.signals import inbound_lines

# reason group -> the span kind in signal.entities that evidences it
SPAN_GROUPS = {"budget": "budget", "timeline": "timeline", "competitor": "competitors",
               "objections": "objections", "next steps": "next_steps"}
SCORE_GROUPS = ("urgency", "sentiment")
CHANNEL_NAMES = {"call": "call", "chat": "chat", "whatsapp": "WhatsApp", "email": "email", "slack": "Slack"}
LONGEST_QUOTE = 90


def _lines(engine: Engine, lead_id: int, cutoff: float) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = inbound_lines(conn=conn, lead_id=lead_id, before=cutoff)
    return [{"text": r[0], "channel": r[1], "at": r[2], "sentiment": r[3], "urgency": r[4],
             "entities": (json.loads(r[5]) if isinstance(r[5], str) else r[5]) or {}} for r in rows]


def _quote(text: str, start: int = 0, end: int | None = None) -> str:
    """The sentence around [start, end), shortened to fit a chat line."""
    end = len(text) if end is None else end
    before = text.rfind(". ", 0, start)
    left = before + 2 if before >= 0 else 0
    right = text.find(". ", end)
    sentence = text[left : right + 1 if right >= 0 else len(text)].strip()
    return sentence if len(sentence) <= LONGEST_QUOTE else sentence[: LONGEST_QUOTE - 1].rstrip() + "…"


def _said(line: dict[str, Any], quote: str) -> str:
    when = pd.Timestamp(line["at"])
    channel = CHANNEL_NAMES.get(line["channel"], line["channel"])
    return f"said '{quote}' on the {channel} of {when.day} {when:%b}"


def evidence(engine: Engine, lead_id: int, cutoff: float, groups: list[tuple[str, float]]) -> dict[str, str]:
    """For each (group, contribution) that comes from conversations, a quote of the line behind it."""
    wanted = [(g, c) for g, c in groups if g in SPAN_GROUPS or g in SCORE_GROUPS]
    if not wanted:
        return {}
    lines = _lines(engine, lead_id, cutoff)
    found: dict[str, str] = {}
    for group, contribution in wanted:
        if group in SPAN_GROUPS:
            for line in lines:  # the most recent line with a mention that is not denied
                spans = [s for s in line["entities"].get(SPAN_GROUPS[group], []) if not s.get("negated")]
                if spans:
                    found[group] = _said(line, _quote(line["text"], spans[0]["start"], spans[0]["end"]))
                    break
        elif lines:
            key = "urgency" if group == "urgency" else "sentiment"
            sign = 1.0 if contribution >= 0 or key == "urgency" else -1.0
            best = max(lines, key=lambda line: sign * (line[key] or 0.0))
            deadline = [s for s in best["entities"].get("timeline", []) if not s.get("negated")]
            if key == "urgency" and deadline:  # the sentence with the deadline says it best
                found[group] = _said(best, _quote(best["text"], deadline[0]["start"], deadline[0]["end"]))
            else:
                found[group] = _said(best, _quote(best["text"]))
    return found
