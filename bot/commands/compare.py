"""compare: why one lead (or account's best lead) ranks above another, from the difference of their reasons."""

from __future__ import annotations

from bot.commands import Command, patterns
from bot.commands.common import best_lead, find, score_line
from bot.commands.words import CALL
from bot.names import Found
from bot.replies import Reply, Section
from bot.router import Query
from scoring.explain import strength
from scoring.leads import explain_pair


def _lead_key(query: Query, found: Found) -> str | Reply:
    if found.kind == "lead":
        return found.key
    best = best_lead(query, found.id)
    return best.lead.external_id if best else Reply(f"*{found.key}* has no open lead with a score.")


def handle(query: Query) -> Reply:
    """Compare the two named leads or accounts."""
    a_phrase, b_phrase = query.parts["a"], query.parts["b"]
    keys = []
    for phrase, ask in ((a_phrase, "compare {} and " + b_phrase), (b_phrase, "compare " + a_phrase + " and {}")):
        found = find(query, phrase, ask)
        if isinstance(found, Reply):
            return found
        key = _lead_key(query, found)
        if isinstance(key, Reply):
            return key
        keys.append(key)
    if keys[0] == keys[1]:
        return Reply("Those name the same lead: compare two different ones.")
    pair = explain_pair(query.deps.engine, keys[0], keys[1], higher_first=True)
    high, low = pair["a"], pair["b"]
    lines = tuple(f"▲ {r['text']} _({strength(r['contribution'])})_" for r in pair["reasons"])
    head = (f"*{high['name']}* ranks above *{low['name']}*\n"
            f"{high['name']}: {score_line(high['probability'], high['percentile'], high['band'], None)}\n"
            f"{low['name']}: {score_line(low['probability'], low['percentile'], low['band'], None)}")
    return Reply(head, (Section(f"What {high['name']} has that {low['name']} lacks", lines or ("Small differences "
                                "everywhere, nothing big.",)),),
                 data={"higher": high, "lower": low, "margin_gap": pair["margin_gap"], "reasons": pair["reasons"]})


_BETTER = r"(?:hotter|better|warmer|higher|stronger|more\s+likely(?:\s+to\s+(?:buy|convert|close))?|the\s+better\s+bet)"
COMMAND: Command = Command(
    name="compare",
    summary="why one lead ranks above another",
    usage=("compare Acme and Globex",),
    patterns=patterns(
        r"compare\s+(?P<a>.+?)\s+(?:and|vs\.?|versus|v\.?|with|to|against)\s+(?P<b>.+?)",
        r"(?:what(?:'s|’s|\s+is)\s+)?(?:the\s+)?difference\s+between\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)",
        rf"(?:which(?:\s+one)?\s+is\s+{_BETTER}|who(?:'s|’s|\s+is)\s+{_BETTER}|(?:who|which(?:\s+one)?)\s+(?:should|do)\s+i\s+"
        rf"{CALL}(?:\s+first)?)[,:]?\s+(?P<a>.+?)\s+or\s+(?P<b>.+?)",
        rf"(?:should|do)\s+i\s+{CALL}\s+(?P<a>.+?)\s+or\s+(?P<b>.+?)(?:\s+first)?",
        rf"(?P<a>.+?)\s+or\s+(?P<b>.+?)[,:]?\s+(?:which|who)(?:\s+one)?(?:'s|’s|\s+is)\s+{_BETTER}",
        rf"(?:is\s+|why\s+is\s+)?(?P<a>.+?)\s+(?:vs\.?|versus|v\.?|(?:ranked\s+|scored\s+|rated\s+)?(?:{_BETTER}\s+than|"
        rf"ahead\s+of)|(?:ranked|scored|rated)\s+(?:above|over))\s+(?P<b>.+?)",
    ),
    handle=handle,
)
