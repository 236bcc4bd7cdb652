"""The weekly digest's leads and its sections on the reps' verdicts and on segments the bands miss, as data: what
`bot/push/digest.py` lays out, sends and charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from scoring.feedback import PINS, WORDS
from scoring.segments import segments_now
from storage.history import LeadName, Verdict

LISTED = 5  # new hot leads, quiet hot leads and overrides shown (all are counted)
NOTE_CHARS = 200  # of a rep's note, quoted in the overrides
MISSED_LIFT = 1.5  # a segment converting this many times the base rate (and its CI's low end above it) stands out
MISSED_HOT_SHARE = 0.5  # when fewer than this share of its open leads are banded hot, the bands miss it
MISSED = 2  # segments called out at most, highest lift first
EXAMPLES = 3  # of a missed segment's likeliest open leads not banded hot
# what each verdict says in a count (on a lead: scoring.feedback.WORDS; what it does to the band: PINS)
SAID = {"hotter": "hotter than the score", "no_budget": "talked: no budget", "not_fit": "not a fit",
        "fit": "a fit after all"}


@dataclass(frozen=True)
class LeadLine:
    """A lead in the digest: its score now and, for movers, then, with the reason that moved most."""

    lead: str  # external id
    name: str
    account: str | None
    probability: float
    band: str
    before: float | None = None
    band_before: str | None = None
    reason: str | None = None
    last_heard: str | None = None  # quiet leads: when the lead last did or said anything

    @property
    def label(self) -> str:
        """The lead as a manager reads it."""
        return f"{self.name} ({self.account})" if self.account else self.name

    @property
    def movement(self) -> float:
        """Probability points gained (negative: lost) over the period."""
        return self.probability - (self.before if self.before is not None else self.probability)


@dataclass(frozen=True)
class Override:
    """A rep's verdict on a lead (one of storage.history.VERDICTS), given in the digest's week."""

    rep: str | None  # None: not a registered rep
    lead: str  # external id
    name: str
    account: str | None
    action: str
    at: datetime
    note: str | None
    until: datetime | None  # the end of a pin (hotter, no_budget); None: no end, or no pin

    def line(self) -> str:
        """The override as a manager reads it."""
        label = f"{self.name} ({self.account})" if self.account else self.name
        if self.action in PINS:
            effect = f"pinned {PINS[self.action]}" + (f" until {self.until:%-d %b}" if self.until else "")
        else:
            effect = "capped cold, off call lists" if self.action == "not_fit" else "back to its score"
        note = self.note if self.note is None or len(self.note) <= NOTE_CHARS else self.note[:NOTE_CHARS] + "…"
        return (f"{self.rep or 'A rep'}: {label} {WORDS.get(self.action, self.action)} ({effect})"
                + (f": “{note}”" if note else ""))


@dataclass(frozen=True)
class Overrides:
    """The week's verdicts counted by kind, the latest LISTED of them, and the bands pinned now (any week's pins)."""

    counts: dict[str, int]
    latest: list[Override]
    pinned: dict[str, int]  # open leads whose standing verdict pins their band now: band -> leads

    def lines(self) -> list[str]:
        """The section's lines: the counts, the pins in force, then the latest overrides."""
        counted = ", ".join(f"{n} {SAID.get(kind, kind)}" for kind, n in self.counts.items())
        pins = ", ".join(f"{n} {band}" for band, n in self.pinned.items() if n)
        return [counted, f"Bands pinned now: {pins or 'none'}", *(o.line() for o in self.latest)]


@dataclass(frozen=True)
class MissedSegment:
    """A segment found at training that converts well while few of its open leads are banded hot."""

    segment: int
    description: str
    conversion_rate: float
    base_rate: float
    lift: float
    ci_low: float
    ci_high: float
    open_leads: int
    hot: int
    examples: list[LeadLine]  # its likeliest open leads that are not banded hot

    def line(self) -> str:
        """The call-out as a manager reads it."""
        examples = "; likeliest of the others: " + ", ".join(e.label for e in self.examples) if self.examples else ""
        return (f"{self.description} — converts {self.conversion_rate:.0%} ({self.lift:.1f}× the "
                f"{self.base_rate:.0%} base rate, 95% CI {100 * self.ci_low:.0f}–{100 * self.ci_high:.0f}%); "
                f"{self.open_leads:,} open leads in it, only {self.hot:,} banded hot{examples}")


def overrides(judged: list[Verdict], names: dict[int, LeadName], open_ids: set[int], start: datetime,
              now: datetime) -> Overrides | None:
    """The verdicts (oldest first) given in [start, now), and the open leads whose standing verdict at `now`
    pins their band (a pin without an end, or ending after `now`); None when no verdict was given that week."""
    week = [v for v in judged if start <= v.created_at < now]
    if not week:
        return None
    order = {kind: i for i, kind in enumerate(SAID)}  # a kind this digest does not know yet is counted last
    kinds = sorted({v.action for v in week}, key=lambda kind: (order.get(kind, len(order)), kind))
    counts = {kind: sum(v.action == kind for v in week) for kind in kinds}
    latest = []
    for v in week[::-1][:LISTED]:
        lead = names.get(v.lead_id)
        latest.append(Override(v.rep, lead.external_id if lead else str(v.lead_id),
                               lead.name if lead else f"lead {v.lead_id}", lead.account if lead else None,
                               v.action, v.created_at, v.note, v.until))
    standing = {v.lead_id: v for v in judged if v.created_at < now}  # oldest first: the latest stands
    pinned = dict.fromkeys(PINS.values(), 0)
    for lead_id, v in standing.items():
        if lead_id in open_ids and v.action in PINS and (v.until is None or v.until > now):
            pinned[PINS[v.action]] += 1
    return Overrides(counts, latest, pinned)


def missed_segments(engine: Engine, open_lines: dict[str, LeadLine], open_count: int) -> list[MissedSegment]:
    """The active model's segments that convert at least MISSED_LIFT times the base rate (the low end of their
    95% CI above it too) while fewer than MISSED_HOT_SHARE of their open leads are banded hot now (`open_lines`:
    the open leads' digest lines by external id, of `open_count` open leads), highest lift first; at most MISSED."""
    placed = segments_now(engine, listed=max(open_count, 1))  # every member: all are looked at
    if placed is None:
        return []
    found = []
    for segment in placed["segments"]:
        rate, base, members = segment["conversion_rate"], segment["base_rate"], segment["leads"]
        if not base or rate < MISSED_LIFT * base or segment["ci_low"] <= base or not segment["open_leads"]:
            continue
        hot = sum(1 for lead in members if lead in open_lines and open_lines[lead].band == "hot")
        if hot >= MISSED_HOT_SHARE * segment["open_leads"]:
            continue
        others = [open_lines[lead] for lead in members if lead in open_lines and open_lines[lead].band != "hot"]
        found.append(MissedSegment(segment["segment"], segment["description"], rate, base,
                                   segment.get("lift") or rate / base, segment["ci_low"], segment["ci_high"],
                                   segment["open_leads"], hot, others[:EXAMPLES]))
    return sorted(found, key=lambda s: -s.lift)[:MISSED]
