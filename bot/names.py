"""Forgiving names: which lead or account a rep means by "acme", "Jane Doe at Acme" or "jnae doe"."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process, utils
from sqlalchemy import Engine

from storage.history import (
    AccountName,
    LeadName,
    account_leads,
    account_names,
    latest_scores,
    lead_names,
    name_version,
)

SURE = 88  # a fuzzy match this good, well ahead of the next, is taken without asking
CLOSE = 75  # matches this good are offered as choices
HINT = 50  # below this a name is not even suggested
MAX_CHOICES = 5  # choices shown to a rep
MAX_CANDIDATES = 30  # candidates kept for the commands to choose among (by score, band) before showing
_AT = re.compile(r"^(?P<person>.+?)\s+(?:at|from|@)\s+(?P<company>.+)$", re.IGNORECASE)
_NOISE = re.compile(r"^(?:the\s+)|(?:'s|’s)$|^[\"'“”‘’]+|[\"'“”‘’?!.,]+$", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    """A lead or account a phrase may mean; `key` names it unambiguously (external id or account name)."""

    kind: Literal["lead", "account"]
    id: int
    label: str
    key: str
    score: float


@dataclass(frozen=True)
class Resolution:
    """The one meant (`found`), or the candidates: choices when ambiguous, closest names when unknown."""

    phrase: str
    found: Found | None
    candidates: tuple[Found, ...] = ()

    @property
    def ambiguous(self) -> bool:
        """Several names fit equally well."""
        return self.found is None and bool(self.candidates) and self.candidates[0].score >= CLOSE


def likely_lead(engine: Engine, candidates: tuple[Found, ...], band: str | None = None, *,
                negated: bool = False) -> Found | None:
    """Among leads sharing a name, the one a rep must mean, the same in chat and on the command line: the only one
    in the band the question names ("why is Jane Doe hot?"), or not in it when `negated` ("why is Jane Doe not
    hot?"), or the only one still open and scored; else None."""
    leads = [c for c in candidates if c.kind == "lead"]
    if not leads or len(leads) != len(candidates):
        return None
    with engine.connect() as conn:
        latest = latest_scores(conn=conn, lead_ids=[c.id for c in leads])
    fits = [c for c in leads if c.id in latest and (band is None or (latest[c.id].band == band.lower()) != negated)]
    return fits[0] if len(fits) == 1 else None


def best_open_lead(engine: Engine, account_id: int) -> LeadName | None:
    """The account's open lead with the best latest score (what "why is Acme hot?" explains), or None."""
    with engine.connect() as conn:
        leads = account_leads(conn=conn, account_id=account_id)
        latest = latest_scores(conn=conn, lead_ids=[lead.id for lead in leads]) if leads else {}
    scored = [lead for lead in leads if lead.id in latest]
    return max(scored, key=lambda lead: latest[lead.id].probability) if scored else None


def clean(phrase: str) -> str:
    """The phrase without quotes, a leading "the", a trailing "'s" or punctuation."""
    previous = None
    phrase = phrase.strip()
    while previous != phrase:
        previous, phrase = phrase, _NOISE.sub("", phrase).strip()
    return phrase


class NameIndex:
    """Every lead and account name, searchable exactly and fuzzily."""

    def __init__(self, leads: list[LeadName], accounts: list[AccountName]) -> None:
        self.leads = {lead.id: lead for lead in leads}
        self.accounts = {account.id: account for account in accounts}
        self._by_external = {lead.external_id.casefold(): lead for lead in leads}
        self._by_account: dict[str, list[LeadName]] = {}
        for lead in leads:
            if lead.account:
                self._by_account.setdefault(lead.account, []).append(lead)
        self._lead_names: dict[str, list[LeadName]] = {}
        for lead in leads:
            self._lead_names.setdefault(utils.default_process(lead.name), []).append(lead)
        self._account_names: dict[str, list[AccountName]] = {}
        for account in accounts:
            for label in filter(None, (account.name, account.domain)):
                self._account_names.setdefault(utils.default_process(label), []).append(account)
        # "Acme" for "Acme Corp": a name without its last word also names the account, a little less surely
        self._account_short: dict[str, list[AccountName]] = {}
        for account in accounts:
            words = utils.default_process(account.name).split()
            if len(words) > 1:
                self._account_short.setdefault(" ".join(words[:-1]), []).append(account)
        self._lead_keys = list(self._lead_names)
        self._account_keys = list(self._account_names)

    def lead(self, external_id: str) -> LeadName | None:
        """The lead with this external id (case-insensitive)."""
        return self._by_external.get(external_id.casefold())

    def lead_found(self, lead: LeadName, score: float = 100.0) -> Found:
        """A lead as a candidate."""
        label = f"{lead.name} ({lead.account})" if lead.account else lead.name
        return Found("lead", lead.id, label, lead.external_id, score)

    def account_found(self, account: AccountName, score: float = 100.0) -> Found:
        """An account as a candidate."""
        return Found("account", account.id, f"{account.name} (account)", account.name, score)

    def resolve(
        self, phrase: str, *, accounts: bool = True, visible: Callable[[LeadName], bool] | None = None,
    ) -> Resolution:
        """Who `phrase` names: a lead (by external id, name, or "name at account") or, if `accounts`, an account."""
        phrase = clean(phrase)
        seen = visible or (lambda _lead: True)
        lead = self._by_external.get(phrase.casefold())
        if lead is not None and seen(lead):
            return Resolution(phrase, self.lead_found(lead))
        at = _AT.match(phrase)
        if at:
            company = self.resolve(at["company"], visible=visible)
            if company.found and company.found.kind == "account":
                within = [lead for lead in self._by_account.get(company.found.key, []) if seen(lead)]
                return self._pick(phrase, self._fuzzy_leads(at["person"], within))
        candidates = self._fuzzy_accounts(phrase) if accounts else []
        exact_account = any(c.score >= SURE + 8 for c in candidates)  # then only a lead's exact name competes
        candidates += [self.lead_found(lead, score) for lead, score in self._lead_matches(phrase, exact_account)
                       if seen(lead)]
        return self._pick(phrase, candidates)

    def _lead_matches(self, phrase: str, exact_only: bool = False) -> list[tuple[LeadName, float]]:
        query = utils.default_process(phrase)
        if query in self._lead_names:
            return [(lead, 100.0) for lead in self._lead_names[query]]
        if exact_only:
            return []
        hits = process.extract(query, self._lead_keys, scorer=fuzz.WRatio, limit=MAX_CHOICES * 2, score_cutoff=HINT)
        return [(lead, score) for key, score, _ in hits for lead in self._lead_names[key]]

    def _fuzzy_accounts(self, phrase: str) -> list[Found]:
        query = utils.default_process(phrase)
        if query in self._account_names:
            return [self.account_found(a) for a in self._account_names[query]]
        if query in self._account_short:
            return [self.account_found(a, SURE + 8) for a in self._account_short[query]]
        hits = process.extract(query, self._account_keys, scorer=fuzz.WRatio, limit=MAX_CHOICES, score_cutoff=HINT)
        return [self.account_found(a, score) for key, score, _ in hits for a in self._account_names[key]]

    def _fuzzy_leads(self, person: str, within: list[LeadName]) -> list[Found]:
        names = [utils.default_process(lead.name) for lead in within]
        hits = process.extract(utils.default_process(person), names, scorer=fuzz.WRatio, score_cutoff=HINT)
        return [self.lead_found(within[i], score) for _, score, i in hits]

    @staticmethod
    def _pick(phrase: str, candidates: list[Found]) -> Resolution:
        unique = {(c.kind, c.id): c for c in sorted(candidates, key=lambda c: c.score)}  # best score wins
        ranked = sorted(unique.values(), key=lambda c: (-c.score, c.kind != "account", c.label))
        if not ranked:
            return Resolution(phrase, None)
        best = ranked[0]
        runners = [c for c in ranked[1:] if c.score >= best.score - 6]
        if best.score >= SURE and not runners:
            return Resolution(phrase, best)
        if best.score >= CLOSE:
            return Resolution(phrase, None, tuple(c for c in ranked if c.score >= best.score - 10)[:MAX_CANDIDATES])
        return Resolution(phrase, None, tuple(ranked[:3]))


# per engine object, not id(engine): an id is reused once an engine is gone, perhaps by one on another database
_cache: weakref.WeakKeyDictionary[Engine, tuple[tuple[object, ...], NameIndex]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def name_index(engine: Engine) -> NameIndex:
    """The engine's name index, rebuilt when leads or accounts changed in any process: the database's name version
    (index lookups only, see storage.history.name_version) is read on every call, the names only when it moved."""
    with engine.connect() as conn:
        version = name_version(conn=conn)  # read before the names: a change in between is caught next time
    cached = _cache.get(engine)
    if cached and cached[0] == version:
        return cached[1]
    with _lock, engine.connect() as conn:
        index = NameIndex(lead_names(conn=conn), account_names(conn=conn))
        _cache[engine] = (version, index)
    return index
