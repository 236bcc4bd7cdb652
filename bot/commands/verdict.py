"""not a fit: a rep who talked to a lead says it is not a fit (and why); it stops the lead at once (capped cold, off
call lists, said first in `why`; the rule is in scoring/stops.py) until they say it is a fit after all."""

from __future__ import annotations

from bot.commands import Command, patterns
from bot.commands.common import lead_acted_on
from bot.replies import Reply
from bot.router import Query
from scoring.incremental import rescore_leads
from storage.history import record_action

ONLY_REPS = ("Only registered reps can mark a lead not a fit: it takes the lead off everyone's call list. Ask your "
             "Hotlead admin to add you (`hotlead import reps`).")
NOTE_CHARS = 200  # a rep's reason is kept to this length


def handle(query: Query) -> Reply:
    """Record the verdict and rescore the lead now, so that every surface shows it from the next question."""
    not_fit = query.parts["action"].lower().startswith("not")
    lead = lead_acted_on(query, "{} is not a fit" if not_fit else "{} is a fit after all", ONLY_REPS)
    if isinstance(lead, Reply):
        return lead
    note = " ".join((query.parts.get("note") or "").split())[:NOTE_CHARS] or None
    rep, now = query.message.rep, query.deps.clock()
    with query.deps.engine.begin() as conn:
        record_action(conn=conn, lead_id=lead.id, rep_id=rep.id if rep else None,
                      action="not_fit" if not_fit else "fit", moment=now, note=note)
    rescore_leads(query.deps.engine, [lead.id], now)
    if not_fit:
        text = (f"Marked *{lead.name}* not a fit" + (f" (“{note}”)" if note else "") + ": capped cold and off every "
                "call list from now on, and `why` says so first. If that changes, say "
                f"“{lead.name} is a fit after all”.")
    else:
        text = f"Noted: *{lead.name}* is a fit after all. The model's score stands again."
    return Reply(text, data={"lead": lead.external_id, "action": "not_fit" if not_fit else "fit", "note": note})


_REASON = r"(?:\s*[:;,—–-]\s*|\s+(?:because|since|as|—|-)\s+)(?P<note>.+)"
COMMAND: Command = Command(
    name="fit",
    summary="mark a lead not a fit, with your reason",
    usage=("Jane Doe is not a fit: student project", "Jane Doe is a fit after all"),
    patterns=patterns(
        rf"(?:mark\s+)?(?P<who>.+?)\s+(?:is|as|=)\s+(?P<action>not\s+a\s+(?:good\s+)?fit|no\s+fit|a\s+bad\s+fit)"
        rf"(?:{_REASON})?",
        rf"(?P<action>not\s+a\s+(?:good\s+)?fit)\s*[:,]?\s+(?P<who>.+?)(?:{_REASON})?",
        r"(?P<who>.+?)\s+is\s+(?P<action>a\s+(?:good\s+)?fit)(?:\s+after\s+all)?",
    ),
    handle=handle,
)
