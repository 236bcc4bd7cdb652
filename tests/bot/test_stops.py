"""Signals that must win over the model: a hot lead who unsubscribes is said to, first, and is off call lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from scoring.stops import stops


class Db:
    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, list(args), env={"HOTLEAD_DATABASE_URL": self.url})
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").output)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Db:
    built = Db(f"sqlite:///{tmp_path_factory.mktemp('stops') / 'hotlead.db'}")
    built.run("demo", "--leads", "1500", "--seed", "5", "--no-train")
    built.json("train")
    built.json("score")
    return built


def test_a_hot_lead_who_unsubscribes_is_said_to_first_and_is_off_the_call_list(db: Db, tmp_path: Path) -> None:
    called = db.json("ask", "who should I call today?")["leads"]
    hot = called[0]
    events = tmp_path / "unsubscribed.csv"
    events.write_text(f"lead,kind,occurred_at\n{hot['lead']},unsubscribe,{datetime.now(UTC).isoformat()}\n")
    db.run("import", "activities", str(events))
    db.json("score")
    why = db.json("why", hot["lead"])
    assert why["stop"].startswith("Unsubscribed") and why["band"] == "cold"
    text = db.run("why", hot["lead"]).output.splitlines()
    assert text[1].startswith("Do not call: Unsubscribed")  # first, right under the score
    assert hot["lead"] not in {lead["lead"] for lead in db.json("ask", "who should I call today?")["leads"]}
    chat = db.run("ask", f"why is {hot['lead']} hot?").output
    assert chat.index("Unsubscribed") < chat.index("Pushing it up")
    top = {row["lead"]: row for row in db.json("top", "--limit", "2000")}
    assert top[hot["lead"]]["band"] == "cold" and top[hot["lead"]]["top_reason"].startswith("Unsubscribed")


@pytest.mark.parametrize(("row", "expected"), [
    ({"beh.unsubscribe_90d": 1.0, "beh.email_bounce_30d": 1.0}, "Unsubscribed"),  # the first rule listed wins
    ({"beh.email_bounce_30d": 2.0, "beh.email_reply_30d": 0.0}, "An email to them bounced"),
    ({"beh.email_bounce_30d": 1.0, "beh.email_reply_30d": 1.0}, None),  # they replied: the address works
    ({"attr.Do Not Call": 1.0}, "Marked “do not contact”"),
    ({"attr.HasOptedOutOfEmail": "Yes"}, "Marked “do not contact”"),
    ({"attr.Do Not Call": 0.0, "attr.Notes": "yes"}, None),
    ({"beh.unsubscribe_90d": np.nan}, None),
])
def test_stop_rules(row: dict[str, Any], expected: str | None) -> None:
    found = stops(pd.DataFrame([row]))[0]
    assert (found is None) if expected is None else found.startswith(expected)


def test_a_rep_marking_a_hot_lead_not_a_fit_stops_it_at_once_until_they_take_it_back(db: Db) -> None:
    from bot.router import Deps, IncomingMessage, dispatch
    from scoring.leads import top_leads
    from storage.db import make_engine
    from storage.history import all_reps, verdicts
    from storage.queries import lead_ids_by_external_id

    engine = make_engine(db.url)
    with engine.connect() as conn:
        rep = next(r for r in all_reps(conn=conn) if r.role == "rep")
    deps = Deps(engine)

    def ask(question: str) -> Any:
        return dispatch(IncomingMessage(question, "slack", rep.slack_user_id or "U1", rep), deps)

    with engine.connect() as conn:
        judged = {v.lead_id for v in verdicts(conn=conn)}  # the demo's reps judged some leads (a pin, a stop)
        ids = lead_ids_by_external_id(conn=conn, external_ids=[x["lead"] for x in top_leads(engine, limit=200)])
    hot = next(x for x in top_leads(engine, limit=200) if x["band"] == "hot" and ids[x["lead"]] not in judged)
    marked = ask(f"{hot['lead']} is not a fit: student project, no budget")
    assert marked.data == {"lead": hot["lead"], "action": "not_fit", "note": "student project, no budget",
                           "until": None}
    stop = f"{rep.name} marked it not a fit on {datetime.now(UTC):%-d %b}: student project, no budget"
    why = db.json("why", hot["lead"])  # no `score` run in between: the verdict is scored as it is given
    assert why["stop"] == stop and why["band"] == "cold"
    assert db.run("why", hot["lead"]).output.splitlines()[1] == f"Do not call: {stop} (its band is capped at cold)"
    assert hot["lead"] not in {lead["lead"] for lead in ask("who should I call today?").data["leads"]}
    assert ask(f"why is {hot['lead']} hot?").plain().index("not a fit") < ask(f"why is {hot['lead']} hot?").plain(
    ).index("Pushing it up")
    db.json("score")  # a full rescore keeps the stop
    assert db.json("why", hot["lead"])["stop"] == stop

    assert ask(f"{hot['lead']} is a fit after all").data["action"] == "fit"
    back = db.json("why", hot["lead"])
    assert back["stop"] is None and back["band"] == hot["band"]


def test_a_verdict_counts_from_when_it_was_given_and_the_latest_stands() -> None:
    from scoring.stops import judgements
    from storage.history import Verdict

    def at(day: int) -> datetime:
        return datetime(2026, 12, day, 9, tzinfo=UTC)

    given = [Verdict(1, "not_fit", at(1), "Jordan Lee", "student"), Verdict(2, "not_fit", at(1), None, None),
             Verdict(2, "fit", at(3), "Ana", None), Verdict(3, "not_fit", at(5), "Ana", "no budget")]
    cutoffs = pd.Series([pd.Timestamp(at(4).replace(tzinfo=None)).to_julian_date()] * 4, index=[1, 2, 3, 4])
    said = judgements(given, cutoffs).tolist()
    assert said == ["Jordan Lee marked it not a fit on 1 Dec: student", None, None, None]
    assert judgements(given[:2], cutoffs).tolist()[1] == "A rep marked it not a fit on 1 Dec"
    # a rep's verdict comes after an unsubscribe and a CRM "do not contact", before a bounce
    features = pd.DataFrame([{"beh.unsubscribe_90d": 1.0}, {"beh.email_bounce_30d": 1.0}])
    assert [s.split()[0] for s in stops(features, np.array(["Ana marked it", "Ana marked it"], dtype=object))] == [
        "Unsubscribed", "Ana"]
