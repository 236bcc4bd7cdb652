"""snooze / contacted: what a rep did about a lead, so that "who should I call" stops suggesting it."""

from __future__ import annotations

from datetime import timedelta

from bot.commands import Command, patterns
from bot.commands.common import find
from bot.names import name_index
from bot.replies import Reply
from bot.router import Query
from storage.history import record_action

SNOOZE_DAYS = 7
ONLY_REPS = ("Only registered reps can snooze a lead or mark it contacted: it takes the lead off everyone's call "
             "list. Ask your Hotlead admin to add you (`hotlead import reps`).")


def handle(query: Query) -> Reply:
    """Snooze a lead or mark it contacted (registered reps only: it changes everyone's call list)."""
    if query.message.rep is None and query.message.channel != "console":
        return Reply(ONLY_REPS)
    verb = query.parts["action"].lower()
    action = "snooze" if verb.startswith("snooze") else "contacted"
    ask = "snooze {}" if action == "snooze" else "contacted {}"
    found = find(query, query.parts["who"], ask, accounts=False)
    if isinstance(found, Reply):
        return found
    lead = name_index(query.deps.engine).lead(found.key)
    assert lead is not None  # found among the index's own leads
    now = query.deps.clock()
    days = int(query.parts.get("days") or SNOOZE_DAYS)
    until = now + timedelta(days=days) if action == "snooze" else None
    rep = query.message.rep
    with query.deps.engine.begin() as conn:
        record_action(conn=conn, lead_id=lead.id, rep_id=rep.id if rep else None, action=action, moment=now,
                      until=until)
    if until is not None:
        text = f"Snoozed *{lead.name}* for {days} days: I won't suggest them until {until:%a %d %b}."
    else:
        text = f"Marked *{lead.name}* as contacted: they stay off your call list for a few days."
    return Reply(text, data={"lead": lead.external_id, "action": action, "until": until.isoformat() if until else None})


COMMAND: Command = Command(
    name="actions",
    summary="snooze a lead or mark it contacted",
    usage=("snooze Jane Doe 7 days", "contacted Jane Doe"),
    patterns=patterns(
        r"(?P<action>snooze|mute)\s+(?P<who>.+?)(?:\s+(?:for\s+)?(?P<days>\d+)\s*d(?:ays?)?)?",
        r"(?:mark\s+)?(?P<who>.+?)\s+(?P<action>as\s+contacted|contacted)",
        r"(?P<action>contacted|called|mark\s+contacted)\s+(?P<who>.+?)",
    ),
    handle=handle,
)
