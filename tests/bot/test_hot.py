"""Hot-lead alert rules: what deserves an alert, who gets it, and when."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from bot.push.hot import after_quiet_hours, alert_moves, kind_of, suggest_owner
from scoring.incremental import Moved
from tests.conftest import plain, run_sql


def moved(before: tuple[float, float, str] | None, percentile: float, band: str, lead_id: int = 1) -> Moved:
    return Moved(lead_id, before, 0.5, percentile, band, [{"text": "Visited pricing 3×", "contribution": 0.8}])


@pytest.mark.parametrize("before, percentile, band, kind", [
    ((0.2, 85.0, "warm"), 92.0, "hot", "hot"),
    (None, 95.0, "hot", "hot"),
    ((0.6, 95.0, "hot"), 97.0, "hot", None),  # already hot: no news
    ((0.05, 40.0, "cold"), 65.0, "warm", "jump"),
    ((0.05, 40.0, "cold"), 50.0, "cold", None),
])
def test_what_deserves_an_alert(before: tuple[float, float, str] | None, percentile: float, band: str,
                                kind: str | None) -> None:
    assert kind_of(moved(before, percentile, band)) == kind


@pytest.mark.parametrize("utc, zone, expected", [
    (datetime(2026, 11, 23, 14, 0, tzinfo=UTC), "America/New_York", None),  # 09:00 there
    (datetime(2026, 11, 24, 2, 0, tzinfo=UTC), "America/New_York", datetime(2026, 11, 24, 13, 0, tzinfo=UTC)),
    (datetime(2026, 11, 23, 22, 30, tzinfo=UTC), "Europe/Berlin", datetime(2026, 11, 24, 7, 0, tzinfo=UTC)),
    (datetime(2026, 11, 23, 5, 0, tzinfo=UTC), "Asia/Kolkata", None),  # 10:30 there
])
def test_dms_wait_out_the_reps_quiet_hours(utc: datetime, zone: str, expected: datetime | None) -> None:
    assert after_quiet_hours(utc, zone, (time(20, 0), time(8, 0))) == expected


@pytest.mark.parametrize("utc, quiet, expected", [
    (datetime(2026, 11, 23, 12, 30, tzinfo=UTC), (time(12, 0), time(13, 0)), datetime(2026, 11, 23, 13, 0, tzinfo=UTC)),
    (datetime(2026, 11, 23, 13, 0, tzinfo=UTC), (time(12, 0), time(13, 0)), None),
    (datetime(2026, 11, 23, 23, 0, tzinfo=UTC), (time(22, 0), time(6, 30)), datetime(2026, 11, 24, 6, 30, tzinfo=UTC)),
    (datetime(2026, 11, 23, 3, 0, tzinfo=UTC), None, None),  # quiet hours off
])
def test_quiet_hours_are_any_window_or_none(utc: datetime, quiet: tuple[time, time] | None,
                                            expected: datetime | None) -> None:
    assert after_quiet_hours(utc, "UTC", quiet) == expected


def owner_dm_not_before(engine: Engine, settings: Settings, at: datetime) -> list[str | None]:
    with engine.connect() as conn:
        lead_id, zone = run_sql(conn, "SELECT l.id, r.timezone FROM lead l JOIN rep r ON r.id = l.owner_id "
                                             "WHERE r.timezone = 'America/New_York' LIMIT 1").one()
    alert_moves(engine, settings, [moved((0.2, 85.0, "warm"), 93.0, "hot", lead_id)], at)
    with engine.connect() as conn:
        return [plain(r[0]) for r in run_sql(conn, "SELECT next_attempt_at FROM alert WHERE lead_id = ?", (lead_id,))]


def test_owner_dms_are_sent_at_once_unless_quiet_hours_are_set(demo_engine: Engine) -> None:
    night = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 22:00 in New York
    assert owner_dm_not_before(demo_engine, Settings(), night) == [None]
    with demo_engine.begin() as conn:
        run_sql(conn, "DELETE FROM alert")
    held = owner_dm_not_before(demo_engine, Settings(hotlead_quiet_hours="20:00-08:00"), night)
    assert held == ["2026-11-24 13:00:00.000000"]  # 08:00 in New York


def test_unassigned_hot_leads_go_to_a_senior_rep_and_warm_ones_to_a_bdr(demo_engine: Engine) -> None:
    routes = Settings().routes()
    hot, warm = suggest_owner(demo_engine, "hot", routes), suggest_owner(demo_engine, "warm", routes)
    with demo_engine.connect() as conn:
        roles = dict(run_sql(conn, "SELECT id, role FROM rep").all())
    assert hot is not None and roles[hot[0]] == "senior"
    assert warm is not None and roles[warm[0]] == "bdr"


def test_an_unassigned_lead_is_posted_with_a_suggested_owner_who_gets_the_dm(demo_engine: Engine) -> None:
    with demo_engine.begin() as conn:
        lead_id = run_sql(conn, "SELECT id FROM lead ORDER BY id LIMIT 1").scalar_one()
        run_sql(conn, "UPDATE lead SET owner_id = NULL WHERE id = ?", (lead_id,))
    noon = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # daytime for every demo rep in the Americas and Europe
    ids = alert_moves(demo_engine, Settings(hotlead_alert_channel="C0ALERTS"),
                      [moved((0.2, 85.0, "warm"), 93.0, "hot", lead_id)], noon)
    assert len(ids) == 2
    with demo_engine.connect() as conn:
        rows = run_sql(conn, "SELECT a.target, a.payload, r.role FROM alert a LEFT JOIN rep r "
                                    "ON r.id = a.rep_id ORDER BY a.id").all()
    assert rows[0][0] == "C0ALERTS" and "suggested owner" in plain(rows[0][1])
    assert rows[1][2] == "senior"
    again = alert_moves(demo_engine, Settings(hotlead_alert_channel="C0ALERTS"),
                        [moved((0.2, 85.0, "warm"), 93.0, "hot", lead_id)], noon)
    assert again == []  # one alert per lead and kind per cooldown


def test_a_jump_alert_waits_a_minute_and_gives_way_when_the_lead_turns_hot(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        lead_id = run_sql(conn, "SELECT id FROM lead WHERE owner_id IS NOT NULL LIMIT 1").scalar_one()
    noon = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    settings = Settings(hotlead_alert_channel="C0ALERTS")
    jumped = alert_moves(demo_engine, settings, [moved((0.05, 40.0, "cold"), 65.0, "warm", lead_id)], noon)
    hot = alert_moves(demo_engine, settings, [moved((0.3, 65.0, "warm"), 95.0, "hot", lead_id)], noon)
    assert len(jumped) == len(hot) == 2
    with demo_engine.connect() as conn:
        rows = dict(((r[0], r[1]), (r[2], plain(r[3]))) for r in run_sql(conn,
            "SELECT kind, target, status, next_attempt_at FROM alert WHERE lead_id = ?", (lead_id,)))
    assert {status for status, _ in (rows[k] for k in rows if k[0] == "jump")} == {"superseded"}
    assert [at for (kind, _), (_, at) in rows.items() if kind == "jump"] == ["2026-11-23 17:01:00.000000"] * 2
    assert {rows[k] for k in rows if k[0] == "hot"} == {("queued", None)}  # the hot alert goes out at once


def test_routing_is_the_teams_to_set(demo_engine: Engine) -> None:
    routes = Settings(hotlead_routing="hot=bdr; warm=senior,rep").routes()
    assert routes == {"hot": ("bdr",), "warm": ("senior", "rep")}
    with demo_engine.connect() as conn:
        roles = dict(run_sql(conn, "SELECT id, role FROM rep").all())
    hot, cold = suggest_owner(demo_engine, "hot", routes), suggest_owner(demo_engine, "cold", routes)
    assert hot is not None and roles[hot[0]] == "bdr"
    assert cold is not None and roles[cold[0]] == "rep"  # a band the rules leave out goes to any rep
