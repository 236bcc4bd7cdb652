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


def test_questions_are_answered_by_worker_processes(demo_engine: Engine, demo_url: str) -> None:
    from bot.fakes import FakeSlack, slack_event_body, slack_headers
    from scoring.leads import top_leads

    lead = top_leads(demo_engine, limit=1)[0]
    with FakeSlack(token="xoxb-w", channels=["C1"]) as slack:
        settings = Settings(hotlead_database_url=demo_url, slack_bot_token="xoxb-w", slack_signing_secret="s",
                            slack_api_url=slack.url)
        app = create_app(settings, whatsapp=False, engine=demo_engine, chat_workers=1)
        with BackgroundServer(app) as server:
            assert app.state.hotlead.deps.pool is not None
            body = slack_event_body({"type": "app_mention", "user": "U0HL00003", "channel": "C1", "ts": "1.1",
                                     "text": f"<@UHOTLEAD> why is {lead['lead']} hot?"})
            import httpx

            assert httpx.post(f"{server.url}/slack/events", content=body, headers=slack_headers("s", body),
                              timeout=30).status_code == 200
            text = slack.wait_for("chat.postMessage", timeout=30)[0].params["text"]
    assert lead["name"] in text and "Pushing it up" in text
