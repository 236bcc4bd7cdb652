"""Every table of the lead store.

Times are UTC: stored as `YYYY-MM-DD HH:MM:SS.ffffff` text (what the importers write directly), read back
through the ORM as timezone-aware UTC datetimes (SQLModel's UTCDateTime refuses naive ones).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, Column, Float, Index, LargeBinary, Unicode, UniqueConstraint, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from storage.derived import triggers

SCHEMA_VERSION = 9


# JSON on SQLite; JSONB on PostgreSQL, whose plain json cannot be compared, so cannot sit in a natural key
JSON_DOCUMENT = JSON().with_variant(JSONB(), "postgresql")


def _json(**kwargs: Any) -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON_DOCUMENT, nullable=False, **kwargs))


class Meta(SQLModel, table=True):
    """Key/value facts about the database itself (schema version, how it was made)."""

    key: str = Field(primary_key=True)
    value: str


class Account(SQLModel, table=True):
    """A company."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    domain: str | None = None
    industry: str | None = None
    employees: int | None = None
    country: str | None = None
    extra: dict[str, Any] = _json()


class Rep(SQLModel, table=True):
    """A member of the sales team the bot talks to."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    role: str = "rep"  # rep | senior | bdr | manager
    email: str | None = None
    slack_user_id: str | None = Field(default=None, index=True)
    whatsapp: str | None = Field(default=None, index=True)
    timezone: str = "UTC"
    # WhatsApp allows free-form messages only within 24 hours of the rep's last message to the bot
    whatsapp_seen_at: datetime | None = None


class Lead(SQLModel, table=True):
    """A person at an account; `attributes` holds typed columns of an imported CRM export."""

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True)
    name: str
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    seniority: str | None = None
    source: str | None = None
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    owner_id: int | None = Field(default=None, foreign_key="rep.id")
    created_at: datetime
    status: str = "open"  # open | won | lost | snoozed | contacted
    attributes: dict[str, Any] = _json()


class Attribute(SQLModel, table=True):
    """The inferred type of one CRM-export column kept in `lead.attributes`."""

    name: str = Field(primary_key=True)
    kind: str  # number | category | boolean | date | text
    source: str


class Activity(SQLModel, table=True):
    """One behavioural event; the natural key makes re-imports change nothing."""

    __table_args__ = (
        # Lead first: the key also serves every per-lead lookup.
        UniqueConstraint("lead_id", "occurred_at", "kind", "page_type", "detail", name="uq_activity_natural"),
        Index("ix_activity_lead_day", "lead_id", "day", "code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id")
    kind: str
    occurred_at: datetime
    page_type: str = ""  # for page views: pricing, demo, docs, case_study…; "" otherwise (part of the key)
    detail: dict[str, Any] = _json()
    # numbers for feature queries (storage.derived): julian day, kind and page code
    day: float | None = None
    code: int | None = None


class Message(SQLModel, table=True):
    """One line of conversation; inbound lines are the prospect's, outbound the rep's."""

    __table_args__ = (Index("ix_message_lead_time", "lead_id", "occurred_at", "day", "inbound", "question"),)

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id")
    channel: str  # slack | whatsapp | email | chat | call
    direction: str  # inbound | outbound
    speaker: str | None = None
    text: str
    occurred_at: datetime
    source_ref: str = Field(unique=True)
    # numbers for feature queries (storage.derived): julian day, from the prospect?, asks a question?
    day: float | None = None
    inbound: int | None = None
    question: int | None = None


class Signal(SQLModel, table=True):
    """NLP output for one message."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", unique=True)
    nlp_version: str
    sentiment: float
    sentiment_label: str
    urgency: float
    entities: dict[str, Any] = _json()
    analyzed_at: datetime


class Outcome(SQLModel, table=True):
    """How a lead ended: converted (1) or lost (0)."""

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", unique=True)
    converted: int
    amount: float | None = None
    closed_at: datetime | None = None


class ModelVersion(SQLModel, table=True):
    """A trained scorer: what it saw, how good it was, and the booster itself."""

    __tablename__ = "model_version"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(unique=True)
    algorithm: str = "xgboost"
    params: dict[str, Any] = _json()
    features: dict[str, Any] = _json()
    trained_at: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    metrics: dict[str, Any] = _json()
    artifact: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = "candidate"  # candidate | active | retired


class Score(SQLModel, table=True):
    """Append-only score history, with the reasons behind each score."""

    __table_args__ = (Index("ix_score_lead_time", "lead_id", "scored_at"),)

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id")
    model_version_id: int = Field(foreign_key="model_version.id")
    scored_at: datetime
    probability: float
    percentile: float
    band: str
    reasons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON_DOCUMENT, nullable=False))


