"""Rep feedback: a rep who talked to a lead says what the model cannot know ("not a fit: student project",
"hotter than this", "talked: no budget") or takes it back ("a fit after all", "unpin"). Typed, or from the
buttons under every lead answer and alert. Stored with who, when, why and until when; the lead is rescored at
once, so every surface shows it (what each verdict does is in scoring/feedback.py and scoring/stops.py)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from dateutil import parser as dates

from bot.commands import Command, patterns
from bot.commands.common import lead_acted_on
from bot.commands.words import SPAN, span_days
from bot.replies import Reply
from bot.router import Query
from scoring.feedback import PIN_DAYS, PINS
from scoring.incremental import rescore_leads
from storage.history import record_action

ONLY_REPS = ("Only registered reps can give feedback on a lead: it changes its band on everyone's lists. Ask your "
             "Hotlead admin to add you (`hotlead import reps`).")
NOTE_CHARS = 200  # a rep's reason is kept to this length
ASK = {"not_fit": "{} is not a fit", "fit": "{} is a fit after all", "hotter": "{} is hotter than this",
       "no_budget": "talked to {}: no budget"}


def _verdict(said: str) -> str:
    said = " ".join(said.lower().split())
    if "budget" in said:
        return "no_budget"
    if "hot" in said:
        return "hotter"
    if said.startswith(("not", "no ", "a bad")):
        return "not_fit"
    return "fit"  # "a fit after all", "unpin"


def until_of(parts: dict[str, str | None], verdict: str, now: datetime) -> datetime | None | str:
    """When a pin ends: the date the rep named ("until 20 Dec", "for 2 weeks"), else PIN_DAYS on; None for a
    verdict that pins nothing; the words back (a str) when they are not a date."""
    if verdict not in PINS:
        return None
    if days := span_days(parts):
        return now + timedelta(days=days)
    named = parts.get("until")
    if not named:
        return now + timedelta(days=PIN_DAYS[verdict])
    try:
        day = dates.parse(named, default=now.replace(tzinfo=None)).date()
    except (ValueError, OverflowError):
        return named
    if day < now.date():  # "until 5 Jan" said in December
        day = day.replace(year=day.year + 1)
    return datetime.combine(day, time(23, 59), tzinfo=now.tzinfo)


def handle(query: Query) -> Reply:
    """Record the verdict and rescore the lead now."""
    verdict = _verdict(query.parts["action"])
    lead = lead_acted_on(query, ASK[verdict], ONLY_REPS)
    if isinstance(lead, Reply):
        return lead
    note = " ".join((query.parts.get("note") or "").split())[:NOTE_CHARS] or None
    rep, now = query.message.rep, query.deps.clock()
    until = until_of(query.parts, verdict, now)
    if isinstance(until, str):
        return Reply(f"I could not read “{until}” as a date: say e.g. “until 20 Dec” or “for 2 weeks”.")
    if until is not None and until <= now:
        return Reply("That date has passed: a pin needs a date ahead, e.g. “until 20 Dec” or “for 2 weeks”.")
    with query.deps.engine.begin() as conn:
        record_action(conn=conn, lead_id=lead.id, rep_id=rep.id if rep else None, action=verdict, moment=now,
                      until=until, note=note)
    rescore_leads(query.deps.engine, [lead.id], now)
    quoted = f" (“{note}”)" if note else ""
    undo = f"If that changes, say “{lead.name} is a fit after all”."
    if verdict == "not_fit":
        text = (f"Marked *{lead.name}* not a fit{quoted}: capped cold and off every call list from now on, and "
                f"`why` says so first. {undo}")
    elif verdict in PINS and until is not None:
        text = (f"Marked *{lead.name}* {'hotter than its score' if verdict == 'hotter' else 'no budget'}{quoted}: "
                f"band pinned {PINS[verdict]} until {until:%a %-d %b}, `why` shows it, and the next retraining "
                f"learns from it. To let the model's band stand again, say “unpin {lead.name}”.")
    else:
        text = f"Noted: *{lead.name}* is back to the model's score and band."
    return Reply(text, data={"lead": lead.external_id, "action": verdict, "note": note,
                             "until": until.isoformat() if until is not None else None})


_REASON = r"(?:\s*[:;,—–-]\s*|\s+(?:because|since|as|—|-)\s+)(?P<note>.+)"
_UNTIL = rf"(?:\s+(?:until|till|til|through|to)\s+(?P<until>[\w ,./-]+?)|\s+for\s+{SPAN})?"
_HOTTER = r"hotter(?:\s+than\s+(?:this|that|it\s+looks|(?:its|the|their)\s+score|scored|you\s+think))?"
_BUDGET = r"(?:has\s+)?no\s+budget|(?:has\s+)?not\s+got\s+(?:a\s+|the\s+|any\s+)?budget"
COMMAND: Command = Command(
    name="fit",
    summary="feedback on a lead: not a fit, hotter than this, no budget (with your reason)",
    usage=("Jane Doe is not a fit: student project", "Jane Doe is hotter than this: spoke today",
           "talked to Jane Doe: no budget", "unpin Jane Doe"),
    patterns=patterns(
        rf"(?:mark\s+)?(?P<who>.+?)\s+(?:is|as|=)\s+(?P<action>not\s+a\s+(?:good\s+)?fit|no\s+fit|a\s+bad\s+fit)"
        rf"(?:{_REASON})?",
        rf"(?P<action>not\s+a\s+(?:good\s+)?fit)\s*[:,]?\s+(?P<who>.+?)(?:{_REASON})?",
        r"(?P<who>.+?)\s+is\s+(?P<action>a\s+(?:good\s+)?fit)(?:\s+after\s+all)?",
        r"(?P<action>unpin)\s+(?P<who>.+?)",
        rf"(?:mark\s+)?(?P<who>.+?)\s+(?:is|as)\s+(?P<action>{_HOTTER}){_UNTIL}(?:{_REASON})?",
        rf"(?P<action>hotter)\s*:\s*(?P<who>.+?){_UNTIL}(?:{_REASON})?",
        rf"(?:talked|spoke|spoken|chatted)\s+(?:to|with)\s+(?P<who>.+?)\s*[:,;—–-]\s*(?P<action>{_BUDGET}){_UNTIL}"
        rf"(?:{_REASON})?",
        rf"(?P<who>.+?)\s+(?P<action>{_BUDGET}){_UNTIL}(?:{_REASON})?",
        rf"(?P<action>no\s+budget)\s*:\s*(?P<who>.+?){_UNTIL}(?:{_REASON})?",
    ),
    handle=handle,
)
