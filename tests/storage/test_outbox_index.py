"""Every poll of the outbox finds the waiting alerts through `ix_alert_pending`, a partial index holding only
queued and sending rows (a handful among every alert ever sent), on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, text

from storage import outbox

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def poll_statements(engine: Engine) -> list[tuple[str, Any]]:
    """The statements (with their parameters) a poll of the outbox runs that look for waiting alerts."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: Any, *_rest: object) -> None:
        if "status = 'queued'" in statement or "status = 'sending'" in statement:
            seen.append((statement, parameters))

    with engine.connect() as conn:
        with conn.begin():
            for number in range(3):
                conn.execute(text("INSERT INTO alert (kind, channel, dedupe_key, created_at, status, attempts, "
                                  "payload, target) VALUES ('hot', 'slack', :key, '2026-12-01 10:00:00', :status, "
                                  ":attempts, '{}', 'C1')"),
                             {"key": f"a{number}", "status": "sent" if number == 0 else "queued",
                              "attempts": number - 1 if number else 1})
        event.listen(conn, "before_cursor_execute", record)
        with conn.begin() as transaction:
            outbox.expire_due(conn, now=NOW)
            outbox.recover_sending(conn, now=NOW, claimed_before=NOW - timedelta(minutes=5))
            outbox.due_by_target(conn, channel="slack")
            outbox.claim_probe(conn, channel="slack", busy=set(), now=NOW)
            outbox.claim_due(conn, channel="slack", now=NOW, busy=set())
            outbox.queued_count(conn)
            transaction.rollback()
        event.remove(conn, "before_cursor_execute", record)
    return [(sql, params) for sql, params in seen if " id IN " not in sql and "id = " not in sql]  # by key: fine


def plans(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """Each statement's query plan as one text; PostgreSQL told to avoid whole-table reads wherever it can (a
    test table is too small for its planner to bother with an index otherwise)."""
    found = []
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if engine.dialect.name == "postgresql":
            cursor.execute("SET enable_seqscan = off")
        for sql, params in statements:
            cursor.execute(("EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ") + sql, params)
            found.append(" | ".join(str(row[-1]) for row in cursor.fetchall()))
        cursor.close()
    return found


def test_every_outbox_poll_reads_the_waiting_alerts_from_the_partial_index(engine: Engine) -> None:
    statements = poll_statements(engine)
    assert len(statements) >= 6  # expire, recover, due, probe, claim (with its "being sent" look-up), count
    for (sql, _params), plan in zip(statements, plans(engine, statements), strict=True):
        assert "ix_alert_pending" in plan, (sql, plan)
        assert "Seq Scan on alert" not in plan and "SCAN alert" not in plan.replace("SCAN alert USING", ""), plan
