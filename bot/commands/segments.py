"""segments: the groups of leads the last training found (scoring/segments.py), best converting first, and which
one a lead (or an account's best lead) is in."""

from __future__ import annotations

from typing import Any

from bot.commands import Command, patterns
from bot.commands.common import lead_label
from bot.commands.why import lead_named
from bot.commands.words import LEADS, WHAT_IS
from bot.names import name_index
from bot.replies import Choice, Reply, Section
from bot.router import Query
from scoring import registry
from scoring.explain import percent
from scoring.segments import MIN_ROWS, segment_of, segments_now
from storage.history import LeadName

ASK = "which segment is {} in?"
EXAMPLES = 3  # open leads named per segment
LOOKED_AT = 25  # likeliest open leads per segment looked at for those the asker may see


def handle(query: Query) -> Reply:
    """List the segments, or say which one the lead or account the question names is in."""
    if query.parts.get("who"):
        return _placed(query, query.parts["who"])
    found = segments_now(query.deps.engine, LOOKED_AT)
    if found is None:
        return _none_yet(query)
    index = name_index(query.deps.engine)
    lines, listed = [], []
    for segment in sorted(found["segments"], key=lambda s: -s["conversion_rate"]):
        leads = [lead for key in segment["leads"] if (lead := index.lead(key)) and query.visible(lead)][:EXAMPLES]
        lines.append(_line(segment, found["base_rate"], leads))
        listed.append({**_facts(segment), "open_leads": segment["open_leads"],
                       "leads": [lead.external_id for lead in leads]})
    head = (f"*{len(lines)} segments* of {found['decided_leads']:,} decided leads, best converting first "
            f"(found by model {found['version']}; base conversion rate {percent(found['base_rate'])}):")
    return Reply(head, (Section("", tuple(lines)),),
                 data={"version": found["version"], "base_rate": found["base_rate"], "segments": listed})


def _line(segment: dict[str, Any], base: float, leads: list[LeadName]) -> str:
    """Segment 3 · Read the docs 3× in 30 days; … — converts 34% (2.1× the 16% base), 95% CI 31–37%; 1,024
    decided leads, 87 open (e.g. Jane Doe, John Roe)"""
    lift = f"{segment['lift']:.1f}× the {percent(base)} base" if segment.get("lift") is not None else "no base rate"
    names = f" (e.g. {', '.join(lead.name for lead in leads)})" if leads else ""
    rate = percent(segment["conversion_rate"])
    return (f"*Segment {segment['segment']}* · {segment['description']} — converts *{rate}* ({lift}), "
            f"95% CI {percent(segment['ci_low']).removesuffix('%')}–{percent(segment['ci_high'])}; "
            f"{segment['size']:,} decided leads, {segment['open_leads']:,} open{names}")


def _placed(query: Query, phrase: str) -> Reply:
    """The segment of the lead `phrase` names (an account: its best-scored open lead), found as `why` finds it."""
    named = lead_named(query, phrase, ASK)
    if isinstance(named, Reply):
        return named
    key, note = named
    lead = name_index(query.deps.engine).lead(key)
    assert lead is not None  # found among the index's own leads
    placed = segment_of(query.deps.engine, lead.id)
    if placed is None:
        return _none_yet(query)
    facts = {"lead": lead.external_id, "name": lead.name, "account": lead.account}
    if placed["segment"] is None:
        return Reply(f"{lead_label(lead)} is no longer an open lead: segments place the leads still in play (the "
                     "decided ones are what they were found in).", data={**facts, "segment": None})
    text = (f"{lead_label(lead)} is in *segment {placed['segment']}*: {placed['description']} — converts "
            f"*{percent(placed['conversion_rate'])}* vs {percent(placed['base_rate'])} base")
    sections = (Section("", (note,)),) if note else ()
    choices = (Choice(f"Why {lead.name}?", f"why is {lead.external_id} hot?"), Choice("All segments", "segments"))
    return Reply(text, sections, choices=choices,
                 data={**facts, **_facts(placed), "version": placed["version"], "base_rate": placed["base_rate"]})


def _facts(segment: dict[str, Any]) -> dict[str, Any]:
    """A segment as data (what `--json` and tests read)."""
    keys = ("segment", "size", "converted", "conversion_rate", "ci_low", "ci_high", "lift", "description")
    return {key: segment.get(key) for key in keys}


def _none_yet(query: Query) -> Reply:
    """No segments: no model yet, or one trained on too few decided leads to look for them."""
    if registry.active_version_id(query.deps.engine) is None:
        return Reply("No segments yet: they are found when a model is trained. Import outcomes, then run "
                     "`hotlead train`.", data={"segments": []})
    return Reply(f"The active model has no segments: they are looked for at training, with at least {MIN_ROWS} "
                 "decided leads. Run `hotlead train` again once there are.", data={"segments": []})


_SHOW = r"(?:(?:show|list|give|get|see|send)\s+(?:me\s+|us\s+)?)?(?:the\s+|all\s+|our\s+)*"
_LEAD_SEGMENTS = rf"(?:(?:lead|customer|{LEADS})\s+)?segments"
_IN = r"(?:in|part\s+of|belong\s+to|belongs\s+to|fall\s+(?:in|into|under)|falls\s+(?:in|into|under)|sit\s+in)"
COMMAND: Command = Command(
    name="segments",
    summary="the segments of leads the model found, and which one a lead is in",
    usage=("what segments do we have?", "which segment is Acme in?"),
    patterns=patterns(
        rf"{_SHOW}{_LEAD_SEGMENTS}(?:\s+(?:of|in|among)\s+(?:our\s+|the\s+|my\s+)?{LEADS})?",
        rf"(?:what|which|how\s+many|any)\s+{_LEAD_SEGMENTS}\s+(?:do\s+(?:we|you|i)\s+have|are\s+there|exist|"
        r"did\s+you\s+find|have\s+you\s+found|(?:has|did)\s+(?:the\s+)?(?:model|training)\s+(?:found|find))",
        rf"{WHAT_IS}\s+(?:the\s+|our\s+)?{_LEAD_SEGMENTS}",
        rf"(?:which|what)\s+segment\s+(?:is|are|was|does|do)\s+(?P<who>.+?)\s+{_IN}",
        r"(?:which|what)\s+segment\s+(?:is|are)\s+(?P<who>.+?)",
        r"(?:the\s+)?segment\s+(?:of|for)\s+(?P<who>.+?)",
        rf"{WHAT_IS}\s+(?P<who>.+?)(?:'s|’s)\s+segment",
    ),
    handle=handle,
)
