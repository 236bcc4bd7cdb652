"""The schema as it stood when migrations began: Hotlead's schema version 9, on SQLite and PostgreSQL.

Frozen: later changes are later revisions. It creates only the tables a database lacks, so that a database of an
older, pre-Alembic schema (5 to 8: storage/db.py brings their columns up first) gets the tables those lacked.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)
DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# Triggers that fill the numbers of activity and message rows written without them (storage/derived.py made them)
TRIGGERS = {
    ('activity', 'sqlite'): (
        "CREATE TRIGGER activity_numbers AFTER INSERT ON activity WHEN NEW.day IS NULL OR NEW.code IS NULL BEGIN UPDATE activity SET day = julianday(NEW.occurred_at), code = (CASE NEW.kind WHEN 'page_view' THEN 0 WHEN 'email_sent' THEN 1 WHEN 'email_open' THEN 2 WHEN 'email_click' THEN 3 WHEN 'email_reply' THEN 4 WHEN 'email_bounce' THEN 5 WHEN 'unsubscribe' THEN 6 WHEN 'form_submit' THEN 7 WHEN 'demo_request' THEN 8 WHEN 'webinar' THEN 9 WHEN 'trial_event' THEN 10 WHEN 'meeting' THEN 11 WHEN 'call' THEN 12 ELSE 13 END) * 16 + (CASE NEW.page_type WHEN '' THEN 0 WHEN 'pricing' THEN 1 WHEN 'demo' THEN 2 WHEN 'docs' THEN 3 WHEN 'case_study' THEN 4 WHEN 'blog' THEN 5 WHEN 'home' THEN 6 WHEN 'careers' THEN 7 ELSE 8 END) WHERE id = NEW.id; END",
        "CREATE TRIGGER activity_numbers_kept AFTER UPDATE OF occurred_at, kind, page_type ON activity BEGIN UPDATE activity SET day = julianday(NEW.occurred_at), code = (CASE NEW.kind WHEN 'page_view' THEN 0 WHEN 'email_sent' THEN 1 WHEN 'email_open' THEN 2 WHEN 'email_click' THEN 3 WHEN 'email_reply' THEN 4 WHEN 'email_bounce' THEN 5 WHEN 'unsubscribe' THEN 6 WHEN 'form_submit' THEN 7 WHEN 'demo_request' THEN 8 WHEN 'webinar' THEN 9 WHEN 'trial_event' THEN 10 WHEN 'meeting' THEN 11 WHEN 'call' THEN 12 ELSE 13 END) * 16 + (CASE NEW.page_type WHEN '' THEN 0 WHEN 'pricing' THEN 1 WHEN 'demo' THEN 2 WHEN 'docs' THEN 3 WHEN 'case_study' THEN 4 WHEN 'blog' THEN 5 WHEN 'home' THEN 6 WHEN 'careers' THEN 7 ELSE 8 END) WHERE id = NEW.id; END",
    ),
    ('message', 'sqlite'): (
        "CREATE TRIGGER message_numbers AFTER INSERT ON message WHEN NEW.day IS NULL OR NEW.inbound IS NULL OR NEW.question IS NULL BEGIN UPDATE message SET day = julianday(NEW.occurred_at), inbound = (NEW.direction = 'inbound'), question = (instr(NEW.text, '?') > 0) WHERE id = NEW.id; END",
        "CREATE TRIGGER message_numbers_kept AFTER UPDATE OF occurred_at, direction, text ON message BEGIN UPDATE message SET day = julianday(NEW.occurred_at), inbound = (NEW.direction = 'inbound'), question = (instr(NEW.text, '?') > 0) WHERE id = NEW.id; END",
    ),
    ('activity', 'postgresql'): (
        "CREATE OR REPLACE FUNCTION activity_numbers() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'UPDATE' OR NEW.day IS NULL OR NEW.code IS NULL THEN NEW.day := ((round(EXTRACT(EPOCH FROM NEW.occurred_at) * 1000) + 210866760000000)::float8 / 86400000.0); NEW.code := (CASE NEW.kind WHEN 'page_view' THEN 0 WHEN 'email_sent' THEN 1 WHEN 'email_open' THEN 2 WHEN 'email_click' THEN 3 WHEN 'email_reply' THEN 4 WHEN 'email_bounce' THEN 5 WHEN 'unsubscribe' THEN 6 WHEN 'form_submit' THEN 7 WHEN 'demo_request' THEN 8 WHEN 'webinar' THEN 9 WHEN 'trial_event' THEN 10 WHEN 'meeting' THEN 11 WHEN 'call' THEN 12 ELSE 13 END) * 16 + (CASE NEW.page_type WHEN '' THEN 0 WHEN 'pricing' THEN 1 WHEN 'demo' THEN 2 WHEN 'docs' THEN 3 WHEN 'case_study' THEN 4 WHEN 'blog' THEN 5 WHEN 'home' THEN 6 WHEN 'careers' THEN 7 ELSE 8 END); END IF; RETURN NEW; END $$",
        'CREATE TRIGGER activity_numbers BEFORE INSERT OR UPDATE OF occurred_at, kind, page_type ON activity FOR EACH ROW EXECUTE FUNCTION activity_numbers()',
    ),
    ('message', 'postgresql'): (
        "CREATE OR REPLACE FUNCTION message_numbers() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'UPDATE' OR NEW.day IS NULL OR NEW.inbound IS NULL OR NEW.question IS NULL THEN NEW.day := ((round(EXTRACT(EPOCH FROM NEW.occurred_at) * 1000) + 210866760000000)::float8 / 86400000.0); NEW.inbound := (NEW.direction = 'inbound')::int; NEW.question := (strpos(NEW.text, '?') > 0)::int; END IF; RETURN NEW; END $$",
        'CREATE TRIGGER message_numbers BEFORE INSERT OR UPDATE OF occurred_at, direction, text ON message FOR EACH ROW EXECUTE FUNCTION message_numbers()',
    ),
}


def _account() -> None:
    op.create_table('account',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(), nullable=False),
        sa.Column('domain', sa.String(), nullable=True),
        sa.Column('industry', sa.String(), nullable=True),
        sa.Column('employees', sa.Integer(), nullable=True),
        sa.Column('country', sa.String(), nullable=True),
        sa.Column('extra', DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )


def _attribute() -> None:
    op.create_table('attribute',
        sa.Column('name', sa.String(), nullable=False),
        sa.Column('kind', sa.String(), nullable=False),
        sa.Column('source', sa.String(), nullable=False),
        sa.PrimaryKeyConstraint('name')
    )


def _job_run() -> None:
    op.create_table('job_run',
        sa.Column('job', sa.String(), nullable=False),
        sa.Column('ran_at', MOMENT, nullable=False),
        sa.PrimaryKeyConstraint('job')
    )


def _meta() -> None:
    op.create_table('meta',
        sa.Column('key', sa.String(), nullable=False),
        sa.Column('value', sa.String(), nullable=False),
        sa.PrimaryKeyConstraint('key')
    )


def _model_version() -> None:
    op.create_table('model_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(), nullable=False),
        sa.Column('algorithm', sa.String(), nullable=False),
        sa.Column('params', DOCUMENT, nullable=False),
        sa.Column('features', DOCUMENT, nullable=False),
        sa.Column('trained_at', MOMENT, nullable=False),
        sa.Column('window_start', MOMENT, nullable=True),
        sa.Column('window_end', MOMENT, nullable=True),
        sa.Column('metrics', DOCUMENT, nullable=False),
        sa.Column('artifact', sa.LargeBinary(), nullable=False),
        sa.Column('status', sa.String(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('version')
    )


def _rep() -> None:
    op.create_table('rep',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(), nullable=False),
        sa.Column('role', sa.String(), nullable=False),
        sa.Column('email', sa.String(), nullable=True),
        sa.Column('slack_user_id', sa.String(), nullable=True),
        sa.Column('whatsapp', sa.String(), nullable=True),
        sa.Column('timezone', sa.String(), nullable=False),
        sa.Column('whatsapp_seen_at', MOMENT, nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )
    op.create_index(op.f('ix_rep_slack_user_id'), 'rep', ['slack_user_id'], unique=False)
    op.create_index(op.f('ix_rep_whatsapp'), 'rep', ['whatsapp'], unique=False)


def _seen_request() -> None:
    op.create_table('seen_request',
        sa.Column('key', sa.String(), nullable=False),
        sa.Column('seen_at', MOMENT, nullable=False),
        sa.PrimaryKeyConstraint('key')
    )
    op.create_index(op.f('ix_seen_request_seen_at'), 'seen_request', ['seen_at'], unique=False)


def _target_pause() -> None:
    op.create_table('target_pause',
        sa.Column('channel', sa.String(), nullable=False),
        sa.Column('target', sa.String(), nullable=False),
        sa.Column('until', MOMENT, nullable=False),
        sa.PrimaryKeyConstraint('channel', 'target')
    )


def _lead() -> None:
    op.create_table('lead',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('external_id', sa.String(), nullable=False),
        sa.Column('name', sa.String(), nullable=False),
        sa.Column('email', sa.String(), nullable=True),
        sa.Column('phone', sa.String(), nullable=True),
        sa.Column('title', sa.String(), nullable=True),
        sa.Column('seniority', sa.String(), nullable=True),
        sa.Column('source', sa.String(), nullable=True),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('created_at', MOMENT, nullable=False),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('attributes', DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('external_id'),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
        sa.ForeignKeyConstraint(['owner_id'], ['rep.id'], )
    )
    op.create_index(op.f('ix_lead_account_id'), 'lead', ['account_id'], unique=False)


def _activity() -> None:
    op.create_table('activity',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(), nullable=False),
        sa.Column('occurred_at', MOMENT, nullable=False),
        sa.Column('page_type', sa.String(), nullable=False),
        sa.Column('detail', DOCUMENT, nullable=False),
        sa.Column('day', sa.Float(), nullable=True),
        sa.Column('code', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('lead_id', 'occurred_at', 'kind', 'page_type', 'detail', name='uq_activity_natural'),
        sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], )
    )
    op.create_index('ix_activity_lead_day', 'activity', ['lead_id', 'day', 'code'], unique=False)


def _alert() -> None:
    op.create_table('alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=True),
        sa.Column('rep_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(), nullable=False),
        sa.Column('channel', sa.String(), nullable=False),
        sa.Column('dedupe_key', sa.String(), nullable=False),
        sa.Column('created_at', MOMENT, nullable=False),
        sa.Column('sent_at', MOMENT, nullable=True),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('delivery', sa.String(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', MOMENT, nullable=True),
        sa.Column('expires_at', MOMENT, nullable=True),
        sa.Column('unsure_since', MOMENT, nullable=True),
        sa.Column('claimed_at', MOMENT, nullable=True),
        sa.Column('last_error', sa.String(), nullable=True),
        sa.Column('target', sa.String(), nullable=True),
        sa.Column('external_ref', sa.String(), nullable=True),
        sa.Column('payload', DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ),
        sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
        sa.UniqueConstraint('dedupe_key')
    )
    op.create_index(op.f('ix_alert_external_ref'), 'alert', ['external_ref'], unique=False)
    op.create_index(op.f('ix_alert_next_attempt_at'), 'alert', ['next_attempt_at'], unique=False)


def _demo_session() -> None:
    op.create_table('demo_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('rep_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', MOMENT, nullable=False),
        sa.Column('ends_at', MOMENT, nullable=False),
        sa.Column('source', sa.String(), nullable=False),
        sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ),
        sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
        sa.PrimaryKeyConstraint('id')
    )


def _lead_action() -> None:
    op.create_table('lead_action',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('rep_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(), nullable=False),
        sa.Column('created_at', MOMENT, nullable=False),
        sa.Column('until', MOMENT, nullable=True),
        sa.Column('note', sa.String(), nullable=True),
        sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ),
        sa.ForeignKeyConstraint(['rep_id'], ['rep.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_lead_action_lead_time', 'lead_action', ['lead_id', 'created_at'], unique=False)


def _message() -> None:
    op.create_table('message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(), nullable=False),
        sa.Column('direction', sa.String(), nullable=False),
        sa.Column('speaker', sa.String(), nullable=True),
        sa.Column('text', sa.String(), nullable=False),
        sa.Column('occurred_at', MOMENT, nullable=False),
        sa.Column('source_ref', sa.String(), nullable=False),
        sa.Column('day', sa.Float(), nullable=True),
        sa.Column('inbound', sa.Integer(), nullable=True),
        sa.Column('question', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ),
        sa.UniqueConstraint('source_ref')
    )
    op.create_index('ix_message_lead_time', 'message', ['lead_id', 'occurred_at', 'day', 'inbound', 'question'],
                    unique=False)


def _outcome() -> None:
    op.create_table('outcome',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('converted', sa.Integer(), nullable=False),
        sa.Column('amount', sa.Float(), nullable=True),
        sa.Column('closed_at', MOMENT, nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('lead_id'),
        sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], )
    )


def _score() -> None:
    op.create_table('score',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('model_version_id', sa.Integer(), nullable=False),
        sa.Column('scored_at', MOMENT, nullable=False),
        sa.Column('probability', sa.Float(), nullable=False),
        sa.Column('percentile', sa.Float(), nullable=False),
        sa.Column('band', sa.String(), nullable=False),
        sa.Column('reasons', DOCUMENT, nullable=False),
        sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ),
        sa.ForeignKeyConstraint(['model_version_id'], ['model_version.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_score_lead_time', 'score', ['lead_id', 'scored_at'], unique=False)


def _delivery_event() -> None:
    op.create_table('delivery_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=True),
        sa.Column('external_ref', sa.String(), nullable=True),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('error_code', sa.String(), nullable=True),
        sa.Column('received_at', MOMENT, nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_delivery_event_alert_id'), 'delivery_event', ['alert_id'], unique=False)


def _signal() -> None:
    op.create_table('signal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('nlp_version', sa.String(), nullable=False),
        sa.Column('sentiment', sa.Float(), nullable=False),
        sa.Column('sentiment_label', sa.String(), nullable=False),
        sa.Column('urgency', sa.Float(), nullable=False),
        sa.Column('entities', DOCUMENT, nullable=False),
        sa.Column('analyzed_at', MOMENT, nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id'),
        sa.ForeignKeyConstraint(['message_id'], ['message.id'], )
    )


_TABLES = (("account", _account), ("attribute", _attribute), ("job_run", _job_run), ("meta", _meta),
           ("model_version", _model_version), ("rep", _rep), ("seen_request", _seen_request),
           ("target_pause", _target_pause), ("lead", _lead), ("activity", _activity), ("alert", _alert),
           ("demo_session", _demo_session), ("lead_action", _lead_action), ("message", _message),
           ("outcome", _outcome), ("score", _score), ("delivery_event", _delivery_event), ("signal", _signal))


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    present = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in _TABLES:
        if name in present:
            continue
        create()
        for statement in TRIGGERS.get((name, dialect), ()):
            op.execute(statement)
        if name == "message" and dialect == "postgresql":  # transcripts' look-up of earlier versions, in byte order
            op.execute('CREATE INDEX ix_message_ref_bytes ON message (source_ref COLLATE "C")')


def downgrade() -> None:
    for name, _create in reversed(_TABLES):
        op.drop_table(name)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS activity_numbers(), message_numbers()")
