"""What several server processes do once between them, decided by the database: a request seen, a scheduled
job's run. Each caller here has its own engine (its own connections), as separate processes would, and they call
at the same moment (a barrier), on SQLite and on PostgreSQL (--engine)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from storage.db import make_engine
from storage.seen import claim_job_run, first_sighting, forget_sightings

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CALLERS = 8


def at_once(engine: Engine, call: Callable[[Connection], bool]) -> list[bool]:
    """`call` from CALLERS engines on the same database at once, each in its own transaction."""
    engines = [make_engine(engine.url.render_as_string(hide_password=False)) for _ in range(CALLERS)]
    start = threading.Barrier(CALLERS)

    def one(own: Engine) -> bool:
        with own.connect() as conn:
            conn.exec_driver_sql("SELECT 1")  # connected before the race starts
            conn.rollback()
            start.wait()
            with conn.begin():
                return call(conn)

    try:
        with ThreadPoolExecutor(CALLERS) as pool:
            return list(pool.map(one, engines))
    finally:
        for own in engines:
            own.dispose()


def test_a_request_seen_by_many_processes_at_once_is_first_for_exactly_one(engine: Engine) -> None:
    answers = at_once(engine, lambda conn: first_sighting(conn=conn, key="Ev0RETRY", now=NOW))
    assert sorted(answers) == [False] * (CALLERS - 1) + [True]
    with engine.begin() as conn:
        assert first_sighting(conn=conn, key="Ev0OTHER", now=NOW)
        assert not first_sighting(conn=conn, key="Ev0RETRY", now=NOW + timedelta(minutes=5))


def test_old_sightings_are_forgotten_and_new_ones_kept(engine: Engine) -> None:
    with engine.begin() as conn:
        first_sighting(conn=conn, key="old", now=NOW - timedelta(days=2))
        first_sighting(conn=conn, key="new", now=NOW)
        assert forget_sightings(conn=conn, before=NOW - timedelta(days=1)) == 1
        assert first_sighting(conn=conn, key="old", now=NOW) and not first_sighting(conn=conn, key="new", now=NOW)


def test_a_scheduled_run_claimed_by_many_processes_at_once_runs_once(engine: Engine) -> None:
    def claim(moment: datetime) -> Callable[[Connection], bool]:
        return lambda conn: claim_job_run(conn=conn, job="weekly-digest", now=moment,
                                          not_since=moment - timedelta(days=3))

    assert sorted(at_once(engine, claim(NOW))) == [False] * (CALLERS - 1) + [True]  # the very first run
    assert sorted(at_once(engine, claim(NOW + timedelta(minutes=2)))) == [False] * CALLERS  # the same slot
    assert sorted(at_once(engine, claim(NOW + timedelta(days=7)))) == [False] * (CALLERS - 1) + [True]  # next week
