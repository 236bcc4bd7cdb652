"""`hotlead demo-session` and `hotlead alerts` on a demo database."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import Engine

from bot.cli import cli
from bot.push.outbox import enqueue
from bot.router import Deps, IncomingMessage, dispatch
from storage.history import find_rep
from tests.conftest import run_sql


def run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"HOTLEAD_DATABASE_URL": url})
    return result.exit_code, result.output


def test_a_demo_session_starts_and_is_listed_open(demo_url: str) -> None:
    code, output = run(demo_url, "demo-session", "start", "L000010", "--rep", "Alex Rivera", "--minutes", "30",
                       "--json")
    assert code == 0, output
    session = json.loads(output)["id"]
    code, output = run(demo_url, "demo-session", "list", "--json")
    listed = {s["id"]: s for s in json.loads(output)}
    assert listed[session]["open"] is True and listed[session]["lead"] == "L000010"
    assert run(demo_url, "demo-session", "end", str(session))[0] == 0
    assert json.loads(run(demo_url, "demo-session", "list", "--json")[1])[0]["open"] is False


def test_a_calendar_file_with_a_bad_row_imports_nothing_and_names_row_and_column(
    demo_url: str, demo_engine: Engine, tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    calendar = tmp_path / "calendar.csv"
    calendar.write_text("lead,rep,starts_at,minutes\nL000010,Alex Rivera,2026-11-24T15:00:00Z,45\n"
                        "L000011,Nobody,2026-11-24T16:00:00Z,30\n", encoding="utf-8")
    code, output = run(demo_url, "demo-session", "import", str(calendar))
    assert code != 0 and "3" in output and "rep" in output and "nothing was imported" in output
    with demo_engine.connect() as conn:
        assert run_sql(conn, "SELECT count(*) FROM demo_session").scalar_one() == 0
    calendar.write_text("lead,rep,starts_at,ends_at\nL000010,Alex Rivera,2026-11-24T15:00:00Z,"
                        "2026-11-24T15:45:00Z\n", encoding="utf-8")
    assert run(demo_url, "demo-session", "import", str(calendar))[0] == 0
    with demo_engine.connect() as conn:
        assert run_sql(conn, "SELECT source FROM demo_session").scalar_one() == "calendar"


def test_a_calendar_imported_twice_and_a_repeated_start_keep_one_session_per_lead_and_rep(
    demo_url: str, demo_engine: Engine, tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    calendar = tmp_path / "calendar.csv"
    calendar.write_text("lead,rep,starts_at,minutes\nL000010,Alex Rivera,2026-11-24T15:00:00Z,45\n"
                        "L000011,Alex Rivera,2026-11-24T16:00:00Z,30\n", encoding="utf-8")
    assert run(demo_url, "demo-session", "import", str(calendar)) == (
        0, f"Imported 2 demo sessions from {calendar}: 2 new, 0 joined a session already there (the same or an "
           "overlapping window of the same lead and rep).\n")
    code, output = run(demo_url, "demo-session", "import", str(calendar))
    assert code == 0 and "0 new, 2 joined" in output
    started = json.loads(run(demo_url, "demo-session", "start", "L000010", "--rep", "Alex Rivera", "--at",
                             "2026-11-24T15:30:00", "--minutes", "60", "--json")[1])
    assert started["merged"] is True
    with demo_engine.connect() as conn:
        rows = run_sql(conn, "SELECT l.external_id, d.starts_at, d.ends_at FROM demo_session d "
                                    "JOIN lead l ON l.id = d.lead_id ORDER BY d.id").all()
    assert [(lead, str(start)[:16], str(end)[:16]) for lead, start, end in rows] == [
        ("L000010", "2026-11-24 15:00", "2026-11-24 16:30"),  # widened to cover the later, longer window
        ("L000011", "2026-11-24 16:00", "2026-11-24 16:30")]


def test_alerts_json_lists_the_outbox(demo_url: str, demo_engine: Engine) -> None:
    enqueue(demo_engine, kind="hot", channel="slack", target="C1", dedupe_key="k1", payload={"text": "x"}, lead_id=1)
    code, output = run(demo_url, "alerts", "--json")
    assert code == 0, output
    (alert,) = json.loads(output)
    assert {"lead", "kind", "channel", "status", "attempts", "sent_at"} <= set(alert)
    assert alert["status"] == "queued" and alert["kind"] == "hot" and alert["lead"] == "L000001"


def test_a_rep_starts_a_demo_from_chat(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        rep = find_rep(conn=conn, key="name", value="Jordan Lee")
    reply = dispatch(IncomingMessage("demo L000010 30m", "slack", "U0HL00003", rep), deps)
    assert reply.data["minutes"] == 30 and reply.data["lead"] == "L000010"
    with deps.engine.connect() as conn:
        assert run_sql(conn, "SELECT rep_id, source FROM demo_session").one() == (rep.id, "slack")
