"""call: who to call today: your hot and warm leads, best first, leaving out snoozed and just-contacted ones."""

from __future__ import annotations

from bot.commands import Command, patterns
from bot.commands.common import lead_actions, lead_facts, no_scores, ranked, ranked_lines
from bot.replies import Reply, Section
from bot.router import Query

SUGGESTED = 5
CONTACTED_DAYS = 3.0  # a lead marked contacted is not suggested again for this long


def handle(query: Query) -> Reply:
    """Suggest whom to call."""
    rep = query.message.rep
    mine = rep is not None and rep.role != "manager"
    filters = {"owner_ids": [rep.id]} if mine and rep else {}
    items = [i for i in ranked(query, SUGGESTED * 3, aside_at=query.deps.clock(), contacted_days=CONTACTED_DAYS,
                               **filters) if i.now.band in ("hot", "warm")][:SUGGESTED]
    if not items:
        if not ranked(query, 1):
            return no_scores()
        return Reply("Nobody hot or warm is waiting for a call" + (" among your leads." if mine else "."),
                     data={"leads": []})
    whose = "your" if mine else "the"
    return Reply(f"*Call these first today* ({whose} hottest open leads, not snoozed or just contacted)",
                 (Section("", ranked_lines(items)),), actions=lead_actions(items[0].lead.external_id, why=True),
                 data={"leads": [lead_facts(i) for i in items]})


COMMAND: Command = Command(
    name="call",
    summary="who to call today",
    usage=("who should I call today?",),
    patterns=patterns(
        r"(?:who|whom)\s+(?:should|do|can|must|shall)\s+i\s+(?:call|contact|ring|reach out to|follow up with)"
        r"(?:\s+(?:today|now|first|next))?",
        r"(?:who\s+to\s+call|what\s+should\s+i\s+do|my\s+day|call\s+list|who\s+needs\s+attention)(?:\s+today)?",
    ),
    handle=handle,
)
