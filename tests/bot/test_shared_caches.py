"""Several processes on one database: what one answers follows what another changed, at once (issue 15).

"Here" is the process that answers (its own engine and Deps); "there" is another one on the same database: a second
engine made with make_engine, or a real `python -m bot.cli` process. No test waits for a clock: every in-memory
copy on the chat's path is checked against a version read from the database on each use.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import Settings
from bot.fakes import FakeSlack, slack_event_body, slack_headers
from bot.replies import Reply
from bot.router import Deps, IncomingMessage, dispatch
from bot.server import BackgroundServer
from scoring import registry
from scoring.leads import population
from storage.db import make_engine
from storage.history import RepRow, find_rep
from storage.importers import import_table
from tests.conftest import run_sql, stored_rows

ROOT = Path(__file__).resolve().parents[2]
SECRET = "slack-signing-secret"
TOKEN = "xoxb-hotlead-test"


@pytest.fixture
def here(demo_url: str) -> Iterator[Engine]:
    """The engine of the process that answers."""
    engine = make_engine(demo_url)
    yield engine
    engine.dispose()


@pytest.fixture
def there(demo_url: str) -> Iterator[Engine]:
    """Another process's engine on the same database."""
    engine = make_engine(demo_url)
    yield engine
    engine.dispose()


def ask(deps: Deps, text: str, rep: RepRow | None = None) -> Reply:
    channel, user = ("slack", rep.slack_user_id or "") if rep else ("console", "console")
    return dispatch(IncomingMessage(text, channel, user, rep), deps)


def hotlead(url: str, cwd: Path, *args: str) -> None:
    """`hotlead ARGS…` in a process of its own on the database at `url`."""
    env = {**os.environ, "HOTLEAD_DATABASE_URL": url, "HOTLEAD_NLP": "rules", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def scored_lead(engine: Engine, *, owned_by_other_than: int | None = None) -> dict[str, Any]:
    """An open, scored lead with an account and a name no other lead has."""
    rows = stored_rows(engine, (
        "SELECT l.id, l.external_id, l.name, a.name, l.created_at, l.owner_id FROM lead l "
        "JOIN account a ON a.id = l.account_id LEFT JOIN outcome o ON o.lead_id = l.id "
        "WHERE o.id IS NULL AND l.status = 'open' AND l.owner_id IS NOT NULL AND l.owner_id <> :rep "
        "AND EXISTS (SELECT 1 FROM score s WHERE s.lead_id = l.id) "
        "AND (SELECT count(*) FROM lead m WHERE m.name = l.name) = 1 ORDER BY l.id LIMIT 1"),
        rep=owned_by_other_than if owned_by_other_than is not None else -1)
    keys = ("id", "external_id", "name", "account", "created_at", "owner_id")
    return dict(zip(keys, rows[0], strict=True))


def leads_csv(folder: Path, lead: dict[str, Any], **changed: str) -> Path:
    """A leads file that imports `lead` again with `changed` columns."""
    row = {"external_id": lead["external_id"], "name": lead["name"], "account": lead["account"],
           "created_at": str(lead["created_at"]), **changed}
    path = folder / "leads.csv"
    path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n", encoding="utf-8")
    return path


def test_a_lead_renamed_by_another_process_is_known_by_its_new_name_at_once(
        here: Engine, demo_url: str, tmp_path: Path) -> None:
    """A CRM re-import in another process renames a lead in place (same id, same count of leads): the next
    question here finds it by its new name and no longer by its old one."""
    deps = Deps(here)
    lead = scored_lead(here)
    assert ask(deps, f"why is {lead['name']} hot?").data["lead"] == lead["external_id"]  # the index is built
    assert ask(deps, "why is Zebediah Quartermaine hot?").data.get("lead") != lead["external_id"]

    hotlead(demo_url, tmp_path, "import", "leads", str(leads_csv(tmp_path, lead, name="Zebediah Quartermaine")))

    assert ask(deps, "why is Zebediah Quartermaine hot?").data["lead"] == lead["external_id"]
    assert ask(deps, f"why is {lead['name']} hot?").data.get("lead") != lead["external_id"]


def test_a_lead_given_to_a_rep_by_another_process_is_theirs_to_ask_about_at_once(
        here: Engine, there: Engine, tmp_path: Path) -> None:
    """HOTLEAD_SHARE=owned: a lead reassigned in another process (owner changed in place) is visible to its new
    owner on their next question."""
    with here.connect() as conn:
        rep = find_rep(conn=conn, key="name", value="Jordan Lee")
    assert rep is not None and rep.role == "rep"
    lead = scored_lead(here, owned_by_other_than=rep.id)
    deps = Deps(here, Settings(hotlead_share="owned"))
    assert ask(deps, f"why is {lead['name']} hot?", rep).data.get("lead") is None  # someone else's

    import_table(there, "leads", leads_csv(tmp_path, lead, owner="Jordan Lee"))

    assert ask(deps, f"why is {lead['name']} hot?", rep).data["lead"] == lead["external_id"]


def test_an_account_and_lead_added_by_another_process_are_known_at_once(here: Engine, there: Engine,
                                                                         tmp_path: Path) -> None:
    deps = Deps(here)
    assert "unknown" in ask(deps, "account Quokkafield Analytics").data
    path = tmp_path / "new.csv"
    path.write_text("external_id,name,account,created_at\nQF-1,Wilhelmina Quokka,Quokkafield Analytics,"
                    "2024-01-02T09:00:00Z\n", encoding="utf-8")

    import_table(there, "leads", path)

    assert ask(deps, "account Quokkafield Analytics").data.get("account") == "Quokkafield Analytics"
    assert ask(deps, "snooze Wilhelmina Quokka 7 days").data.get("lead") == "QF-1"


def test_a_rep_added_by_another_process_is_answered_in_slack_at_once(here: Engine, demo_url: str,
                                                                     tmp_path: Path) -> None:
    """HOTLEAD_SHARE=reps, over HTTP: a stranger is refused; once another process imports them as a rep, their
    very next mention is answered."""
    with FakeSlack(token=TOKEN, channels=["C0SALES"]) as slack:
        settings = Settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=slack.url,
                            hotlead_share="reps")
        with BackgroundServer(create_app(settings, whatsapp=False, engine=here)) as server:

            def mention(text: str, event_id: str) -> str:
                body = slack_event_body({"type": "app_mention", "user": "U0NEWREP1", "text": f"<@UHOTLEAD> {text}",
                                         "channel": "C0SALES", "ts": "1763900000.000100"}, event_id=event_id)
                sent = httpx.post(f"{server.url}/slack/events", content=body, headers=slack_headers(SECRET, body),
                                  timeout=10)
                assert sent.status_code == 200
                return str(slack.wait_for("chat.postMessage", count=int(event_id[-1]))[-1].params["text"])

            assert "only answer registered reps" in mention("top 3 leads", "Ev0NEWREP1")
            reps = tmp_path / "reps.csv"
            reps.write_text("name,role,slack_user_id\nNadia Newcomer,rep,U0NEWREP1\n", encoding="utf-8")
            hotlead(demo_url, tmp_path, "import", "reps", str(reps))
            assert "Top 3" in mention("top 3 leads", "Ev0NEWREP2")


