import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import Engine, event, text

from bot.cli import cli
from bot.config import SettingError, Settings
from bot.fakes import FakeSlack
from bot.jobs import RETRAIN, WEEKLY_DIGEST, ScheduleError, next_runs, start_scheduler, weekly_trigger
from bot.push.health import ModelHealth, check_decay, model_health, queue_decay_alerts, retrain
from storage.db import json_loads
from storage.history import stamp

SUNDAY_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("zone", "fires_utc"), [
    ("UTC", datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),  # CET, UTC+1
    ("America/New_York", datetime(2026, 11, 23, 13, 0, tzinfo=UTC)),  # EST, UTC-5
    ("Asia/Tokyo", datetime(2026, 11, 22, 23, 0, tzinfo=UTC)),  # Monday already began there
])
def test_the_weekly_digest_fires_monday_at_eight_in_the_configured_zone(zone: str, fires_utc: datetime) -> None:
    trigger = weekly_trigger(Settings(hotlead_timezone=zone))
    fires = trigger.get_next_fire_time(None, SUNDAY_NOON.astimezone(ZoneInfo(zone)))
    assert fires is not None and fires == fires_utc
    local = fires.astimezone(ZoneInfo(zone))
    assert (local.strftime("%A"), local.hour, local.minute) == ("Monday", 8, 0)


def test_an_unknown_time_zone_is_a_clear_error() -> None:
    with pytest.raises(ScheduleError, match="HOTLEAD_TIMEZONE 'Mars/Olympus' is not a time zone"):
        weekly_trigger(Settings(hotlead_timezone="Mars/Olympus"))


def test_retrain_days_come_from_the_environment_as_a_number() -> None:
    assert Settings.from_env({"HOTLEAD_RETRAIN_DAYS": "14"}).hotlead_retrain_days == 14
    assert Settings.from_env({}).hotlead_retrain_days == 30
    with pytest.raises(SettingError, match="HOTLEAD_RETRAIN_DAYS must be a whole number"):
        Settings.from_env({"HOTLEAD_RETRAIN_DAYS": "monthly"})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(hotlead_database_url=f"sqlite:///{tmp_path / 'jobs.db'}", hotlead_timezone="Europe/Berlin",
                    hotlead_retrain_days=30, hotlead_sync_minutes=0)  # the CRM sync: its own test below


def scheduled(settings: Settings) -> dict[str, datetime]:
    scheduler = start_scheduler(settings)
    try:
        return {job.id: job.next_run_time for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)


def test_a_restart_keeps_one_job_each_with_the_same_next_run_times(settings: Settings) -> None:
    with time_machine.travel(SUNDAY_NOON, tick=False):
        first = scheduled(settings)
    with time_machine.travel(SUNDAY_NOON + timedelta(hours=20), tick=False):  # Monday 08:00 Berlin is not due yet
        again = scheduled(settings)
    assert set(first) == {WEEKLY_DIGEST, RETRAIN}
    assert again == first
    assert first[WEEKLY_DIGEST] == datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert first[RETRAIN] == SUNDAY_NOON + timedelta(days=30)  # not pushed back by the restart


def test_the_crm_sync_runs_every_hotlead_sync_minutes(settings: Settings) -> None:
    from dataclasses import replace

    from bot.jobs import CRM_SYNC

    with time_machine.travel(SUNDAY_NOON, tick=False):
        jobs = scheduled(replace(settings, hotlead_sync_minutes=15))
    assert set(jobs) == {WEEKLY_DIGEST, RETRAIN, CRM_SYNC}
    assert jobs[CRM_SYNC] == SUNDAY_NOON + timedelta(minutes=15)


def test_a_changed_schedule_replaces_the_stored_job(settings: Settings) -> None:
    with time_machine.travel(SUNDAY_NOON, tick=False):
        first = scheduled(settings)
        moved = scheduled(replace(settings, hotlead_timezone="America/New_York", hotlead_retrain_days=7))
    assert moved[WEEKLY_DIGEST] == datetime(2026, 11, 23, 13, 0, tzinfo=UTC) != first[WEEKLY_DIGEST]
    assert moved[RETRAIN] == SUNDAY_NOON + timedelta(days=7)


