"""Generate the demo pipeline as the CSV files and transcripts a user would import."""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from storage.demo import phrases
from storage.demo.feedback import FEEDBACK_SHARE, HEADER, give_feedback
from storage.demo.people import Company, Person, make_companies, make_people, make_reps
from storage.demo.truth import (
    PLAN_ODDS,
    PLANS,
    SMALL_COMPANY,
    TARGET_VERTICALS,
    TruthInputs,
    hidden_segment,
    plan_factor,
    true_probability,
)

INBOUND_KINDS = ("page_view", "email_open", "email_click", "webinar", "form_submit", "demo_request", "trial_event")
INBOUND_WEIGHTS = (0.70, 0.12, 0.06, 0.03, 0.03, 0.02, 0.04)
PAGE_TYPES = ("pricing", "demo", "docs", "case_study", "blog", "home", "careers")
NOT_ENGAGEMENT = frozenset({"email_sent", "email_bounce", "unsubscribe"})
CAMPAIGNS = ("nurture-q3", "product-launch", "webinar-invite", "case-study-digest")
CONTENT_PAGES, CONTENT_WEIGHTS = ("docs", "case_study", "blog"), (0.5, 0.3, 0.2)
READER_SHARE = 0.08  # people who read everything and never talk to sales (the hidden segment's source)
READER_RATE = 0.35  # their extra content views per day
AMOUNT_PER_EMPLOYEE = (40, 90)  # a won deal's amount: employees times a uniform draw in this range


