"""call: who to call today: your hot and warm leads, best first, leaving out snoozed and just-contacted ones."""

from __future__ import annotations

from bot.commands import Command, patterns
from bot.commands.common import lead_actions, lead_facts, no_scores, ranked, ranked_lines, segment_filters
from bot.commands.words import CALL, LEADS, NOW, SEGMENT
from bot.replies import Reply, Section
from bot.router import Query

SUGGESTED = 5
CONTACTED_DAYS = 3.0  # a lead marked contacted is not suggested again for this long


def handle(query: Query) -> Reply:
    """Suggest whom to call."""
    rep = query.message.rep
    mine = rep is not None and rep.role != "manager"
    filters: dict[str, object] = {"owner_ids": [rep.id]} if mine and rep else {}
    where = ""
    if query.parts.get("segment"):  # "who should I call in Germany?"
        segment = segment_filters(query, query.parts["segment"])
        if isinstance(segment, Reply):
            return segment
        where = f" of {segment.pop('rep')}" if "rep" in segment else f" in {next(iter(segment.values()))}"
        filters.update(segment)
    items = [i for i in ranked(query, SUGGESTED * 3, aside_at=query.deps.clock(), contacted_days=CONTACTED_DAYS,
                               **filters) if i.now.band in ("hot", "warm")][:SUGGESTED]
    if not items:
        if not ranked(query, 1):
            return no_scores()
        return Reply("Nobody hot or warm is waiting for a call" + where + (" among your leads." if mine else "."),
                     data={"leads": []})
    whose = "your" if mine else "the"
    return Reply(f"*Call these first today*{where} ({whose} hottest open leads, not snoozed or just contacted)",
                 (Section("", ranked_lines(items)),), actions=lead_actions(items[0].lead.external_id, why=True),
                 data={"leads": [lead_facts(i) for i in items]})


COMMAND: Command = Command(
    name="call",
    summary="who to call today",
    usage=("who should I call today?",),
    patterns=patterns(
        rf"(?:so\s+)?(?:who|whom)\s+(?:should|do|can|must|shall|could|would|will)\s+(?:i|we)\s+{CALL}{NOW}{SEGMENT}{NOW}",
        rf"(?:who|whom)\s+to\s+{CALL}{NOW}{SEGMENT}{NOW}",
        rf"(?:who|which\s+{LEADS})\s+(?:needs?|deserves?|should\s+get)\s+(?:a\s+)?(?:call|attention|a\s+follow[-\s]?up|"
        rf"follow[-\s]?up|my\s+time){NOW}{SEGMENT}{NOW}",
        rf"(?:who(?:'s|’s|\s+is)|which\s+{LEADS}\s+(?:is|are))\s+worth\s+(?:calling|a\s+call|contacting|my\s+time){NOW}"
        rf"{SEGMENT}{NOW}",
        rf"(?:give\s+me\s+|show\s+(?:me\s+)?|what(?:'s|’s|\s+is)\s+)?(?:my\s+|the\s+|today's\s+)?(?:call|phone|to-?do)"
        rf"\s+list(?:\s+for\s+today)?{SEGMENT}{NOW}",
        r"(?:what\s+should\s+i\s+do|where\s+(?:do|should)\s+i\s+start|my\s+day|what's\s+my\s+day)(?:\s+today|\s+first|"
        r"\s+next|\s+now)?",
    ),
    handle=handle,
)