def test_a_model_promoted_by_another_process_explains_the_next_why(here: Engine, there: Engine, demo_url: str,
                                                                    tmp_path: Path) -> None:
    """Before: the lead's stored score (the active model wrote it). Another process trains (here: stores a copy of
    the model as a new version) and promotes it: the next why is worked out now, with the new model."""
    deps = Deps(here)
    lead = scored_lead(here)
    before = ask(deps, f"why is {lead['name']} hot?")
    assert before.data["scored_at"] is not None
    active = registry.active_version(there)
    assert active is not None
    new = registry.save_version(there, registry.load_scorer(active), metrics={}, window=(None, None))

    hotlead(demo_url, tmp_path, "model", "activate", new.version)

    after = ask(deps, f"why is {lead['name']} hot?")
    assert after.data["scored_at"] is None and after.data["lead"] == lead["external_id"]
    assert registry.active_version_id(here) == new.id


def test_a_lead_rescored_by_another_process_shows_its_new_score_at_once(here: Engine, there: Engine) -> None:
    deps = Deps(here)
    lead = scored_lead(here)
    first = ask(deps, f"why is {lead['name']} hot?").data["score"]
    moved = 3 if first > 50 else 97
    with there.begin() as conn:
        run_sql(conn, "INSERT INTO score (lead_id, model_version_id, scored_at, probability, percentile, band, "
                      "reasons) SELECT lead_id, model_version_id, scored_at, ?, percentile, band, reasons FROM score "
                      "WHERE lead_id = ? ORDER BY id DESC LIMIT 1", (moved / 100, lead["id"]))
    assert ask(deps, f"why is {lead['name']} hot?").data["score"] == moved


def test_outcomes_recorded_by_another_process_leave_the_population_at_once(here: Engine, there: Engine,
                                                                            tmp_path: Path) -> None:
    """The probabilities percentiles are taken among (cached): leads decided in another process leave it, though
    no score was written."""
    before = population(here)
    assert before is not None
    rows = stored_rows(here, "SELECT l.external_id FROM lead l LEFT JOIN outcome o ON o.lead_id = l.id "
                             "WHERE o.id IS NULL AND EXISTS (SELECT 1 FROM score s WHERE s.lead_id = l.id) "
                             "ORDER BY l.id LIMIT 25")
    path = tmp_path / "outcomes.csv"
    path.write_text("lead,converted,closed_at\n" + "".join(f"{r[0]},1,2024-06-01T00:00:00Z\n" for r in rows),
                    encoding="utf-8")

    import_table(there, "outcomes", path)

    after = population(here)
    assert after is not None and len(after) == len(before) - len(rows)


def test_a_lead_marked_not_a_fit_by_another_process_is_off_the_call_list_here(here: Engine, there: Engine) -> None:
    """Feedback a rep gives through another server: this one's call list and why follow at once."""
    deps = Deps(here)
    first = ask(deps, "who should I call today?").data["leads"][0]
    elsewhere = Deps(there)
    assert ask(elsewhere, f"{first['lead']} is not a fit: student project").data["action"] == "not_fit"

    assert first["lead"] not in [lead["lead"] for lead in ask(deps, "who should I call today?").data["leads"]]
    why = ask(deps, f"why is {first['lead']} hot?")
    assert why.data["stop"] and "student project" in why.data["stop"] and why.data["band"] == "cold"