def test_a_starting_scheduler_makes_no_table_so_that_servers_can_start_together(engine: Engine, db_url: str) -> None:
    """Its job store is part of the schema (revision 0002): two servers starting at once used to both create it,
    and on PostgreSQL the second one failed."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        start_scheduler(Settings(hotlead_database_url=db_url, hotlead_timezone="UTC")).shutdown(wait=False)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert any("apscheduler_jobs" in s for s in statements)  # it did use its table
    assert [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))] == []


def test_next_runs_reads_what_a_scheduler_stored(settings: Settings) -> None:
    with time_machine.travel(SUNDAY_NOON, tick=False):
        before = next_runs(settings)  # nothing stored yet: what a scheduler would schedule
        stored = scheduled(settings)
    with time_machine.travel(SUNDAY_NOON + timedelta(hours=3), tick=False):
        after = next_runs(settings)
    assert before[WEEKLY_DIGEST] == stored[WEEKLY_DIGEST] == after[WEEKLY_DIGEST]
    assert after[RETRAIN] == stored[RETRAIN]


def test_digest_without_now_says_when_it_runs_next(settings: Settings) -> None:
    env = {"HOTLEAD_DATABASE_URL": settings.hotlead_database_url, "HOTLEAD_TIMEZONE": "Europe/Berlin"}
    with time_machine.travel(SUNDAY_NOON, tick=False):
        result = CliRunner().invoke(cli, ["digest", "--json"], env=env)
        plain = CliRunner().invoke(cli, ["digest"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[WEEKLY_DIGEST] == "2026-11-23T08:00:00+01:00"
    assert "weekly-digest: Monday 23 November 2026, 08:00 CET" in plain.output


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token="xoxb-jobs") as fake:
        yield fake


def test_a_digest_missed_while_the_bot_was_down_is_sent_once_when_it_is_back(
    demo_url: str, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"HOTLEAD_DATABASE_URL": demo_url, "SLACK_BOT_TOKEN": "xoxb-jobs", "SLACK_API_URL": slack.url,
                        "HOTLEAD_TIMEZONE": "UTC", "HOTLEAD_NLP": "rules"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HOTLEAD_DIGEST_CHANNEL", raising=False)
    settings = Settings.from_env()
    with time_machine.travel(SUNDAY_NOON, tick=False):
        assert scheduled(settings)[WEEKLY_DIGEST] == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    # back at 09:30 on Monday, within the grace time: the missed run happens once and the next is a week later
    with time_machine.travel(datetime(2026, 11, 23, 9, 30, tzinfo=UTC)):
        scheduler = start_scheduler(settings)
        try:
            slack.wait_for("files.completeUploadExternal", 1, timeout=60)
            job = scheduler.get_job(WEEKLY_DIGEST)
            assert job is not None and job.next_run_time == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        finally:
            scheduler.shutdown(wait=True)
    assert [call.params["channel"] for call in slack.calls_to("chat.postMessage")] == ["DU0HL00007"]


def score_before_closing(engine: Engine, *, good: bool) -> None:
    """Give every lead closed in the last 90 days a score the day before it closed: ranked right or wrong."""
    with engine.begin() as conn:
        day_before = ("datetime(o.closed_at, '-1 day')" if conn.dialect.name == "sqlite"
                      else "o.closed_at - interval '1 day'")
        conn.execute(text(
            "INSERT INTO score (lead_id, model_version_id, scored_at, probability, percentile, band, reasons) "
            f"SELECT o.lead_id, m.id, {day_before}, "
            "CASE WHEN o.converted = :good THEN 0.8 ELSE 0.05 END, 50.0, 'warm', '[]' "
            "FROM outcome o, model_version m WHERE m.status = 'active' AND o.closed_at > :since"
        ), {"good": 1 if good else 0, "since": stamp(datetime.now(UTC) - timedelta(days=89))})


def test_the_ratio_comes_from_recent_decisions_scored_before_they_closed(demo_engine: Engine) -> None:
    score_before_closing(demo_engine, good=True)
    health = model_health(demo_engine, datetime.now(UTC))
    assert health.ratio_source == "recent" and health.closed_leads >= 40
    assert health.quartile_ratio is not None and health.quartile_ratio > 2


def test_a_decay_alert_is_queued_for_each_manager_once_a_week_when_the_ratio_falls_below_two(
    demo_engine: Engine,
) -> None:
    score_before_closing(demo_engine, good=False)
    now = datetime.now(UTC)

    health, queued = check_decay(demo_engine, now)
    _, again = check_decay(demo_engine, now + timedelta(hours=1))

    assert health.quartile_ratio is not None and health.quartile_ratio < 2 and health.ratio_source == "recent"
    assert len(queued) == 1 and again == []
    with demo_engine.connect() as conn:
        kind, channel, target, payload = conn.execute(text(
            "SELECT kind, channel, target, payload FROM alert WHERE id = :id"), {"id": queued[0]}).one()
    assert (kind, channel, target) == ("model_decay", "slack", "U0HL00007")
    said = json_loads(payload)["text"]
    assert "quartile conversion" in said and "hotlead model rollback" in said


@pytest.mark.parametrize(("ratio", "psi", "alerted"), [
    (3.5, {"time.lead_age_days": 0.05, "probability": 0.02}, False),
    (3.5, {"time.lead_age_days": 0.35, "probability": 0.02}, True),
    (1.4, {}, True),
])
def test_decay_means_a_ratio_below_two_or_a_psi_above_a_fifth(
    demo_engine: Engine, ratio: float, psi: dict[str, float], alerted: bool
) -> None:
    health = ModelHealth("v9", ratio, "recent", 60, psi)
    assert bool(queue_decay_alerts(demo_engine, health, datetime.now(UTC))) is alerted


def test_retraining_checks_decay_and_keeps_the_better_model_active(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        before = conn.execute(text("SELECT version FROM model_version WHERE status = 'active'")).scalar_one()

    result = retrain(demo_engine, datetime.now(UTC), nlp_mode="rules")

    with demo_engine.connect() as conn:
        active = conn.execute(text("SELECT version FROM model_version WHERE status = 'active'")).scalar_one()
        metrics = json_loads(conn.execute(text("SELECT metrics FROM model_version WHERE version = :v"),
                                          {"v": result.version}).scalar_one())
    assert result.version is not None and result.version != before
    assert active == (result.version if result.promoted else before)
    assert result.health.version == active
    reference = metrics["drift_reference"]
    assert 1 <= len(reference["features"]) <= 10
    assert sum(reference["probability"]["proportions"]) == pytest.approx(1.0)


def test_the_crm_sync_job_pulls_once_per_slot_and_reads_everything_once_a_day(
        engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The serve job's own body, against the HubSpot fake: a second process in the same slot does nothing, and the
    day's first run reads every record again, finding a contact HubSpot associated with a deal without dating it."""
    from bot.crm import sync as sync_module
    from bot.fakes import FakeHubSpot
    from bot.fakes.hubspot import READ_SCOPES
    from bot.jobs import crm_sync
    from storage.crm_sync import connect_crm
    from tests.bot.conftest import SleepClock

    clock = SleepClock()
    original = sync_module.connector_for
    monkeypatch.setattr(sync_module, "connector_for",  # waits on the test's clock, not the machine's
                        lambda name, settings, sleep=None: original(name, settings, sleep=clock.sleep, clock=clock))
    with FakeHubSpot("pat-na1-jobs", scopes=READ_SCOPES, clock=clock) as fake:
        contacts = fake.add_contacts(3)
        deal = fake.add("deals", dealstage="closedwon", amount="1200", closedate="2026-11-20T10:00:00Z")
        for name, value in {"HOTLEAD_DATABASE_URL": db_url, "HUBSPOT_ACCESS_TOKEN": "pat-na1-jobs",
                            "HUBSPOT_API_URL": fake.url, "HOTLEAD_NLP": "rules",
                            "HOTLEAD_CRM_LOOKBACK_MINUTES": "0"}.items():  # the deal was modified just before
            monkeypatch.setenv(name, value)
        with engine.begin() as conn:
            connect_crm(conn=conn, crm="hubspot")

        def won() -> int:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM outcome")).scalar_one())

        with time_machine.travel(SUNDAY_NOON, tick=False):
            crm_sync()
            searched = len(fake.calls_to("contacts.search"))
            crm_sync()  # another process, the same slot: nothing read
        assert searched >= 1 and len(fake.calls_to("contacts.search")) == searched
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM lead")).scalar_one() == 3
        fake.records["deals"][deal].contacts.append(contacts[0])  # associated: the deal's modified time unchanged
        with time_machine.travel(SUNDAY_NOON + timedelta(minutes=20), tick=False):
            crm_sync()
        assert won() == 0  # the incremental read cannot see it
        with time_machine.travel(SUNDAY_NOON + timedelta(days=1), tick=False):
            crm_sync()  # the day's first run: a full read
        assert won() == 1
