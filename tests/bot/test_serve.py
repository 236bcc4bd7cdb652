"""`hotlead serve` as a whole: the scheduler runs inside it and keeps its jobs across restarts."""

from __future__ import annotations

from sqlalchemy import Engine

from bot.app import create_app
from bot.config import Settings
from bot.server import BackgroundServer


def stored_jobs(engine: Engine) -> dict[str, float]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT id, next_run_time FROM apscheduler_jobs").all())


def test_the_server_schedules_the_digest_and_a_restart_keeps_its_next_run(demo_url: str, demo_engine: Engine) -> None:
    settings = Settings(hotlead_database_url=demo_url, hotlead_timezone="Europe/Berlin")
    with BackgroundServer(create_app(settings, slack=False, whatsapp=False, engine=demo_engine, scheduler=True)):
        first = stored_jobs(demo_engine)
    assert {"weekly-digest", "retrain"} <= set(first)
    with BackgroundServer(create_app(settings, slack=False, whatsapp=False, engine=demo_engine, scheduler=True)):
        assert stored_jobs(demo_engine) == first
