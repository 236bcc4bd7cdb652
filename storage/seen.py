"""What several server processes must do once between them: answer a request (Slack retries an event whose
acknowledgement was slow, and may deliver the retry to another process behind the load balancer) and run a
scheduled job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from storage.history import stamp


def first_sighting(*, conn: Connection, key: str, now: datetime) -> bool:
    """Record `key` as handled; True only for the first caller, in any process (the primary key decides)."""
    added = conn.execute(text("INSERT INTO seen_request (key, seen_at) VALUES (:key, :now) "
                              "ON CONFLICT DO NOTHING RETURNING key"), {"key": key, "now": stamp(now)}).first()
    return added is not None


def forget_sightings(*, conn: Connection, before: datetime) -> int:
    """Drop the keys handled before `before` (retries and replays come within minutes); how many."""
    return int(conn.execute(text("DELETE FROM seen_request WHERE seen_at < :before"),
                            {"before": stamp(before)}).rowcount)


def claim_job_run(*, conn: Connection, job: str, now: datetime, not_since: datetime) -> bool:
    """Claim this run of a scheduled job: True for the one caller, in any process, when the job has not run
    since `not_since` (the row's lock makes a second, simultaneous caller wait and then see the first's run)."""
    if conn.execute(text("INSERT INTO job_run (job, ran_at) VALUES (:job, :now) ON CONFLICT DO NOTHING "
                         "RETURNING job"), {"job": job, "now": stamp(now)}).first() is not None:
        return True
    return bool(conn.execute(text("UPDATE job_run SET ran_at = :now WHERE job = :job AND ran_at <= :since"),
                             {"job": job, "now": stamp(now), "since": stamp(not_since)}).rowcount == 1)
