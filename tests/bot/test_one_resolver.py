"""`hotlead why NAME` and chat mean the same lead by the same name, shared names included."""

from __future__ import annotations

import click
from sqlalchemy import Engine

from bot.cli.scoring import _lead_key
from bot.router import Deps, IncomingMessage, dispatch
from storage.history import find_rep
from tests.conftest import run_sql


def cli_pick(engine: Engine, name: str) -> str | None:
    try:
        return _lead_key(engine, name)
    except click.ClickException:
        return None


def test_the_command_line_and_chat_pick_the_same_lead_for_every_shared_name_and_many_others(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        names = run_sql(conn, "SELECT min(name), count(*) FROM lead GROUP BY lower(name)").all()
        manager = find_rep(conn=conn, key="name", value="Morgan Hale")  # a manager sees every lead
    shared = [name for name, n in names if n > 1]
    assert len(shared) >= 5  # the demo has people who share a name
    for name in shared + [name for name, n in names if n == 1][:40] + [n.lower() for n in shared[:10]]:
        reply = dispatch(IncomingMessage(f"why is {name}?", "slack", manager.slack_user_id, manager), deps)
        assert cli_pick(deps.engine, name) == reply.data.get("lead"), name


def test_an_account_name_means_its_best_scored_open_lead_on_the_command_line_as_in_chat(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        accounts = [row[0] for row in run_sql(conn, "SELECT name FROM account ORDER BY id LIMIT 25")]
        manager = find_rep(conn=conn, key="name", value="Morgan Hale")
    picked = 0
    for account in accounts:
        reply = dispatch(IncomingMessage(f"why is {account} hot?", "slack", manager.slack_user_id, manager), deps)
        assert cli_pick(deps.engine, account) == reply.data.get("lead"), account
        picked += reply.data.get("lead") is not None
    assert picked >= 5  # accounts with a scored open lead (the others: both say there is none)
