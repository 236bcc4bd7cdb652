"""What the commands share: finding who a rep means, and saying a lead's score the same way everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rapidfuzz import fuzz, process, utils

from bot.names import MAX_CHOICES, Found, name_index
from bot.replies import Action, Choice, Reply, Section
from bot.router import Query
from scoring.countries import country_code
from storage.history import LeadName, ScoreRow, account_leads, all_reps, latest_scores, ranked_leads, scores_at

WEEK = timedelta(days=7)
BAND_MARK = {"hot": "🔥", "warm": "🌤", "cold": "❄️"}


@dataclass(frozen=True)
class Scored:
    """A lead with its latest score and its score a week before (when it had one)."""

    lead: LeadName
    now: ScoreRow
    before: ScoreRow | None

    @property
    def movement(self) -> float:
        """Change in probability over the week (0 when the lead was not scored before)."""
        return 0.0 if self.before is None else self.now.probability - self.before.probability


def find(query: Query, phrase: str, ask: str, *, accounts: bool = True) -> Found | Reply:
    """Who `phrase` names, or the reply to send instead: choices when ambiguous, closest names when unknown.
    `ask` is the question to re-ask with a choice, with `{}` where the choice's key goes."""
    index = name_index(query.deps.engine)
    found = index.resolve(phrase, accounts=accounts, visible=query.visible)
    if found.found:
        return found.found
    candidates = _best_scored_first(query, found.candidates)[:MAX_CHOICES]
    choices = tuple(Choice(label, ask.replace("{}", c.key)) for c, label in candidates)
    if found.ambiguous:
        return Reply(f"More than one {'name' if accounts else 'lead'} fits “{found.phrase}”: which one do you mean?",
                     choices=choices, data={"ambiguous": [c.key for c, _ in candidates]})
    what = "lead or account" if accounts else "lead"
    if not found.candidates:
        return Reply(f"I don't know a {what} called “{found.phrase}”.", data={"unknown": found.phrase})
    return Reply(f"I don't know a {what} called “{found.phrase}”. Did you mean one of these?", choices=choices,
                 data={"unknown": found.phrase, "closest": [c.key for c, _ in candidates]})


def lead_acted_on(query: Query, ask: str, refusal: str) -> LeadName | Reply:
    """The lead a rep acts on from chat (snooze, contacted, not a fit), or the reply to send instead: only
    registered reps may (it changes everyone's call list; the console is the admin's), and only on a lead."""
    if query.message.rep is None and query.message.channel != "console":
        return Reply(refusal)
    found = find(query, query.parts["who"], ask, accounts=False)
    if isinstance(found, Reply):
        return found
    lead = name_index(query.deps.engine).lead(found.key)
    assert lead is not None  # found among the index's own leads
    return lead


def _best_scored_first(query: Query, candidates: tuple[Found, ...]) -> list[tuple[Found, str]]:
    """Candidates with their score in the label ("Jane Doe (Acme) · 78 🔥"); of equally good name matches, the
    best-scored lead first, so that the likeliest one is at the top."""
    leads = [c.id for c in candidates if c.kind == "lead"]
    if not leads:
        return [(c, c.label) for c in candidates]
    with query.deps.engine.connect() as conn:
        scores = latest_scores(conn=conn, lead_ids=leads)

    def score(c: Found) -> ScoreRow | None:
        return scores.get(c.id) if c.kind == "lead" else None

    def label(c: Found) -> str:
        now = score(c)
        return c.label if now is None else f"{c.label} · {round(100 * now.probability)} {BAND_MARK.get(now.band, '')}"

    ordered = sorted(candidates, key=lambda c: (-c.score, -(now.probability if (now := score(c)) else -1.0)))
    return [(c, label(c).rstrip()) for c in ordered]


def scored(query: Query, leads: list[LeadName]) -> list[Scored]:
    """The leads that have a score, best first, with their score a week ago."""
    if not leads:
        return []
    ids = [lead.id for lead in leads]
    with query.deps.engine.connect() as conn:
        now = latest_scores(conn=conn, lead_ids=ids)
        before = scores_at(conn=conn, lead_ids=list(now), moment=query.deps.clock() - WEEK) if now else {}
    found = [Scored(lead, now[lead.id], before.get(lead.id)) for lead in leads if lead.id in now]
    return sorted(found, key=lambda s: s.now.probability, reverse=True)


