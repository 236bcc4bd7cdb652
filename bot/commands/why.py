"""why: the score of a lead (or an account's best lead) and the reasons behind it, with what was said."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bot.commands import Command, patterns
from bot.commands.common import Scored, best_lead, find, lead_actions, score_line, scored
from bot.commands.words import WHAT_IS
from bot.names import MAX_CHOICES, SURE, likely_lead, name_index
from bot.replies import Reply, Section
from bot.router import Query
from scoring import registry
from scoring.evidence import evidence
from scoring.explain import format_effect, moves_the_score
from scoring.feedback import lead_feedback
from scoring.leads import deal_amounts, explain_lead
from scoring.stops import GROUP

ASK = "why is {} hot?"
_NOT = r"(?:isn't|isn’t|aren't|aren’t|wasn't|wasn’t|doesn't|doesn’t|didn't|didn’t)"
_SCORE_WORDS = (rf"(?:(?P<nt>{_NOT})\s+|(?:is|are|was|does|did|still)\s+)?(?P<negated>not\s+|n't\s+|no\s+longer\s+)?"
                r"(?:so\s+|that\s+|this\s+|still\s+|yet\s+)?"
                r"(?:(?P<band>hot|warm|cold)|high|low|up|down|rated|ranked|scored|scoring|score|get\s+a|a\s+lead)\b.*")
_SCORE = r"(?:(?:'s|’s)?\s+(?:score|band|rating|ranking))"


def handle(query: Query) -> Reply:
    """Explain the lead the question names."""
    negated = any(query.parts.get(part) for part in ("negated", "isnt", "nt"))  # "not hot": any band but that one
    named = lead_named(query, query.parts["who"], ASK, query.parts.get("band"), negated)
    return named if isinstance(named, Reply) else explain(query, *named)


def lead_named(query: Query, phrase: str, ask: str, band: str | None = None, negated: bool = False
               ) -> tuple[str, str | None] | Reply:
    """The external id of the lead `phrase` names, with a note to say with the answer, or the reply to send
    instead: of several leads with that name, the likeliest (in `band`, or not in it when `negated`); an
    account's best-scored open lead; else the choices (`ask` is the question each choice asks again)."""
    resolution = name_index(query.deps.engine).resolve(phrase, visible=query.visible)
    if resolution.ambiguous:
        likely = likely_lead(query.deps.engine, resolution.candidates, band, negated=negated)
        if likely is not None:
            others = [c.label for c in resolution.candidates if c != likely]
            more = f" and {len(others) - MAX_CHOICES} more" if len(others) > MAX_CHOICES else ""
            return likely.key, f"Also called “{resolution.phrase}”: {', '.join(others[:MAX_CHOICES])}{more}."
    found = find(query, phrase, ask)
    if isinstance(found, Reply):
        return found
    if found.kind != "account":
        return found.key, None
    best = best_lead(query, found.id)
    if best is None:
        return Reply(f"*{found.key}* has no open lead with a score.", data={"account": found.key, "leads": []})
    return best.lead.external_id, f"{best.lead.name} is the best-scored open lead at {found.key}."


def explain(query: Query, key: str, note: str | None = None) -> Reply:
    """The why-reply for one lead (external id): from its latest score when the active model wrote it (the same
    numbers `top` shows), else computed now."""
    lead = name_index(query.deps.engine).lead(key)
    history = scored(query, [lead]) if lead else []
    facts = _stored(query, history[0]) if history else None
    if facts is None:
        facts = explain_lead(query.deps.engine, key)
    movement = history[0].movement if history else None
    head = (f"*{facts['name']}*" + (f" ({facts['account']})" if facts["account"] else "") + f" · {facts['lead']}\n"
            + score_line(facts["probability"], facts["percentile"], facts["band"], movement))
    amount = facts.get("expected_amount")  # computed with the facts, or else now (features of one lead)
    if amount is None and lead is not None:
        amount = (deal_amounts(query.deps.engine, [lead.id]) or {}).get(lead.id)
    if amount is not None:  # an open lead, and the active model has a deal-value model
        head += (f"\n💰 Expected value *{facts['probability'] * amount:,.0f}*: a {facts['probability']:.0%} chance of "
                 f"a deal worth about {amount:,.0f} if won")
    sections = []
    if facts.get("stop"):
        sections.append(Section("Do not call", (f"⛔ {facts['stop']} (band capped at cold)",)))
    feedback = facts["feedback"] if "feedback" in facts else (  # computed with the facts, or read now
        lead_feedback(query.deps.engine, lead.id, query.deps.clock()) if lead else [])
    if feedback:
        sections.append(Section("Rep feedback", tuple(f"🗣 {said['text']}" for said in feedback)))
    if note:
        sections.append(Section("", (note,)))
    p = facts["probability"]
    up, down = ([r for r in facts[key] if moves_the_score(float(r["contribution"]), p)]
                for key in ("for", "against"))  # under one point either way is neutral: left out
    sections.append(Section("Pushing it up", tuple(_line(r, p) for r in up) or ("Nothing stands out.",)))
    if down:
        sections.append(Section("Holding it back", tuple(_line(r, p) for r in down)))
    data = {key_: facts[key_] for key_ in ("lead", "name", "account", "probability", "percentile", "band", "stop")}
    data["feedback"] = feedback
    if amount is not None:
        data.update(expected_amount=round(amount, 2), expected_value=round(facts["probability"] * amount, 2))
    shown = facts["for"] + facts["against"]
    data.update(score=round(100 * facts["probability"]), movement=movement, scored_at=facts.get("scored_at"),
                reasons=[{"text": r["text"], "contribution": r["contribution"]} for r in shown])
    return Reply(head, tuple(sections), actions=lead_actions(facts["lead"]), data=data)


