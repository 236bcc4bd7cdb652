"""account: an account's buying intent, its open leads by score, and who at the account is engaged."""

from __future__ import annotations

import math

from bot.commands import Command, patterns
from bot.commands.common import find, lead_facts, ranked_lines, scored
from bot.replies import Choice, Reply, Section
from bot.router import Query
from storage.history import account_leads

COMMITTEE = 5  # intent: the chance that at least one of the five best leads converts
SHOWN = 8


def handle(query: Query) -> Reply:
    """Describe the account (a lead's name answers with that lead's account)."""
    found = find(query, query.parts["who"], "account {}")
    if isinstance(found, Reply):
        return found
    from bot.names import name_index

    index = name_index(query.deps.engine)
    if found.kind == "lead":
        lead = index.lead(found.key)
        match = next((a for a in index.accounts.values() if lead and a.name == lead.account), None)
        if match is None:
            return Reply(f"{found.label} has no account on record.")
        account = match
    else:
        account = index.accounts[found.id]
    with query.deps.engine.connect() as conn:
        leads = [lead for lead in account_leads(conn=conn, account_id=account.id) if query.visible(lead)]
    items = scored(query, leads)
    intent = 1.0 - math.prod(1.0 - i.now.probability for i in items[:COMMITTEE])
    facts = " · ".join(str(x) for x in (account.industry, account.country) if x)
    head = (f"*{account.name}*" + (f" ({facts})" if facts else "") +
            f"\nIntent *{round(100 * intent)}* · {len(leads)} open leads, {len(items)} scored")
    hot = sum(i.now.band == "hot" for i in items)
    summary = f"{hot} hot lead{'s' if hot != 1 else ''}" + (f"; best is {items[0].lead.name}" if items else "")
    sections = [Section("", (summary,))]
    if items:
        sections.append(Section("Open leads by score", ranked_lines(items[:SHOWN])))
    choices = (Choice(f"Why {items[0].lead.name}?", f"why is {items[0].lead.external_id} hot?"),
               Choice("What changed this week?", f"what changed for {account.name} this week?")) if items else ()
    return Reply(head, tuple(sections), choices=choices,
                 data={"account": account.name, "intent": intent, "leads": [lead_facts(i) for i in items[:SHOWN]]})


COMMAND: Command = Command(
    name="account",
    summary="an account's intent and its leads",
    usage=("account Acme",),
    patterns=patterns(
        r"(?:show\s+(?:me\s+)?(?:the\s+)?)?(?:account|company|tell\s+me\s+(?:more\s+)?about|how\s+is|how's|how’s|"
        r"status\s+of|info(?:rmation)?\s+(?:on|about|for)|details\s+(?:on|of|for)|what\s+about|look\s+up)\s+"
        r"(?P<who>.+?)(?:\s+doing|\s+getting\s+on)?",
        r"(?:show\s+(?:me\s+)?)?(?:the\s+)?(?P<who>.+?)\s+(?:account|company)(?:\s+(?:status|info|details|overview))?",
        r"who\s+(?:at|from|in)\s+(?P<who>.+?)\s+(?:is|are|was|were|has\s+been)\s+(?:interested|engaged|active|hot|warm|keen|"
        r"involved|engaging)",
        r"who(?:'s|’s|\s+is)\s+(?:interested|engaged|active|involved)\s+(?:at|from|in)\s+(?P<who>.+?)",
    ),
    handle=handle,
)
