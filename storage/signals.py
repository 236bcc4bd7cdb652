"""The NLP signal of each message: which messages still need reading, and writing what was read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text


def pending_messages(*, conn: Connection, inbound_version: str, outbound_version: str) -> list[tuple[int, str, str]]:
    """(id, direction, text) of every message without a signal from the NLP version its direction is read by."""
    return [tuple(row) for row in conn.execute(text(  # type: ignore[misc]
        "SELECT m.id, m.direction, m.text FROM message m LEFT JOIN signal s ON s.message_id = m.id "
        "WHERE s.id IS NULL OR s.nlp_version != CASE m.direction WHEN 'inbound' THEN :inbound ELSE :outbound END "
        "ORDER BY m.id"), {"inbound": inbound_version, "outbound": outbound_version})]


def save_signals(*, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write signals (message_id, nlp_version, sentiment, sentiment_label, urgency, entities as JSON text,
    analyzed_at), replacing a message's older one."""
    if rows:
        conn.execute(text(
            "INSERT INTO signal (message_id, nlp_version, sentiment, sentiment_label, urgency, entities, analyzed_at) "
            "VALUES (:message_id, :nlp_version, :sentiment, :sentiment_label, :urgency, :entities, :analyzed_at) "
            "ON CONFLICT (message_id) DO UPDATE SET nlp_version = excluded.nlp_version, "
            "sentiment = excluded.sentiment, sentiment_label = excluded.sentiment_label, urgency = excluded.urgency, "
            "entities = excluded.entities, analyzed_at = excluded.analyzed_at"), list(rows))


def inbound_lines(*, conn: Connection, lead_id: int, before: float) -> list[tuple[Any, ...]]:
    """(text, channel, occurred_at, sentiment, urgency, entities) of a lead's read inbound messages before a julian
    day (the message's stored `day`, as SQLite's julianday() computes it), newest first."""
    return [tuple(row) for row in conn.execute(text(
        "SELECT m.text, m.channel, m.occurred_at, s.sentiment, s.urgency, s.entities FROM message m "
        "JOIN signal s ON s.message_id = m.id WHERE m.lead_id = :lead AND m.direction = 'inbound' "
        "AND m.day < :before ORDER BY m.occurred_at DESC"), {"lead": lead_id, "before": before})]
