"""`hotlead ask`, `hotlead chat` and `hotlead reps`: the same router, the same facts as Slack and WhatsApp."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import Engine

from bot.cli import cli
from bot.replies import unmarked
from bot.router import Deps, IncomingMessage, dispatch
from scoring.leads import top_leads
from tests.conftest import run_sql


def run(url: str, *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=stdin, env={"HOTLEAD_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return result.output


def test_ask_json_gives_the_facts_slack_gives(demo_url: str, demo_engine: Engine) -> None:
    lead = top_leads(demo_engine, limit=1)[0]
    question = f"why is {lead['name']} at {lead['account']} hot?"
    answer = json.loads(run(demo_url, "ask", "--json", question))
    slack = dispatch(IncomingMessage(question, "slack", "U1"), Deps(demo_engine))
    assert answer["lead"] == slack.data["lead"] == lead["lead"]
    assert answer["score"] == slack.data["score"]
    assert [r["text"] for r in answer["reasons"]] == [r["text"] for r in slack.data["reasons"]]
    assert unmarked(slack.plain()) == answer["text"]


def test_ask_prints_plain_text_without_markup(demo_url: str, demo_engine: Engine) -> None:
    lead = top_leads(demo_engine, limit=1)[0]
    output = run(demo_url, "ask", "why", "is", lead["lead"], "hot")
    assert lead["name"] in output and "Pushing it up" in output and "*" not in output


def test_ask_as_a_rep_lists_only_their_leads(demo_url: str, demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        rep_id, name = run_sql(conn, "SELECT id, name FROM rep WHERE role = 'rep' LIMIT 1").one()
        owners = dict(run_sql(conn, "SELECT external_id, owner_id FROM lead").all())
    answer = json.loads(run(demo_url, "ask", "--as", name, "--json", "who should I call today?"))
    assert answer["leads"] and all(owners[item["lead"]] == rep_id for item in answer["leads"])


def test_chat_keeps_the_conversation_so_a_number_picks_a_choice(demo_url: str, shared_name: str) -> None:
    name = shared_name
    output = run(demo_url, "chat", stdin=f"why is {name} hot?\n1\nquit\n")
    assert "which one do you mean" in output
    assert output.count("Pushing it up") == 1  # the "1" was understood as the first choice


def test_reps_json_lists_names_roles_slack_ids_and_numbers(demo_url: str) -> None:
    team = json.loads(run(demo_url, "reps", "--json"))
    assert len(team) == 7 and {"name", "role", "slack_user_id", "whatsapp"} <= set(team[0])
    assert sum(r["role"] == "manager" for r in team) == 1
    assert all(r["slack_user_id"] and r["whatsapp"].startswith("+") for r in team)


def test_ask_as_an_unknown_rep_is_a_clear_error(demo_url: str) -> None:
    result = CliRunner().invoke(cli, ["ask", "--as", "Nobody Here", "top leads"],
                                env={"HOTLEAD_DATABASE_URL": demo_url})
    assert result.exit_code != 0 and "no rep 'Nobody Here'" in result.output


def test_a_lead_name_with_terminal_escapes_prints_as_plain_text(demo_url: str, demo_engine: Engine) -> None:
    lead = top_leads(demo_engine, limit=1)[0]
    with demo_engine.begin() as conn:
        run_sql(conn, "UPDATE lead SET name = ? WHERE external_id = ?",
                             ("\x1b[2J\x1b]8;;https://evil.example\x07Evil\x1b[0m Lead", lead["lead"]))
    result = CliRunner().invoke(cli, ["ask", f"why is {lead['lead']} hot?"], env={"HOTLEAD_DATABASE_URL": demo_url})
    assert result.exit_code == 0, result.output
    assert "Evil" in result.output and "\x1b" not in result.output and "\x07" not in result.output


def test_a_file_name_that_looks_like_markup_does_not_break_the_progress_bar() -> None:
    from bot.progress import progress_bar

    with progress_bar("importing leads[/bold][link=x].csv", enabled=True) as tick:
        tick(1, 2)
        tick(2, 2)


def test_one_shot_ask_offers_each_choice_as_the_ask_line_that_asks_it(demo_url: str, demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        shared = [row[0] for row in run_sql(conn,
            "SELECT min(name) FROM lead GROUP BY lower(name) HAVING count(*) > 1")]
    asked = [(name, dispatch(IncomingMessage(f"why is {name}?", "console", "console"), Deps(demo_engine)))
             for name in shared]
    name, reply = next((name, reply) for name, reply in asked if reply.choices)  # several fit, none more likely
    output = run(demo_url, "ask", "--as", "Morgan Hale", f"why is {name}?")
    assert "Reply with a number" not in output
    for choice in reply.choices:
        assert f"• {unmarked(choice.label)}: hotlead ask --as 'Morgan Hale' '{choice.question}'" in output
    again = run(demo_url, "ask", "--as", "Morgan Hale", reply.choices[0].question)  # the line works as printed
    assert "Reply with a number" not in again and not again.startswith("Sorry")
