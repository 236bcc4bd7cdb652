"""A trained demo database shared by the chat tests (built once; tests that write get their own copy)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from bot.app import create_app
from bot.channels.slack import connect_socket_mode, slack_app
from bot.cli import cli
from bot.config import Settings
from bot.fakes import FakeSlack, FakeSocketMode
from bot.router import Deps
from bot.server import BackgroundServer
from storage.db import make_engine
from storage.history import RepRow, all_reps
from tests.conftest import Snapshots, run_sql


def build_demo(url: str) -> None:
    """A 2,000-lead demo, trained and scored (NLP by rules: fast and deterministic)."""
    # no score history: the tests that need one write exactly the history they need (test_demo_history.py checks
    # the one a default demo writes)
    result = CliRunner().invoke(cli, ["demo", "--leads", "2000", "--history-weeks", "0", "--json"],
                                env={"HOTLEAD_DATABASE_URL": url, "HOTLEAD_NLP": "rules"})
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def demo_snapshot(snapshots: Snapshots) -> str:
    """The name of the demo snapshot (built on first use)."""
    snapshots.build("demo", build_demo)
    return "demo"


@pytest.fixture
def demo_url(snapshots: Snapshots, demo_snapshot: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A private copy of the demo database, on the engine the session runs on (--engine)."""
    return snapshots.copy(demo_snapshot, tmp_path, request)


@pytest.fixture
def demo_engine(demo_url: str) -> Engine:
    """An engine on a private copy of the demo database."""
    engine = make_engine(demo_url)
    yield engine
    engine.dispose()


@pytest.fixture
def deps(demo_engine: Engine) -> Deps:
    """Chat deps on a private copy of the demo database."""
    return Deps(demo_engine)


@pytest.fixture
def a_rep(demo_engine: Engine) -> RepRow:
    """A seller (role `rep`) of the demo team, with a Slack id and a WhatsApp number."""
    with demo_engine.connect() as conn:
        return next(r for r in all_reps(conn=conn) if r.role == "rep" and r.slack_user_id and r.whatsapp)


@pytest.fixture
def shared_name(demo_engine: Engine) -> str:
    """A name several leads share, none of them hot: "why is NAME hot?" cannot tell which one is meant."""
    with demo_engine.connect() as conn:
        return str(run_sql(conn,
            "SELECT l.name FROM lead l GROUP BY l.name HAVING count(*) > 1 AND NOT EXISTS (SELECT 1 FROM lead m "
            "JOIN score s ON s.lead_id = m.id WHERE m.name = l.name AND s.band = 'hot') ORDER BY l.name LIMIT 1"
        ).scalar_one())


@pytest.fixture
def slack(served: tuple[FakeSlack, str]) -> FakeSlack:
    """The FakeSlack of a module's `served` fixture (see slack_served)."""
    return served[0]


@pytest.fixture
def server(served: tuple[FakeSlack, str]) -> str:
    """The URL of a module's `served` fixture (see slack_served)."""
    return served[1]


@contextmanager
def slack_served(engine: Engine, token: str, secret: str, channels: list[str]) -> Iterator[tuple[FakeSlack, str]]:
    """A FakeSlack (the bot invited to `channels`) and a `hotlead serve` app answering Slack on a local port."""
    with FakeSlack(token=token, channels=channels) as slack:
        settings = Settings(slack_bot_token=token, slack_signing_secret=secret, slack_api_url=slack.url)
        with BackgroundServer(create_app(settings, whatsapp=False, engine=engine)) as running:
            yield slack, running.url


@contextmanager
def socket_mode_connected(engine: Engine, token: str, secret: str, app_token: str,
                          channels: tuple[str, ...] = ()) -> Iterator[tuple[FakeSocketMode, FakeSlack]]:
    """Hotlead's Bolt app connected over Socket Mode to a local Socket Mode fake, answering at a FakeSlack."""
    with FakeSocketMode() as socket, FakeSlack(token=token, app_token=app_token, socket_url=socket.url,
                                               channels=channels) as slack:
        settings = Settings(slack_bot_token=token, slack_signing_secret=secret, slack_api_url=slack.url,
                            slack_app_token=app_token)
        handler = connect_socket_mode(slack_app(settings, Deps(engine, settings)), settings)
        try:
            yield socket, slack
        finally:
            handler.close()


class SleepClock:
    """A clock that only the code under test's `sleep` moves (and records): a fake's rate limit reads it, a
    connector waits on it, and no test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
