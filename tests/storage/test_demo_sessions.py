"""One demo session per lead and rep at a time: overlapping or touching windows widen the one there."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.demo_sessions import Opened, open_session, open_sessions
from storage.importers import import_table

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture
def seeded(engine: Engine, write: Callable[[str, str], Path]) -> Engine:
    """One lead (id 1) and two reps (ids 1 and 2)."""
    import_table(engine, "reps", write("reps.csv", "name\nAnn Rep\nBo Rep\n"))
    import_table(engine, "leads", write("leads.csv", "external_id,name,created_at\nL1,Jane Doe,2026-09-01\n"))
    return engine


def window(engine: Engine, start_min: int, end_min: int, rep: int = 1) -> Opened:
    with engine.begin() as conn:
        return open_session(conn, lead_id=1, rep_id=rep, starts_at=T0 + timedelta(minutes=start_min),
                            ends_at=T0 + timedelta(minutes=end_min), source="test")


def spans(engine: Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as conn:
        return [(rep, str(a)[11:16], str(b)[11:16]) for rep, a, b in conn.exec_driver_sql(
            "SELECT rep_id, starts_at, ends_at FROM demo_session ORDER BY id")]


def test_overlapping_and_touching_windows_widen_one_session_and_disjoint_ones_open_another(seeded: Engine) -> None:
    first = window(seeded, 0, 45)
    assert first.merged is False
    assert window(seeded, 0, 45) == (first.id, True)  # the same window again
    assert window(seeded, 30, 60) == (first.id, True)  # overlapping: widened to 15:00-16:00
    assert window(seeded, 60, 70) == (first.id, True)  # touching its end
    later = window(seeded, 120, 150)
    assert later.merged is False and later.id != first.id
    other_rep = window(seeded, 0, 45, rep=2)
    assert other_rep.merged is False  # another rep demoing to the same lead has a session of their own
    assert spans(seeded) == [(1, "15:00", "16:10"), (1, "17:00", "17:30"), (2, "15:00", "15:45")]


def test_a_window_bridging_two_sessions_folds_them_into_the_oldest(seeded: Engine) -> None:
    first, second = window(seeded, 0, 30), window(seeded, 60, 90)
    assert window(seeded, 20, 70) == (first.id, True)
    assert spans(seeded) == [(1, "15:00", "16:30")]
    with seeded.connect() as conn:
        assert [row[0] for row in open_sessions(conn, now=T0 + timedelta(minutes=80))] == [first.id]
    assert second.id != first.id
