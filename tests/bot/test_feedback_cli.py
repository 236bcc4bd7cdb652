"""Rep feedback end to end: a signed Slack button or a typed verdict is stored with who, when, why and until when,
shown by `why`, pins the band until its date, and is a feature and a weight at the next training, whose report
says what it did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from bot.channels.slack import blocks
from bot.commands.verdict import until_of
from bot.fakes import interaction_body, slack_headers
from bot.router import Deps, IncomingMessage, dispatch
from scoring.feedback import COLUMN, feedback_column, pins, sentence
from scoring.leads import explain_lead, top_leads
from scoring.rescore import score_leads
from scoring.training import feedback_weights, train
from storage.history import RepRow, Verdict, verdicts
from storage.queries import decisions, lead_ids_by_external_id
from tests.bot.conftest import slack_served

SECRET = "slack-signing-secret"
TOKEN = "xoxb-hotlead-test"


def at(day: int) -> datetime:
    return datetime(2026, 12, day, 9, tzinfo=UTC)


def julian(moment: datetime) -> float:
    return float(pd.Timestamp(moment.replace(tzinfo=None)).to_julian_date())


def test_the_latest_verdict_by_each_cutoff_is_the_feature_and_pins_the_band_until_its_date() -> None:
    said = [Verdict(1, "hotter", at(1), "Ana", "keen", at(15)), Verdict(2, "no_budget", at(2), "Ana", None, at(20)),
            Verdict(2, "fit", at(6), "Ana", None), Verdict(3, "not_fit", at(3), None, "student"),
            Verdict(4, "hotter", at(9), "Ana", None, at(23))]
    cutoffs = pd.Series([julian(at(5))] * 4 + [julian(at(16))], index=[1, 2, 3, 4, 5])
    assert feedback_column(said, cutoffs).tolist()[:3] == [1.0, -1.0, -1.0]
    assert np.isnan(feedback_column(said, cutoffs)[3])  # lead 4 was judged after its cutoff: not yet
    assert pins(said, cutoffs).tolist() == ["hot", "cold", None, None, None]  # not a fit is a stop, not a pin
    later = pd.Series([julian(at(16)), julian(at(7))], index=[1, 2])
    assert pins(said, later).tolist() == [None, None]  # lead 1's pin ended on the 15th; lead 2 a fit after all
    assert sentence(said[0], at(5)) == ("Ana marked it hotter than its score on 1 Dec: keen (band pinned hot "
                                        "until 15 Dec)")
    assert sentence(said[0], at(16)).endswith("(band was pinned hot until 15 Dec)")
    weights = feedback_weights(pd.DataFrame({COLUMN: [1.0, np.nan, -1.0]}))
    assert weights is not None and weights.tolist() == [2.0, 1.0, 2.0]
    assert feedback_weights(pd.DataFrame({"beh.x": [1.0]})) is None


@pytest.mark.parametrize(("words", "days"), [("for 2 weeks", 14), ("for 10 days", 10), ("", 14)])
def test_a_pin_lasts_as_long_as_the_rep_says(words: str, days: int) -> None:
    now = at(7)
    parts = {"weeks": "2"} if "weeks" in words else {"days": "10"} if "days" in words else {}
    assert until_of(parts, "hotter", now) == now + timedelta(days=days)
    assert until_of({}, "no_budget", now) == now + timedelta(days=30)
    assert until_of({"until": "20 Dec"}, "hotter", now) == datetime(2026, 12, 20, 23, 59, tzinfo=UTC)
    assert until_of({"until": "5 Jan"}, "hotter", now) == datetime(2027, 1, 5, 23, 59, tzinfo=UTC)  # next year
    assert until_of({"until": "someday soon"}, "hotter", now) == "someday soon"
    assert until_of({}, "not_fit", now) is None


def test_a_signed_slack_button_stores_the_feedback_pins_the_band_and_why_shows_it(
        demo_engine: Engine, a_rep: RepRow) -> None:
    with demo_engine.connect() as conn:
        judged = {v.lead_id for v in verdicts(conn=conn)}  # the demo's reps judged some leads already
        ids = lead_ids_by_external_id(conn=conn, external_ids=[row["lead"] for row in top_leads(demo_engine,
                                                                                                 limit=500)])
    lead = next(row for row in top_leads(demo_engine, limit=500)
                if row["band"] == "warm" and ids[row["lead"]] not in judged)
    lead_id = ids[lead["lead"]]
    with slack_served(demo_engine, TOKEN, SECRET, ["C0SALES"]) as (slack, server):
        body = interaction_body({
            "type": "block_actions", "user": {"id": a_rep.slack_user_id}, "channel": {"id": "C0SALES"},
            "team": {"id": "T1"}, "response_url": slack.response_url("button"), "trigger_id": "7.7.7",
            "api_app_id": "AHOTLEAD",
            "actions": [{"action_id": "hl_hotter", "value": lead["lead"], "type": "button", "block_id": "b1"}]})
        unsigned = httpx.post(f"{server}/slack/events", content=body, headers={
            **slack_headers(SECRET, body), "X-Slack-Signature": "v0=" + "0" * 64}, timeout=10)
        assert unsigned.status_code == 401
        with demo_engine.connect() as conn:
            assert not verdicts(conn=conn, lead_id=lead_id)  # a forged click stores nothing
        answered = httpx.post(f"{server}/slack/events", content=body, headers=slack_headers(SECRET, body),
                              timeout=10)
        assert answered.status_code == 200
        reply = slack.wait_for("chat.postMessage")[0].params["text"]
    assert "hotter than its score" in reply and "pinned hot" in reply
    with demo_engine.connect() as conn:
        stored = verdicts(conn=conn, lead_id=lead_id)
    assert [(v.action, v.rep) for v in stored] == [("hotter", a_rep.name)]
    assert stored[0].until is not None and stored[0].until - stored[0].created_at == timedelta(days=14)
    why = explain_lead(demo_engine, lead["lead"])
    assert why["band"] == "hot" and why["pinned"] == "hot"
    assert why["feedback"][0]["text"].startswith(f"{a_rep.name} marked it hotter than its score on ")
    assert {row["lead"]: row["band"] for row in top_leads(demo_engine, limit=500)}[lead["lead"]] == "hot"
    chat = dispatch(IncomingMessage(f"why is {lead['lead']} hot?", "slack", a_rep.slack_user_id or "", a_rep),
                    Deps(demo_engine))
    assert "Rep feedback" in chat.plain() and chat.data["feedback"][0]["action"] == "hotter"
    buttons = {e["action_id"] for b in blocks(chat) if b["type"] == "actions" for e in b["elements"]}
    assert {"hl_hotter", "hl_not_fit", "hl_no_budget"} <= buttons  # on every lead answer
    # when the pin ends, the model's band is back
    later = pd.Series([julian(stored[0].until + timedelta(days=1))], index=[lead_id])
    assert score_leads(demo_engine, later).pinned.tolist() == [None]
    with demo_engine.connect() as conn:
        open_judged = {v.lead_id for v in verdicts(conn=conn)} - {row[0] for row in decisions(conn=conn)}
    assert lead_id in open_judged
    report = train(demo_engine)  # the lead is still open: its feedback waits for its outcome
    assert report.metrics["feedback"]["waiting"] == len(open_judged)


def test_typed_feedback_with_its_date_and_reason_and_taking_it_back(demo_engine: Engine, a_rep: RepRow) -> None:
    now = datetime.now(UTC)
    deps = Deps(demo_engine, clock=lambda: now)

    def ask(question: str) -> Any:
        return dispatch(IncomingMessage(question, "slack", a_rep.slack_user_id or "", a_rep), deps)

    hot = next(row for row in top_leads(demo_engine, limit=50) if row["band"] == "hot")
    day = now + timedelta(days=10)
    marked = ask(f"talked to {hot['lead']}: no budget until {day:%-d %b} — frozen until next year")
    assert marked.data == {"lead": hot["lead"], "action": "no_budget", "note": "frozen until next year",
                           "until": datetime.combine(day.date(), datetime.min.time().replace(hour=23, minute=59),
                                                     tzinfo=UTC).isoformat()}
    assert explain_lead(demo_engine, hot["lead"])["band"] == "cold"
    assert ask(f"{hot['lead']} is hotter than this for 2 weeks: spoke today").data["action"] == "hotter"
    assert explain_lead(demo_engine, hot["lead"])["band"] == "hot"
    assert ask(f"unpin {hot['lead']}").data["action"] == "fit"
    assert explain_lead(demo_engine, hot["lead"])["pinned"] is None
    assert "could not read" in ask(f"{hot['lead']} is hotter than this until someday soon").plain()


def test_feedback_that_agrees_with_the_outcomes_is_a_feature_and_its_effect_is_reported(
        demo_engine: Engine) -> None:
    from storage.history import record_action

    with demo_engine.connect() as conn:
        decided = decisions(conn=conn)
    rng = np.random.default_rng(3)
    with demo_engine.begin() as conn:
        for lead_id, _key, won, day in decided:
            if day is not None and rng.random() < 0.3:  # a rep talked to 30% of them, and is right 80% of the time
                right = rng.random() < 0.8
                action = "hotter" if bool(won) == right else "no_budget"
                when = pd.to_datetime(day - 2, unit="D", origin="julian", utc=True).round("ms").to_pydatetime()
                record_action(conn=conn, lead_id=lead_id, rep_id=None, action=action, moment=when,
                              until=when + timedelta(days=14), note=None)
    report = train(demo_engine)
    effect = report.metrics["feedback"]
    assert effect["leads"] > 50 and 0.7 < effect["agreed"] < 0.9
    assert effect["auc_change"] > 0 and effect["auc"] > effect["auc_without"]