class LeadAction(SQLModel, table=True):
    """What a rep did about a lead from chat: snoozed it (until a time), marked it contacted, or judged it not a
    fit (or a fit after all), with their words in `note`."""

    __tablename__ = "lead_action"
    __table_args__ = (Index("ix_lead_action_lead_time", "lead_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id")
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    action: str  # snooze | contacted | not_fit | fit
    created_at: datetime
    until: datetime | None = None
    note: str | None = None


class DemoSession(SQLModel, table=True):
    """A live-demo window during which the rep gets WhatsApp alerts about the lead."""

    __tablename__ = "demo_session"

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id")
    rep_id: int = Field(foreign_key="rep.id")
    starts_at: datetime
    ends_at: datetime
    source: str = "cli"  # cli | slack | calendar


# The outbox's waiting rows (queued or being sent): a few among every alert ever sent, found by every poll of
# every server process. Partial, so it stays that small; covering (id and due time) on PostgreSQL.
PENDING = "status = 'queued' OR status = 'sending'"


class Alert(SQLModel, table=True):
    """The outbox: an alert is written here before it is sent."""

    __table_args__ = (Index("ix_alert_pending", "status", "channel", "target", "next_attempt_at",
                            sqlite_where=text(PENDING), postgresql_where=text(PENDING),
                            postgresql_include=["id"]),)

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int | None = Field(default=None, foreign_key="lead.id")
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    kind: str
    channel: str
    dedupe_key: str = Field(unique=True)
    created_at: datetime
    sent_at: datetime | None = None
    status: str = "queued"  # the outbox's own state: queued | sending | sent | failed | expired | superseded
    delivery: str | None = None  # the carrier's last delivery status (Twilio's callbacks), moving only forward
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, index=True)  # also holds quiet hours back
    expires_at: datetime | None = None  # not sent by then: expired (a live-demo alert once its demo is over)
    unsure_since: datetime | None = None  # an attempt whose answer was lost: check the channel before re-sending
    claimed_at: datetime | None = None  # when a process took it to send: a lease, taken back once it runs out
    last_error: str | None = None
    target: str | None = None  # Slack channel or user id, or the WhatsApp number
    external_ref: str | None = Field(default=None, index=True)  # Slack message ts or Twilio message SID
    payload: dict[str, Any] = _json()


class TargetPause(SQLModel, table=True):
    """A channel's target that asked to wait (a 429's Retry-After), until when: shared by every server process,
    so that none posts to it meanwhile and its alerts keep their order."""

    __tablename__ = "target_pause"

    channel: str = Field(primary_key=True)
    target: str = Field(primary_key=True)
    until: datetime


class SeenRequest(SQLModel, table=True):
    """A request already handled (a Slack event id, a button's trigger id), shared by every server process, so
    that Slack's retries and replays are answered once whichever process they reach."""

    __tablename__ = "seen_request"

    key: str = Field(primary_key=True)
    seen_at: datetime = Field(index=True)


class JobRun(SQLModel, table=True):
    """When each scheduled job last ran, in any server process: a run claims its slot here first, so that the
    digest and retraining run once per schedule however many processes keep the schedule."""

    __tablename__ = "job_run"

    job: str = Field(primary_key=True)
    ran_at: datetime


class SchedulerJob(SQLModel, table=True):
    """APScheduler's job store (bot/jobs.py), in APScheduler's own shape: made with the schema (revision 0002), so
    that servers starting together find it there instead of each creating it (one of them would fail)."""

    __tablename__ = "apscheduler_jobs"

    id: str = Field(sa_column=Column(Unicode(191), primary_key=True))
    next_run_time: float | None = Field(default=None, sa_column=Column(Float(25), index=True))
    job_state: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CrmCursor(SQLModel, table=True):
    """How far a CRM sync has read each object kind: the last modified time it wrote (as the CRM writes it)."""

    __tablename__ = "crm_cursor"

    crm: str = Field(primary_key=True)  # hubspot | salesforce
    kind: str = Field(primary_key=True)  # owners | companies | contacts | deals | engagements
    cursor: str
    synced_at: datetime


class CrmLink(SQLModel, table=True):
    """A CRM record and the Hotlead row it became (a rep, account, lead or outcome), both ways: a sync finds the
    row of a record it pulled before, a write-back the record of a lead."""

    __tablename__ = "crm_link"
    __table_args__ = (Index("ix_crm_link_local", "crm", "kind", "local_id"),)

    crm: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    crm_id: str = Field(primary_key=True)
    local_id: int


class DeliveryEvent(SQLModel, table=True):
    """One delivery callback as the carrier sent it (repeated, late and out of order ones included)."""

    __tablename__ = "delivery_event"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    external_ref: str | None = None  # the carrier's message id (Twilio MessageSid)
    status: str
    error_code: str | None = None
    received_at: datetime


# PostgreSQL: transcripts find their earlier versions by a range of source_ref in byte order (storage/importers/
# transcripts.py); the unique index is in the database's collation, so the range needs its own (SQLite compares
# bytes already).
event.listen(Message.__table__, "after_create", DDL(  # type: ignore[attr-defined]
    'CREATE INDEX IF NOT EXISTS ix_message_ref_bytes ON message (source_ref COLLATE "C")'
).execute_if(dialect="postgresql"))

for _table in (Activity.__table__, Message.__table__):  # type: ignore[attr-defined]
    for _dialect in ("sqlite", "postgresql"):
        for _statement in triggers(_table.name, _dialect):
            event.listen(_table, "after_create", DDL(_statement).execute_if(dialect=_dialect))
