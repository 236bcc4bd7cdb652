"""top: the best-scored leads (or accounts), optionally hot only, in an industry or country, or your own."""

from __future__ import annotations

import math
import re

from bot.commands import Command, patterns
from bot.commands.common import lead_facts, lead_label, no_scores, ranked, ranked_lines, segment_filters
from bot.commands.words import ACCOUNTS, BAND, BEST, LEADS, NOW, NUMBER, SEGMENT, number
from bot.replies import Choice, Reply, Section
from bot.router import Query
from scoring.leads import deal_amounts

DEFAULT, MOST = 10, 25
VALUED = 5000  # leads by expected value are ranked among this many likeliest
COMMITTEE = 5  # an account's intent looks at its five best leads


def handle(query: Query) -> Reply:
    """List the top leads or accounts."""
    parts = query.parts
    limit = max(1, min(number(parts.get("n"), DEFAULT), MOST))
    filters: dict[str, object] = {"band": (parts.get("band") or "").lower() or None}
    where = ""
    if parts.get("segment"):
        segment = segment_filters(query, parts["segment"])
        if isinstance(segment, Reply):
            return segment
        where = f" of {segment.pop('rep')}" if "rep" in segment else f" in {next(iter(segment.values()))}"
        filters.update(segment)
    rep = query.message.rep
    if parts.get("mine") and rep is not None:
        filters["owner_ids"] = [rep.id]
        where += " (yours)"
    what = (parts.get("what") or "leads").lower()
    if re.fullmatch(ACCOUNTS, what):
        return _accounts(query, limit, filters, where)
    if parts.get("value"):
        return _by_value(query, limit, filters, where)
    items = ranked(query, limit, **filters)
    if not items:
        return no_scores() if not ranked(query, 1) else Reply(f"No {filters['band'] or 'open'} leads{where}.",
                                                              data={"leads": []})
    title = f"Top {len(items)} {filters['band'] or ''} leads{where}".replace("  ", " ")
    choices = tuple(Choice(f"Why {i.lead.name}?", f"why is {i.lead.external_id} hot?") for i in items[:3])
    return Reply(f"*{title}*", (Section("", ranked_lines(items)),), choices=choices,
                 data={"leads": [lead_facts(i) for i in items]})


def _by_value(query: Query, limit: int, filters: dict[str, object], where: str) -> Reply:
    """Leads by expected value, probability × the deal amount expected if won (among the VALUED likeliest)."""
    items = ranked(query, VALUED, **filters)
    amounts = deal_amounts(query.deps.engine, [i.lead.id for i in items])
    if amounts is None:
        return Reply("No deal-value model yet: it needs won deals with amounts (the outcomes file's `amount`), then "
                     "`hotlead train`.")
    if not items:
        return no_scores() if not ranked(query, 1) else Reply(f"No {filters['band'] or 'open'} leads{where}.",
                                                              data={"leads": []})
    value = {i.lead.id: i.now.probability * amounts[i.lead.id] for i in items}
    best = sorted(items, key=lambda i: (-value[i.lead.id], i.lead.id))[:limit]
    lines = tuple(f"{rank}. {lead_label(i.lead)} — expected value *{value[i.lead.id]:,.0f}*: "
                  f"{i.now.probability:.0%} × {amounts[i.lead.id]:,.0f} if won"
                  for rank, i in enumerate(best, start=1))
    title = f"Top {len(best)} {filters['band'] or ''} leads by expected value{where}".replace("  ", " ")
    choices = tuple(Choice(f"Why {i.lead.name}?", f"why is {i.lead.external_id} hot?") for i in best[:3])
    return Reply(f"*{title}*", (Section("", lines),), choices=choices,
                 data={"leads": [{**lead_facts(i), "expected_amount": round(amounts[i.lead.id], 2),
                                  "expected_value": round(value[i.lead.id], 2)} for i in best]})


def _accounts(query: Query, limit: int, filters: dict[str, object], where: str) -> Reply:
    """Accounts by the chance that at least one of their best leads converts."""
    items = ranked(query, 5000, **filters)
    by_account: dict[str, list[float]] = {}
    for item in items:
        if item.lead.account:
            by_account.setdefault(item.lead.account, []).append(item.now.probability)
    intent = {a: 1.0 - math.prod(1.0 - p for p in sorted(ps, reverse=True)[:COMMITTEE]) for a, ps in by_account.items()}
    best = sorted(intent, key=lambda a: intent[a], reverse=True)[:limit]
    if not best:
        return no_scores()
    lines = tuple(f"{rank}. *{a}* — intent *{round(100 * intent[a])}* · {len(by_account[a])} open leads"
                  for rank, a in enumerate(best, start=1))
    return Reply(f"*Top {len(best)} accounts{where}*", (Section("", lines),),
                 data={"accounts": [{"account": a, "intent": intent[a], "leads": len(by_account[a])} for a in best]})


_WHAT = rf"(?P<what>{LEADS}|{ACCOUNTS})"
_SHOW = r"(?:(?:show|list|give|get|find|send)\s+(?:me\s+|us\s+)?|(?:any|are\s+there(?:\s+any)?)\s+)?"
_THE = r"(?:the\s+|all\s+|our\s+)?(?P<mine>my\s+)?"
_N = rf"(?:\s*(?P<n>{NUMBER}))?"
_BAND = rf"(?:\s+(?P<band>{BAND}))?"
_BY_VALUE = r"\s+(?P<value>by\s+(?:expected\s+|deal\s+)?(?:value|deal\s+size|size|revenue|amount))"
_VALUE = rf"(?:{_BY_VALUE})?"
COMMAND: Command = Command(
    name="top",
    summary="the best-scored leads or accounts",
    usage=("top leads", "top 5 hot leads in fintech", "top accounts", "my hot leads", "top leads by value"),
    patterns=patterns(
        rf"{_SHOW}{_THE}{BEST}{_N}{_BAND}(?:\s+{_WHAT})?{_VALUE}{SEGMENT}{NOW}",
        rf"{_SHOW}{_THE}(?P<value>most\s+valuable|biggest|largest|highest[\s-]+value){_N}{_BAND}"
        rf"\s+(?P<what>{LEADS}){SEGMENT}{NOW}",
        rf"{_SHOW}{_THE}(?:(?P<n>{NUMBER})\s+)?(?:(?P<band>{BAND})\s+)?(?P<what>{LEADS}){_BY_VALUE}{SEGMENT}{NOW}",
        rf"{_SHOW}{_THE}(?:(?P<n>{NUMBER})\s+)?(?P<band>{BAND})\s+{_WHAT}{SEGMENT}{NOW}",
        rf"(?:(?:show|list|give|get)\s+(?:me\s+)?){_THE}(?:(?P<n>{NUMBER})\s+)?{_WHAT}{SEGMENT}{NOW}",
        r"(?P<what>leads|accounts|prospects|companies)\s+(?:in|from|of|owned\s+by|assigned\s+to)\s+(?P<segment>.+?)",
        rf"(?:which|what|who)\s+(?:are\s+)?{_THE}{_WHAT}\s+(?:are|is)\s+(?:(?P<band>{BAND})|(?:the\s+)?{BEST}){SEGMENT}{NOW}",
        rf"(?:who|what|which)\s+(?:are|is)\s+{_THE}{BEST}{_N}{_BAND}(?:\s+{_WHAT})?{SEGMENT}{NOW}",
    ),
    handle=handle,
)
