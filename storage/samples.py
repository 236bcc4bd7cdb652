"""What the benches read to build their workloads and check their results (samples of leads, reps' Slack ids,
sent demo alerts), and the reset a speed bench needs; SQL both engines run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text


def lead_external_ids(*, conn: Connection, limit: int | None = None) -> list[str]:
    """Leads' external ids in id order (the first `limit` of them, or all)."""
    sql = "SELECT external_id FROM lead ORDER BY id" + (" LIMIT :limit" if limit is not None else "")
    return [row[0] for row in conn.execute(text(sql), {"limit": limit})]


def open_leads(*, conn: Connection, limit: int) -> list[tuple[int, str]]:
    """(id, external id) of the first `limit` leads with no outcome, in id order."""
    rows = conn.execute(text("SELECT l.id, l.external_id FROM lead l LEFT JOIN outcome o ON o.lead_id = l.id "
                             "WHERE o.id IS NULL ORDER BY l.id LIMIT :limit"), {"limit": limit})
    return [(int(lead_id), str(external)) for lead_id, external in rows]


def best_scored_names(*, conn: Connection, limit: int) -> list[tuple[str, str, str]]:
    """(external id, name, account name) behind the `limit` highest score rows that have an account."""
    rows = conn.execute(text(
        "SELECT l.external_id, l.name, a.name FROM score s JOIN lead l ON l.id = s.lead_id "
        "JOIN account a ON a.id = l.account_id ORDER BY s.probability DESC, s.id LIMIT :limit"), {"limit": limit})
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def activities_with_detail(*, conn: Connection, fragment: str) -> int:
    """How many activities' detail contains `fragment`."""
    return int(conn.execute(text("SELECT count(*) FROM activity WHERE detail LIKE :pattern"),
                            {"pattern": f"%{fragment}%"}).scalar_one())


def sent_alert_payloads(*, conn: Connection, kind: str) -> list[tuple[str, Any]]:
    """(provider reference, payload JSON) of every alert of this kind the provider accepted."""
    rows = conn.execute(text("SELECT external_ref, payload FROM alert WHERE kind = :kind AND external_ref IS NOT NULL"),
                        {"kind": kind})
    return [(str(ref), payload) for ref, payload in rows]


def clear_scores(*, conn: Connection) -> None:
    """Delete every score history row (a speed bench's full rescore starts from none)."""
    conn.execute(text("DELETE FROM score"))
