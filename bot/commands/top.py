"""top: the best-scored leads (or accounts), optionally hot only, in an industry or country, or your own."""

from __future__ import annotations

import math

from rapidfuzz import fuzz, process, utils

from bot.commands import Command, patterns
from bot.commands.common import lead_facts, no_scores, ranked, ranked_lines
from bot.countries import country_code
from bot.names import name_index
from bot.replies import Choice, Reply, Section
from bot.router import Query
from storage.history import all_reps

DEFAULT, MOST = 10, 25
COMMITTEE = 5  # an account's intent looks at its five best leads


def _segment(query: Query, phrase: str) -> dict[str, object] | Reply:
    """{"industry": …}, {"country": …} or a rep's {"owner_ids": […]} for a phrase like "fintech", "Germany", "DE"
    or "Jordan Lee"; a reply when it fits none."""
    accounts = name_index(query.deps.engine).accounts.values()
    industries = sorted({a.industry for a in accounts if a.industry})
    countries = sorted({a.country for a in accounts if a.country})
    code = country_code(phrase)  # "Germany", "the UK" or "de", for what the CRM stores ("DE", "GB")
    for country in countries:
        if country.casefold() in (phrase.casefold(), (code or "").casefold()):
            return {"country": country}
    with query.deps.engine.connect() as conn:
        reps = all_reps(conn=conn)
    # the whole name, typos allowed ("jordan le"), never a part of it ("de" is not Devon Patel)
    rep = process.extractOne(phrase, {r.id: r.name for r in reps}, scorer=fuzz.token_sort_ratio,
                             processor=utils.default_process, score_cutoff=85)
    if rep:  # "top leads for Jordan Lee": that rep's leads
        return {"owner_ids": [rep[2]], "rep": rep[0]}
    hit = process.extractOne(phrase, industries, scorer=fuzz.WRatio, processor=utils.default_process,
                             score_cutoff=80)
    if hit:
        return {"industry": hit[0]}
    return Reply(f"I don't know an industry or country called “{phrase}”.",
                 (Section("Industries", (", ".join(industries),)), Section("Countries", (", ".join(countries),))),
                 data={"unknown": phrase})


def handle(query: Query) -> Reply:
    """List the top leads or accounts."""
    parts = query.parts
    limit = min(int(parts.get("n") or DEFAULT), MOST)
    filters: dict[str, object] = {"band": (parts.get("band") or "").lower() or None}
    where = ""
    if parts.get("segment"):
        segment = _segment(query, parts["segment"])
        if isinstance(segment, Reply):
            return segment
        where = f" of {segment.pop('rep')}" if "rep" in segment else f" in {next(iter(segment.values()))}"
        filters.update(segment)
    rep = query.message.rep
    if parts.get("mine") and rep is not None:
        filters["owner_ids"] = [rep.id]
        where += " (yours)"
    what = (parts.get("what") or "leads").lower()
    if what.startswith(("account", "compan")):
        return _accounts(query, limit, filters, where)
    items = ranked(query, limit, **filters)
    if not items:
        return no_scores() if not ranked(query, 1) else Reply(f"No {filters['band'] or 'open'} leads{where}.",
                                                              data={"leads": []})
    title = f"Top {len(items)} {filters['band'] or ''} leads{where}".replace("  ", " ")
    choices = tuple(Choice(f"Why {i.lead.name}?", f"why is {i.lead.external_id} hot?") for i in items[:3])
    return Reply(f"*{title}*", (Section("", ranked_lines(items)),), choices=choices,
                 data={"leads": [lead_facts(i) for i in items]})


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


_WHAT = r"(?P<what>leads?|accounts?|companies|prospects|deals)"
_SEGMENT = r"(?:\s+(?:in|from|for)\s+(?P<segment>.+?))?"
COMMAND: Command = Command(
    name="top",
    summary="the best-scored leads or accounts",
    usage=("top leads", "top 5 hot leads in fintech", "top accounts", "my hot leads"),
    patterns=patterns(
        r"(?:show\s+(?:me\s+)?|list\s+|give\s+me\s+)?(?:the\s+)?(?P<mine>my\s+)?(?:top|best|hottest)"
        rf"(?:\s+(?P<n>\d+))?(?:\s+(?P<band>hot|warm|cold))?(?:\s+{_WHAT})?{_SEGMENT}",
        r"(?:show\s+(?:me\s+)?|list\s+)?(?:the\s+)?(?P<mine>my\s+)?(?:(?P<n>\d+)\s+)?(?P<band>hot|warm|cold)\s+"
        rf"{_WHAT}{_SEGMENT}",
        r"(?:show\s+(?:me\s+)?|list\s+|give\s+me\s+)(?:the\s+|all\s+)?(?P<mine>my\s+)?(?:(?P<n>\d+)\s+)?"
        rf"{_WHAT}{_SEGMENT}",
    ),
    handle=handle,
)
