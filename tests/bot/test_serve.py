"""`hotlead serve` as a whole: the scheduler runs inside it and keeps its jobs across restarts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
from click.testing import CliRunner
from sqlalchemy import Engine

from bot.app import create_app
from bot.cli import cli
from bot.config import Settings
from bot.server import BackgroundServer
from tests.conftest import run_sql


def stored_jobs(engine: Engine) -> dict[str, float]:
    with engine.connect() as conn:
        return dict(run_sql(conn, "SELECT id, next_run_time FROM apscheduler_jobs").all())


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
            assert httpx.post(f"{server.url}/slack/events", content=body, headers=slack_headers("s", body),
                              timeout=30).status_code == 200
            text = slack.wait_for("chat.postMessage", timeout=30)[0].params["text"]
    assert lead["name"] in text and "Pushing it up" in text


def test_every_missing_setting_is_named_at_once(demo_url: str) -> None:
    clean = {name: "" for name in os.environ if name.startswith(("SLACK_", "TWILIO_", "HOTLEAD_PUBLIC"))}
    result = CliRunner().invoke(cli, ["serve", "--no-scheduler", "--chat-workers", "0"],
                                env={**clean, "HOTLEAD_DATABASE_URL": demo_url})
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "4 settings are not set" in result.output
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TWILIO_AUTH_TOKEN", "HOTLEAD_PUBLIC_URL"):
        assert name in result.output


def test_serving_is_said_once_connections_are_accepted(demo_url: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--no-slack", "--no-whatsapp", "--no-scheduler",
         "--chat-workers", "1", "--port", str(port)],
        env={**os.environ, "HOTLEAD_DATABASE_URL": demo_url}, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        said = ""
        while "serving" not in said:
            line = process.stderr.readline()
            assert line, f"the server stopped before saying it serves: {said}"
            said += line
        # no retry, no wait: when it says so, it answers (a warmed chat worker and the outbox already started)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"ok": True}
    finally:
        process.terminate()
        process.wait(timeout=15)