def _stored(query: Query, item: Scored) -> dict[str, Any] | None:
    """The facts of a lead's latest score with quotes behind its reasons, or None when another model wrote it."""
    engine = query.deps.engine
    if item.now.model_version_id != registry.active_version_id(engine):  # read per question: a promotion counts at once
        return None
    stop = next((r["text"] for r in item.now.reasons if r.get("group") == GROUP), None)
    reasons = [r for r in item.now.reasons if r.get("group") != GROUP]
    now = pd.Timestamp(query.deps.clock()).to_julian_date()
    quotes = evidence(engine, item.lead.id, now, [(r["group"], r["contribution"]) for r in reasons if "group" in r])

    def shown(reason: dict[str, Any]) -> dict[str, Any]:
        quote = quotes.get(reason.get("group", ""))
        return {"text": f"{reason['text']}; {quote}" if quote else reason["text"],
                "contribution": reason["contribution"]}

    return {"lead": item.lead.external_id, "name": item.lead.name, "account": item.lead.account,
            "probability": item.now.probability, "percentile": item.now.percentile, "band": item.now.band,
            "scored_at": item.now.scored_at, "stop": stop,
            "for": [shown(r) for r in reasons if r["contribution"] > 0],
            "against": [shown(r) for r in reasons if r["contribution"] <= 0]}


def _line(reason: dict[str, float | str], probability: float) -> str:
    """▲ Visited pricing 3× in the last 7 days _(raises it ~12 pts)_"""
    sign = "▲" if float(reason["contribution"]) > 0 else "▼"
    return f"{sign} {reason['text']} _({format_effect(float(reason['contribution']), probability)})_"


def fallback(query: Query) -> Reply:
    """A question no command recognised: a bare name is a why-question; anything else gets help."""
    from bot.commands.guide import help_reply

    text = query.parts["text"]
    if text and len(text) <= 60:
        resolution = name_index(query.deps.engine).resolve(text, visible=query.visible)
        if resolution.found and resolution.found.score >= SURE:
            return handle(Query(query.message, {"who": resolution.found.key}, query.deps))
    return help_reply(f"Sorry, I didn't catch “{text}”." if text else "Hi! I'm Hotlead.")


COMMAND: Command = Command(
    name="why",
    summary="why a lead (or an account's best lead) scores what it does, with evidence",
    usage=("why is Acme hot?", "why is Jane Doe at Acme a 92?"),
    patterns=patterns(
        rf"(?:why|how\s+come|why's|why’s|whys)\s+(?:(?P<isnt>{_NOT})|is|are|was|does|did|has)?"
        rf"\s*(?P<who>.+?)(?:(?:'s|’s)?\s+{_SCORE_WORDS}|\s+(?:a|an)\s+\d+%?)?",
        rf"(?:explain|score\s+(?:of|for)|about|reasons?\s+(?:for|behind)|explanation\s+(?:for|of)|"
        rf"breakdown\s+(?:of|for))\s+(?P<who>.+?){_SCORE}?",
        rf"{WHAT_IS}\s+(?:behind|driving|pushing\s+up)\s+(?P<who>.+?){_SCORE}?",
        rf"what\s+makes\s+(?P<who>.+?)\s+{_SCORE_WORDS}",
        rf"{WHAT_IS}\s+(?P<who>.+?){_SCORE}",
        r"what\s+(?:score|band|rating)\s+(?:does|has|is)\s+(?P<who>.+?)(?:\s+(?:have|got|get|on|in))?",
        r"how\s+(?:hot|warm|good|likely)\s+is\s+(?P<who>.+?)",
        r"is\s+(?P<who>.+?)\s+(?:(?P<negated>not\s+)|still\s+|really\s+)?(?P<band>hot|warm|cold)",
    ),
    handle=handle,
)
