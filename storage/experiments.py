"""What the controlled experiment reads: each lead created since its start, its outcome and its first contact."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from storage.db import julian
from storage.derived import PAGE_BITS
from storage.queries import kind_codes

TOUCHES = ("email_sent", "call", "meeting")  # the team reaching out, as activities record it


def experiment_rows(*, conn: Connection, since: str | None) -> list[tuple[Any, ...]]:
    """(external_id, julian day created, converted: 1/0/None while open, julian day of the first contact or None)
    of every lead created at or after `since` (a stamp; None: every lead), by id. The first contact is the
    earliest of an outbound email, call or meeting activity, an outbound message, or a rep marking it contacted."""
    sql = (
        f"SELECT l.external_id, {julian(conn, 'l.created_at')}, o.converted, "
        f"(SELECT min(a.day) FROM activity a WHERE a.lead_id = l.id "
        f"AND a.code >> {PAGE_BITS} IN ({kind_codes(TOUCHES)})), "
        "(SELECT min(m.day) FROM message m WHERE m.lead_id = l.id AND m.inbound = 0), "
        f"(SELECT min({julian(conn, 'c.created_at')}) FROM lead_action c WHERE c.lead_id = l.id "
        "AND c.action = 'contacted') "
        "FROM lead l LEFT JOIN outcome o ON o.lead_id = l.id"
        + (" WHERE l.created_at >= :since" if since else "") + " ORDER BY l.id"
    )
    rows = conn.execute(text(sql), {"since": since} if since else {}).all()
    return [(r[0], r[1], r[2], min((d for d in r[3:] if d is not None), default=None)) for r in rows]


START_KEY = "experiment_started"


def experiment_start(*, conn: Connection, moment: str | None = None) -> str | None:
    """When the experiment started (a stamp): the moment leads were first held out. With `moment`, that moment is
    recorded first unless another process recorded one already (the first one stands)."""
    if moment is not None:
        conn.execute(text("INSERT INTO meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO NOTHING"),
                     {"key": START_KEY, "value": moment})
    found = conn.execute(text("SELECT value FROM meta WHERE key = :key"), {"key": START_KEY}).scalar()
    return None if found is None else str(found)
