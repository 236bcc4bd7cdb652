"""demo: open a live-demo session from chat ("demo Acme 45m"): WhatsApp alerts about the lead while it lasts."""

from __future__ import annotations

from bot.commands import Command, patterns
from bot.commands.common import find
from bot.commands.words import SOME, number
from bot.names import name_index
from bot.push.demo import start_session
from bot.replies import Reply
from bot.router import Query
from storage.history import LeadName

DEFAULT_MINUTES = 45


def handle(query: Query) -> Reply:
    """Start a demo session for the asker."""
    rep = query.message.rep
    if rep is None:
        return Reply("Only a registered rep can start a demo session (`hotlead import reps`).")
    minutes = number(query.parts.get("minutes"), 0) + 60 * number(query.parts.get("hours"), 0) or DEFAULT_MINUTES
    found = find(query, query.parts["who"], f"demo {{}} {minutes}m")
    if isinstance(found, Reply):
        return found
    index = name_index(query.deps.engine)
    lead: LeadName | None
    if found.kind == "account":
        from bot.commands.common import best_lead

        best = best_lead(query, found.id)
        if best is None:
            return Reply(f"*{found.key}* has no open lead to demo to.")
        lead = best.lead
    else:
        lead = index.lead(found.key)
    if lead is None:
        return Reply(f"I can't find {found.label} any more.")
    with query.deps.engine.begin() as conn:
        session = start_session(conn, lead_id=lead.id, rep_id=rep.id, minutes=minutes, starts_at=query.deps.clock(),
                                source=query.message.channel)
    where = rep.whatsapp or "your WhatsApp (no number on file: ask your admin to add it)"
    return Reply(f"🔴 Demo with *{lead.name}*" + (f" ({lead.account})" if lead.account else "") +
                 f" for {minutes} minutes: I'll WhatsApp {where} when they or their colleagues do something that "
                 "matters (pricing, urgency, budget, objections, competitors, new people joining).",
                 data={"session": session, "lead": lead.external_id, "minutes": minutes})


COMMAND: Command = Command(
    name="demo",
    summary="live-demo alerts on WhatsApp",
    usage=("demo Acme 45m",),
    patterns=patterns(
        r"(?:(?:i'?m|i’m|i\s+am|we're|we’re|we\s+are)\s+)?(?:(?:in|doing|giving|running|starting|start|about\s+to\s+"
        r"(?:start|do|give))\s+)?(?:a\s+|the\s+|my\s+)?(?:live\s+)?(?:demo|demoing)(?:\s+(?:with|for|to|at))?\s+(?P<who>.+?)"
        rf"(?:\s+(?:for\s+)?(?:(?P<minutes>{SOME})\s*(?:m|min|mins|minutes)|(?P<hours>{SOME})\s*(?:h|hr|hrs|hours?)))?"
        r"(?:\s+(?:now|today|right\s+now|starting\s+now))?",
    ),
    handle=handle,
)