def ranked(query: Query, limit: int, **filters: Any) -> list[Scored]:
    """The best-scored open leads the asker may see (filters as `storage.history.ranked_leads`), with their
    score a week ago."""
    with query.deps.engine.connect() as conn:
        rows = [(lead, now) for lead, now in ranked_leads(conn=conn, limit=limit * 4 + 20, **filters)
                if query.visible(lead)][:limit]
        ids = [lead.id for lead, _ in rows]
        before = scores_at(conn=conn, lead_ids=ids, moment=query.deps.clock() - WEEK) if ids else {}
    return [Scored(lead, now, before.get(lead.id)) for lead, now in rows]


def best_lead(query: Query, account_id: int) -> Scored | None:
    """An account's open lead with the best score (among those the asker may see)."""
    with query.deps.engine.connect() as conn:
        leads = [lead for lead in account_leads(conn=conn, account_id=account_id) if query.visible(lead)]
    ranked = scored(query, leads)
    return ranked[0] if ranked else None


def points(movement: float) -> str:
    """A probability move as points with an arrow: "▲ 12 pts", "▼ 3 pts", "no change"."""
    pts = round(100 * movement)
    return "no change" if pts == 0 else f"{'▲' if pts > 0 else '▼'} {abs(pts)} pts"


def score_line(probability: float, percentile: float, band: str, movement: float | None) -> str:
    """The one way a score is said: "*79* · 🔥 hot · top 1% · ▲ 12 pts this week"."""
    top = max(1, round(100 - percentile)) if percentile < 100 else 1
    moved = "" if movement is None else f" · {points(movement)} this week"
    return f"*{round(100 * probability)}* · {BAND_MARK.get(band, '')} {band} · top {top}%{moved}"


def lead_label(lead: LeadName) -> str:
    """"*Jane Doe* (Acme)"."""
    return f"*{lead.name}*" + (f" ({lead.account})" if lead.account else "")


def lead_facts(item: Scored) -> dict[str, Any]:
    """A scored lead as data (what `--json` and tests read)."""
    reasons = item.now.reasons
    return {"lead": item.lead.external_id, "name": item.lead.name, "account": item.lead.account,
            "probability": item.now.probability, "score": round(100 * item.now.probability),
            "percentile": item.now.percentile, "band": item.now.band, "movement": item.movement,
            "top_reason": reasons[0]["text"] if reasons else ""}


def ranked_lines(items: list[Scored]) -> tuple[str, ...]:
    """A numbered list of scored leads with their top reason."""
    lines = []
    for rank, item in enumerate(items, start=1):
        reason = item.now.reasons[0]["text"] if item.now.reasons else ""
        lines.append(f"{rank}. {lead_label(item.lead)} — "
                     f"{score_line(item.now.probability, item.now.percentile, item.now.band, item.movement)}"
                     + (f"\n    _{reason}_" if reason else ""))
    return tuple(lines)


def lead_actions(external_id: str, why: bool = False) -> tuple[Action, ...]:
    """The buttons under a lead: Why?, Snooze 7 days, Mark contacted, and a rep's feedback (Hotter than this, Not a
    fit, Talked: no budget; see commands/verdict.py)."""
    buttons = (Action("Snooze 7 days", "snooze", external_id), Action("Mark contacted", "contacted", external_id),
               Action("Hotter than this", "hotter", external_id), Action("Not a fit", "not_fit", external_id),
               Action("Talked: no budget", "no_budget", external_id))
    return ((Action("Why?", "why", external_id),) if why else ()) + buttons


def no_scores() -> Reply:
    """What to say when nothing has been scored yet."""
    return Reply("No lead has a score yet: import outcomes, then run `hotlead train` and `hotlead score`.",
                 sections=(Section("", ("Or try the demo: `hotlead demo`.",)),), data={"leads": []})


def segment_filters(query: Query, phrase: str) -> dict[str, object] | Reply:
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
