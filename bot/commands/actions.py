"""snooze / contacted: what a rep did about a lead, so that "who should I call" stops suggesting it."""

from __future__ import annotations

from datetime import timedelta

from bot.commands import Command, patterns
from bot.commands.common import lead_acted_on
from bot.commands.words import SPAN, span_days
from bot.replies import Reply
from bot.router import Query
from storage.history import record_action

SNOOZE_DAYS = 7
ONLY_REPS = ("Only registered reps can snooze a lead or mark it contacted: it takes the lead off everyone's call "
             "list. Ask your Hotlead admin to add you (`hotlead import reps`).")


def handle(query: Query) -> Reply:
    """Snooze a lead or mark it contacted (registered reps only: it changes everyone's call list)."""
    verb = query.parts["action"].lower()
    action = "snooze" if verb.startswith(("snooze", "mute", "hide", "pause", "remind")) else "contacted"
    lead = lead_acted_on(query, "snooze {}" if action == "snooze" else "contacted {}", ONLY_REPS)
    if isinstance(lead, Reply):
        return lead
    now = query.deps.clock()
    parts = query.parts
    days = span_days(parts) or SNOOZE_DAYS
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


_DONE = (r"called|phoned|rang|emailed|e-mailed|messaged|texted|pinged|contacted|reached|met(?:\s+with)?|"
         r"(?:spoke|spoken|talked|chatted)\s+(?:to|with)")
_WHEN = r"(?:today|just\s+now|this\s+morning|this\s+afternoon|yesterday|earlier)"
_FOR = rf"(?:\s+(?:for\s+)?{SPAN})?"
_IN = rf"\s+(?:in|after)\s+{SPAN}"
COMMAND: Command = Command(
    name="actions",
    summary="snooze a lead or mark it contacted",
    usage=("snooze Jane Doe 7 days", "contacted Jane Doe"),
    patterns=patterns(
        rf"(?P<action>snooze|mute|hide|pause)\s+(?P<who>.+?){_FOR}",
        rf"(?P<action>remind)\s+me\s+(?:about|of|to\s+call|to\s+follow\s+up\s+with)\s+(?P<who>.+?){_IN}",
        r"(?:mark\s+)?(?P<who>.+?)\s+(?P<action>as\s+contacted|contacted)",
        r"(?P<action>contacted|called|mark\s+contacted)\s+(?P<who>.+?)",
        rf"(?:i\s+|we\s+)?(?:just\s+|already\s+)?(?:have\s+|'ve\s+)?(?P<action>{_DONE})\s+(?P<who>.+?)(?:\s+{_WHEN})?",
    ),
    handle=handle,
)