@dataclass
class DemoPipeline:
    """Where the generated files are, each lead's true probability, true segment ("" or READERS) and true
    expected value (probability times the mean amount of a deal at its company with a buyer of its seniority),
    and how much was made."""

    directory: Path
    files: dict[str, Path]
    truth: list[tuple[str, float]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class _Event:
    kind: str
    at: float  # days relative to the anchor (negative: in the past)
    page_type: str = ""
    detail: str = ""


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def generate(
    directory: Path,
    *,
    leads: int = 2000,
    seed: int = 7,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    feedback_share: float = FEEDBACK_SHARE,
) -> DemoPipeline:
    """Write accounts, reps, leads, activities, messages, outcomes, call transcripts and the owners' feedback on
    `feedback_share` of the leads they talked to under `directory`."""
    rng = random.Random(seed)
    anchor = datetime.combine(today or datetime.now(UTC).date(), datetime.min.time())
    directory.mkdir(parents=True, exist_ok=True)
    calls = directory / "calls"
    calls.mkdir(exist_ok=True)
    tables = ("reps", "accounts", "leads", "activities", "messages", "outcomes", "feedback")
    files = {kind: directory / f"{kind}.csv" for kind in tables}
    files["transcripts"] = calls
    reps = make_reps()
    companies = make_companies(rng, max(20, leads // 3))
    people = make_people(rng, companies, leads)
    pipeline = DemoPipeline(directory, files)
    counts = pipeline.counts
    _write_csv(files["reps"], ["name", "role", "email", "slack_user_id", "whatsapp", "timezone"],
               [[r.name, r.role, r.email, r.slack_user_id, r.whatsapp, r.timezone] for r in reps])
    _write_csv(files["accounts"], ["name", "domain", "industry", "employees", "country"],
               [[c.name, c.domain, c.industry, c.employees, c.country] for c in companies])
    counts["reps"], counts["accounts"] = len(reps), len(companies)
    sellers = [r for r in reps if r.role != "manager"]
    writer = _Writers(files)
    try:
        for index, person in enumerate(people):
            owner = rng.choice(sellers)
            # a reader's own draws come from a generator of their own: everyone else's data stays as it was
            own = random.Random(f"{seed}:reader:{person.external_id}")
            reader = own if own.random() < READER_SHARE else None
            # and so do a rep's verdicts: the pipeline is the same whichever share of leads gets one
            voice = random.Random(f"{seed}:feedback:{person.external_id}")
            critic = voice if voice.random() < feedback_share else None
            plan = random.Random(f"{seed}:plan:{person.external_id}").choices(
                tuple(PLANS), PLAN_ODDS[person.seniority])[0]  # drawn apart too: the main stream stays as it was
            _simulate(rng, person, owner.name, anchor, writer, pipeline, calls, reader, critic, plan)
            if progress and index % 1000 == 0:
                progress(index, leads)
    finally:
        writer.close()
    counts.update(writer.counts)
    counts["leads"] = leads
    if progress:
        progress(leads, leads)
    return pipeline


class _Writers:
    """Open CSV writers for the per-lead files."""

    HEADERS = {
        "leads": ["external_id", "name", "email", "title", "seniority", "source", "account", "owner", "created_at",
                  "status"],
        "activities": ["lead", "kind", "occurred_at", "page_type", "url", "campaign"],
        "messages": ["lead", "channel", "direction", "speaker", "text", "occurred_at", "source_ref"],
        "outcomes": ["lead", "converted", "amount", "closed_at"],
        "feedback": HEADER,
    }

    def __init__(self, files: dict[str, Path]) -> None:
        self._handles = {kind: files[kind].open("w", newline="", encoding="utf-8") for kind in self.HEADERS}
        self.rows = {kind: csv.writer(handle) for kind, handle in self._handles.items()}
        for kind, header in self.HEADERS.items():
            self.rows[kind].writerow(header)
        self.counts = {kind: 0 for kind in self.HEADERS if kind != "leads"}
        self.counts["transcripts"] = 0

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()


def _when(anchor: datetime, days: float) -> str:
    return (anchor + timedelta(seconds=round(days * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ")


def _simulate(
    rng: random.Random, person: Person, owner: str, anchor: datetime, out: _Writers, pipeline: DemoPipeline,
    calls: Path, reader: random.Random | None = None, critic: random.Random | None = None, plan: str = "growth",
) -> None:
    company = person.company
    z = person.intent
    created = -rng.uniform(7.0, 90.0)
    decision = created + rng.uniform(10.0, 50.0)
    closed = decision < -1.0
    cutoff = decision if closed else 0.0
    events = _behaviour(rng, z, created, cutoff)
    conversation = _conversation(rng, z, created, cutoff)
    if reader is not None:  # reads everything, never replies, never talks to sales
        events = [e for e in events if e.kind != "email_reply"] + _reading(reader, created, cutoff)
        conversation = None
    inputs = _truth_inputs(person, company, events, conversation, cutoff)
    probability = true_probability(inputs)
    pipeline.truth.append((person.external_id, probability))
    pipeline.segments[person.external_id] = hidden_segment(inputs)
    pipeline.values[person.external_id] = (probability * company.employees * sum(AMOUNT_PER_EMPLOYEE) / 2
                                           * plan_factor(person.seniority))
    converted = closed and rng.random() < probability
    if converted:  # after a win the customer keeps using the product: must never leak into training
        for _ in range(rng.randint(2, 5)):
            at = rng.uniform(decision, 0.0)
            events.append(_Event(rng.choice(("trial_event", "meeting")), at))
    status = ("won" if converted else "lost") if closed else "open"
    out.rows["leads"].writerow([
        person.external_id, person.name, person.email, person.title, person.seniority, person.source,
        company.name, owner, _when(anchor, created), status,
    ])
    seen: set[tuple[str, str, str, str]] = set()
    for event in sorted(events, key=lambda e: e.at):
        when = _when(anchor, event.at)
        key = (event.kind, when, event.page_type, event.detail)
        if key in seen:
            continue
        seen.add(key)
        url = f"/{event.page_type.replace('_', '-')}" if event.kind == "page_view" else ""
        out.rows["activities"].writerow([person.external_id, event.kind, when, event.page_type, url, event.detail])
        out.counts["activities"] += 1
    if conversation:
        _write_conversation(rng, person, owner, anchor, conversation, out, calls)
    if closed:
        amount = round(company.employees * rng.uniform(*AMOUNT_PER_EMPLOYEE) * PLANS[plan], -2) if converted else ""
        out.rows["outcomes"].writerow([person.external_id, int(converted), amount, _when(anchor, decision)])
        out.counts["outcomes"] += 1
    if conversation and critic is not None:  # an open lead's verdict is right about where it is heading
        converts = converted if closed else critic.random() < probability
        said = give_feedback(critic, converts=converts, after=conversation.lines[-1][0], before=cutoff)
        until = _when(anchor + timedelta(days=said.pin), said.at) if said.pin is not None else ""  # to the second
        out.rows["feedback"].writerow(
            [person.external_id, owner, said.action, _when(anchor, said.at), until, said.note]
        )
        out.counts["feedback"] += 1


def _behaviour(rng: random.Random, z: float, created: float, cutoff: float) -> list[_Event]:
    span = max(cutoff - created, 0.5)
    events: list[_Event] = []
    rate = 0.16 * math.exp(0.55 * z)
    heating = rng.random() < _sigmoid(1.2 * z)
    shape = rng.random()
    # keen buyers read the docs and case studies too: heavy reading alone does not pick out the hidden segment
    keen = math.exp(0.5 * z)
    page_weights = (0.1 * math.exp(0.6 * z), 0.05 * math.exp(0.4 * z), 0.15 * keen, 0.08 * keen, 0.35, 0.2, 0.04)
    for _ in range(_poisson(rng, rate * span)):
        u = rng.random()
        position = u if shape < 0.3 else (u ** (1 / 2.5) if heating else 1 - u ** (1 / 2.5))
        at = created + span * position
        kind = rng.choices(INBOUND_KINDS, INBOUND_WEIGHTS)[0]
        if kind == "page_view":
            events.append(_Event(kind, at, rng.choices(PAGE_TYPES, page_weights)[0]))
        elif kind.startswith("email"):
            events.append(_Event(kind, at, detail=rng.choice(CAMPAIGNS)))
        else:
            events.append(_Event(kind, at))
    bounces = rng.random() < 0.05
    reply_rate = _sigmoid(0.9 * z - 0.9)
    at = created + rng.uniform(0.2, 2.0)
    for _ in range(8):
        if at >= cutoff:
            break
        events.append(_Event("email_sent", at, detail="outreach"))
        if bounces:
            events.append(_Event("email_bounce", at + 0.001, detail="outreach"))
        elif rng.random() < reply_rate:
            reply = at + rng.uniform(0.05, 3.0)
            if reply < cutoff:
                events.append(_Event("email_reply", reply, detail="outreach"))
        elif z < -0.8 and rng.random() < 0.08:
            events.append(_Event("unsubscribe", at + rng.uniform(0.1, 2.0), detail="outreach"))
            break
        at += rng.uniform(4.0, 9.0)
    return [e for e in events if e.at < cutoff]


def _reading(rng: random.Random, created: float, cutoff: float) -> list[_Event]:
    """A reader's extra docs, case-study and blog views, spread over their time in the pipeline."""
    span = max(cutoff - created, 0.5)
    return [_Event("page_view", created + span * rng.random(), rng.choices(CONTENT_PAGES, CONTENT_WEIGHTS)[0])
            for _ in range(_poisson(rng, READER_RATE * span))]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


@dataclass
class _Conversation:
    channel: str
    lines: list[tuple[float, bool, str]]  # (time, is the prospect, text)
    urgency: bool
    budget: bool
    objection: bool


def _conversation(rng: random.Random, z: float, created: float, cutoff: float) -> _Conversation | None:
    if rng.random() > 0.25 + 0.35 * _sigmoid(z):
        return None
    urgency = rng.random() < _sigmoid(z - 1.0)
    budget = rng.random() < _sigmoid(z - 1.2)
    objection = rng.random() < _sigmoid(-z - 1.3)
    mood = math.tanh(z / 2) - 0.6 * objection
    said = phrases.prospect_lines(
        rng, urgency=urgency, budget=budget, objection=objection, mood=mood, count=rng.randint(2, 5)
    )
    channel = rng.choices(("chat", "whatsapp", "call"), (0.4, 0.3, 0.3))[0]
    start = max(created, cutoff - 20.0) + rng.uniform(0.0, 1.0) * min(20.0, cutoff - created) * 0.9
    start = min(start, cutoff - 0.5)  # every line (at most ~0.45 days of chat) lands before the cutoff
    step = 1 / 1440 if channel == "call" else 0.02
    lines: list[tuple[float, bool, str]] = [(start, False, phrases.rep_line(rng))]
    for text in said:
        lines.append((lines[-1][0] + step * rng.uniform(0.5, 2.0), True, text))
        if rng.random() < 0.6:
            lines.append((lines[-1][0] + step * rng.uniform(0.5, 2.0), False, phrases.rep_line(rng)))
    lines = [line for line in lines if line[0] < cutoff]
    return _Conversation(channel, lines, urgency, budget, objection) if lines else None


def _write_conversation(
    rng: random.Random, person: Person, owner: str, anchor: datetime, talk: _Conversation, out: _Writers,
    calls: Path,
) -> None:
    if talk.channel == "call":
        start = talk.lines[0][0]
        body = [f"# lead: {person.external_id}", f"# date: {_when(anchor, start)}", "# channel: call", ""]
        for at, prospect, text in talk.lines:
            offset = round((at - start) * 86400)
            speaker = person.name if prospect else owner
            body.append(f"[{offset // 3600:02d}:{offset % 3600 // 60:02d}:{offset % 60:02d}] {speaker}: {text}")
        (calls / f"{person.external_id}.txt").write_text("\n".join(body) + "\n", encoding="utf-8")
        out.counts["transcripts"] += 1
        return
    for number, (at, prospect, text) in enumerate(talk.lines):
        direction, speaker = ("inbound", person.name) if prospect else ("outbound", owner)
        ref = f"demo:{person.external_id}:{number}"
        out.rows["messages"].writerow(
            [person.external_id, talk.channel, direction, speaker, text, _when(anchor, at), ref]
        )
        out.counts["messages"] += 1


def _truth_inputs(
    person: Person, company: Company, events: list[_Event], talk: _Conversation | None, cutoff: float
) -> TruthInputs:
    def within(days: float, kinds: frozenset[str] | None = None, page: str | None = None) -> int:
        return sum(
            1 for e in events
            if cutoff - days <= e.at < cutoff
            and (kinds is None or e.kind in kinds)
            and (page is None or e.page_type == page)
        )

    engagement = [e for e in events if e.kind not in NOT_ENGAGEMENT]
    last = max((e.at for e in engagement), default=None)
    engaged_kinds = frozenset(e.kind for e in engagement)
    sent_21 = within(21, frozenset({"email_sent"}))
    replies_21 = within(21, frozenset({"email_reply"}))
    return TruthInputs(
        pricing_30d=within(30, frozenset({"page_view"}), "pricing"),
        demo_30d=within(30, frozenset({"page_view"}), "demo") + within(30, frozenset({"demo_request"})),
        replies_90d=within(90, frozenset({"email_reply"})),
        small_target=company.employees < SMALL_COMPANY and company.industry in TARGET_VERTICALS,
        content_30d=sum(within(30, frozenset({"page_view"}), page) for page in CONTENT_PAGES),
        talked=talk is not None,
        days_since_activity=(cutoff - last) if last is not None else 90.0,
        count_7d=within(7, engaged_kinds),
        count_28d=within(28, engaged_kinds),
        bounced=any(e.kind == "email_bounce" for e in events),
        no_reply_21d=sent_21 >= 2 and replies_21 == 0,
        seniority=person.seniority,
        source=person.source,
        urgency_said=bool(talk and talk.urgency),
        budget_said=bool(talk and talk.budget),
        strong_objection=bool(talk and talk.objection),
    )


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
