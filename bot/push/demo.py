"""Live demos: while a rep demos to a lead, what that lead or their account does that matters is bundled into
one WhatsApp message to the rep."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from bot.replies import clip
from storage.demo_sessions import open_session
from storage.demo_sessions import open_sessions as sessions_open_at
from storage.derived import page_type_from_url

MATTERING_PAGES = ("pricing", "contract", "checkout", "order", "quote")
URGENT = 0.6
SIGNAL_WORDS = {"budget": "budget", "objections": "an objection", "competitors": "a competitor",
                "timeline": "a timeline"}
NAME_LIMIT = 120  # characters of lead and account name in a WhatsApp alert
BODY_LIMIT = 1600  # Twilio refuses longer WhatsApp bodies (error 21617)
MORE_IN_HOTLEAD = "… more in Hotlead"
BUNDLE_S = 0.3  # a burst within this long becomes one message


@dataclass(frozen=True)
class Session:
    """An open demo session with what is needed to match events and reach the rep."""

    id: int
    lead_id: int
    account_id: int | None
    lead_name: str
    account: str | None
    rep_id: int
    rep_whatsapp: str | None
    ends_at: str


@dataclass
class Bundle:
    """What happened in one session since the first unsent item."""

    session: Session
    first_at: float  # monotonic
    lines: list[str] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)


def start_session(conn: Connection, *, lead_id: int, rep_id: int, minutes: float,
                  starts_at: datetime | None = None, source: str = "cli") -> int:
    """Open a demo window (or widen the one the rep already has with the lead: see storage.demo_sessions); its
    id."""
    begin = starts_at or datetime.now(UTC)
    return open_session(conn, lead_id=lead_id, rep_id=rep_id, starts_at=begin,
                        ends_at=begin + timedelta(minutes=minutes), source=source).id


def open_sessions(engine: Engine, now: datetime) -> list[Session]:
    """Sessions whose window contains `now`."""
    with engine.connect() as conn:
        return [Session(*row) for row in sessions_open_at(conn, now=now)]


def _page(values: dict[str, Any]) -> str | None:
    detail = json.loads(values.get("detail") or "{}")
    url = str(detail.get("url", ""))
    page = str(values.get("page_type") or "") or page_type_from_url(url)
    if page in MATTERING_PAGES or any(word in url.lower() for word in MATTERING_PAGES):
        return page or url
    return None


def describe_activity(values: dict[str, Any]) -> str | None:
    """A line for an activity that matters during a demo, else None."""
    kind = values["kind"]
    if kind == "page_view":
        page = _page(values)
        return f"viewed the {page.replace('_', ' ')} page" if page and "/" not in page else (
            f"opened {page}" if page else None)
    return {"demo_request": "requested a demo", "form_submit": "submitted a form",
            "trial_event": "did something in the trial", "email_reply": "replied to an email"}.get(kind)


def describe_message(text_: str, urgency: float, entities: dict[str, Any]) -> str | None:
    """A line for an inbound message that matters (urgent, or naming budget, an objection, a competitor)."""
    said = [label for key, label in SIGNAL_WORDS.items() if any(not s.get("negated") for s in entities.get(key, []))]
    if urgency >= URGENT:
        said.insert(0, "urgency")
    if not said:
        return None
    quote = text_ if len(text_) <= 120 else text_[:119] + "…"
    return f"said “{quote}” ({', '.join(said)})"


def _capped(text_: str, limit: int) -> str:
    return text_ if len(text_) <= limit else text_[: limit - 1] + "…"


def _who(session: Session) -> str:
    """Lead and account, one line, capped: CRM names can be any length."""
    return _capped(_flat(session.lead_name + (f" ({session.account})" if session.account else "")), NAME_LIMIT)


def bundle_body(bundle: Bundle) -> str:
    """The WhatsApp text of a bundle: one message, under Twilio's 1,600 characters, cut between words."""
    lines = [f"🔴 Live demo: *{_who(bundle.session)}*", *[f"• {_flat(line)}" for line in bundle.lines]]
    return clip("\n".join(lines), BODY_LIMIT, MORE_IN_HOTLEAD)


def _flat(text_: str) -> str:
    """One line: a quote's own line breaks would break the list apart."""
    return " ".join(text_.split())


def template_variable(value: str, limit: int) -> str:
    """A value for a WhatsApp template: one line (WhatsApp refuses new lines, tabs and runs of spaces in
    parameters), no `{{…}}` a template could read as its own placeholder, at most `limit` characters."""
    return _capped(_flat(value).replace("{{", "{ {").replace("}}", "} }"), limit)


def template_variables(bundle: Bundle) -> dict[str, str]:
    """Values for the approved template used outside WhatsApp's 24-hour window: {{1}} who, {{2}} what."""
    return {"1": template_variable(_who(bundle.session), NAME_LIMIT),
            "2": template_variable("; ".join(bundle.lines), 600)}
