"""changed: what moved for a lead or an account over a period: score, band, reasons and activity."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.commands import Command, patterns
from bot.commands.common import find, lead_label, points, scored
from bot.replies import Reply, Section
from bot.router import Query
from storage.history import LeadName, ScoreRow, account_leads, activity_counts, scores_at

MOVERS = 5
_PERIOD = (r"(?:\s+(?P<period>(?:(?:in|over|during)\s+)?(?:this|last|past|the\s+past|the\s+last)\s+(?:week|month)|"
           r"today|since\s+(?:yesterday|last\s+week|monday)|lately|recently|"
           r"(?:in\s+|over\s+)?(?:the\s+)?(?:last|past)\s+\d+\s+days?))?")
_MOVED = (r"(?:go(?:ne)?\s+(?:up|down)|went\s+(?:up|down)|drop(?:ped)?|rise|rose|risen|fall|fell|fallen|jump(?:ed)?|"
          r"climb(?:ed)?|cool(?:ed)?(?:\s+off|\s+down)?|heat(?:ed)?\s+up|move[d]?|change[d]?|slip(?:ped)?|sink|sank|"
          r"get\s+(?:hotter|colder)|got\s+(?:hotter|colder))")


def days_in(period: str | None) -> int:
    """The number of days a period names ("this week" → 7, "last 3 days" → 3); a week by default."""
    period = (period or "").lower()
    if number := re.search(r"\d+", period):
        return max(1, int(number[0]))
    return 30 if "month" in period else 1 if "today" in period or "yesterday" in period else 7


def _reasons_moved(before: ScoreRow | None, now: ScoreRow) -> list[str]:
    """The reasons whose weight changed most between two stored scores."""
    then = {r.get("group", r["text"]): r for r in (before.reasons if before else [])}
    lines = []
    for reason in now.reasons:
        old = then.get(reason.get("group", reason["text"]))
        if old is None:
            lines.append(f"new: {reason['text']}")
        elif abs(reason["contribution"] - old["contribution"]) >= 0.1:
            how = "stronger" if reason["contribution"] > old["contribution"] else "weaker"
            lines.append(f"{how}: {reason['text']}")
    return lines


def handle(query: Query) -> Reply:
    """Say what changed."""
    found = find(query, query.parts["who"], "what changed for {} this week?")
    if isinstance(found, Reply):
        return found
    days = days_in(query.parts.get("period"))
    since = query.deps.clock() - timedelta(days=days)
    index_leads: list[LeadName]
    with query.deps.engine.connect() as conn:
        if found.kind == "account":
            index_leads = [lead for lead in account_leads(conn=conn, account_id=found.id) if query.visible(lead)]
        else:
            from bot.names import name_index

            lead = name_index(query.deps.engine).lead(found.key)
            index_leads = [lead] if lead else []
        ids = [lead.id for lead in index_leads]
        activity = activity_counts(conn=conn, lead_ids=ids, since=since) if ids else {}
        then = scores_at(conn=conn, lead_ids=ids, moment=since) if ids else {}
    items = scored(query, index_leads)
    name = found.key if found.kind == "account" else found.label
    head = f"*What changed for {name}* in the last {days} day{'s' if days != 1 else ''}"
    sections = []
    movers = sorted(items, key=lambda i: abs(i.now.probability - (then[i.lead.id].probability if i.lead.id in then
                                                                     else i.now.probability)), reverse=True)
    score_lines = []
    for item in movers[:MOVERS]:
        before = then.get(item.lead.id)
        if before is None:
            score_lines.append(f"{lead_label(item.lead)}: newly scored at *{round(100 * item.now.probability)}* "
                               f"({item.now.band})")
            continue
        band = f", {before.band} → {item.now.band}" if before.band != item.now.band else f", still {item.now.band}"
        score_lines.append(f"{lead_label(item.lead)}: {round(100 * before.probability)} → "
                           f"*{round(100 * item.now.probability)}* ({points(item.now.probability - before.probability)}"
                           f"{band})")
        score_lines += [f"    _{line}_" for line in _reasons_moved(before, item.now)]
    sections.append(Section("Scores", tuple(score_lines) or ("No scores yet.",)))
    done = ", ".join(f"{n} × {kind.replace('_', ' ')}" for kind, n in activity.items())
    sections.append(Section("Activity", (done or "Nothing new: no activity or messages in that time.",)))
    movement = {i.lead.external_id: i.now.probability - then[i.lead.id].probability
                for i in items if i.lead.id in then}
    return Reply(head, tuple(sections), data={"who": found.key, "days": days, "movement": movement,
                                               "activity": activity})


COMMAND: Command = Command(
    name="changed",
    summary="what changed for a lead or account",
    usage=("what changed for Initech this week?",),
    patterns=patterns(
        rf"what(?:'s|’s|s|\s+has|\s+have|\s+is)?\s+(?:changed|new|moved|happened|going\s+on|up)\s+"
        rf"(?:for|with|at|on|about|to)\s+(?P<who>.+?){_PERIOD}",
        rf"(?:any\s+)?(?:changes|news|updates?|movement)\s+(?:for|on|about|from|at|with)\s+(?P<who>.+?){_PERIOD}",
        rf"what\s+(?:did|has)\s+(?P<who>.+?)\s+(?:do|done|been\s+up\s+to){_PERIOD}",
        rf"how\s+(?:did|has)\s+(?P<who>.+?)\s+(?:changed?|moved?|done|developed){_PERIOD}",
        rf"why\s+(?:did|has|have)\s+(?P<who>.+?)(?:'s|’s|\s+score)?\s+{_MOVED}(?:\s+so\s+much)?{_PERIOD}",
        r"(?!.*\b(?:what|who|whom|which|any|anything|anyone|anybody|how|why|top|my|new|hot|warm|cold|leads?|"
        r"accounts?|movers|changed|happened|moved)\b)(?P<who>.+?)\s+"
        r"(?P<period>this\s+week|lately|recently|since\s+last\s+week)",
    ),
    handle=handle,
)
