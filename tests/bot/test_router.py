"""The chat core on a real demo database: questions as reps type them, answers with the facts."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from bot.replies import split_message
from bot.router import Deps, IncomingMessage, dispatch, normalise
from scoring.leads import top_leads
from storage.db import create_schema, make_engine
from storage.history import all_reps, stamp
from tests.conftest import run_sql


def ask(deps: Deps, text: str, user: str = "tester", rep: object = None) -> dict:
    reply = dispatch(IncomingMessage(text, "console", user, rep), deps)  # type: ignore[arg-type]
    return {"reply": reply, "text": reply.plain(), **reply.data}


def best(engine: Engine) -> dict:
    return top_leads(engine, limit=1)[0]


def test_why_names_the_lead_its_score_and_reasons(deps: Deps) -> None:
    lead = best(deps.engine)
    answer = ask(deps, f"why is {lead['name']} at {lead['account']} hot?")
    assert answer["lead"] == lead["lead"]
    assert answer["score"] == round(100 * answer["probability"])
    assert len(answer["reasons"]) >= 3
    assert lead["name"] in answer["text"] and str(answer["score"]) in answer["text"]
    assert {a.name for a in answer["reply"].actions} == {"snooze", "contacted", "hotter", "not_fit", "no_budget"}


def test_an_account_name_with_a_typo_explains_its_best_lead(deps: Deps) -> None:
    lead = best(deps.engine)
    account = lead["account"]
    typo = account[:2] + account[3:]  # one letter dropped
    answer = ask(deps, f"Why is {typo.lower()} so hot?")
    assert answer["lead"] == lead["lead"]
    assert "best-scored open lead" in answer["text"]


def test_an_ambiguous_name_offers_choices_and_a_number_picks_one(deps: Deps, shared_name: str) -> None:
    name = shared_name
    with deps.engine.connect() as conn:
        ids = {r[0] for r in run_sql(conn, "SELECT external_id FROM lead WHERE name = ?", (name,))}
    answer = ask(deps, f"why is {name} hot?")
    assert "which one" in answer["text"]
    assert set(answer["ambiguous"]) == ids
    picked = ask(deps, "2")
    assert picked["lead"] == answer["reply"].choices[1].question.split()[2]
    assert picked["lead"] in ids


LATEST = "SELECT lead_id, probability, band FROM score WHERE id IN (SELECT max(id) FROM score GROUP BY lead_id)"


def test_choices_show_each_leads_score_best_first(deps: Deps) -> None:
    with deps.engine.connect() as conn:  # a name two or more scored leads share, none of them hot
        name = run_sql(conn,
            f"SELECT l.name FROM lead l JOIN ({LATEST}) s ON s.lead_id = l.id GROUP BY l.name "
            "HAVING count(*) BETWEEN 2 AND 5 AND max(CASE WHEN s.band = 'hot' THEN 1 ELSE 0 END) = 0 "
            "ORDER BY l.name LIMIT 1").scalar_one()
        latest = dict(run_sql(conn, f"SELECT l.external_id, s.probability FROM lead l JOIN ({LATEST}) s "
                                           "ON s.lead_id = l.id WHERE l.name = ?", (name,)).all())
    answer = ask(deps, f"why is {name} hot?")
    keys = [choice.question.split()[2] for choice in answer["reply"].choices]
    scored = [key for key in keys if key in latest]
    assert scored and scored == sorted(scored, key=lambda key: -latest[key])
    assert keys[: len(scored)] == scored  # scored leads before unscored (closed) ones
    for choice in answer["reply"].choices:  # a scored lead shows its score; a closed one shows none
        key = choice.question.split()[2]
        if key in latest:
            assert f"· {round(100 * latest[key])}" in choice.label
        else:
            assert re.search(r"· \d+", choice.label) is None


def test_a_shared_name_asked_about_as_hot_means_the_hot_one(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        name, lead = run_sql(conn,
            "SELECT l.name, l.external_id FROM lead l JOIN score s ON s.lead_id = l.id AND s.band = 'hot' "
            "WHERE l.name IN (SELECT name FROM lead GROUP BY name HAVING count(*) > 1) ORDER BY l.id LIMIT 1").one()
        hot_ones = run_sql(conn, "SELECT count(*) FROM lead l JOIN score s ON s.lead_id = l.id "
                                        "AND s.band = 'hot' WHERE l.name = ?", (name,)).scalar_one()
    assert hot_ones == 1  # the demo has such a name; the others sharing it are not hot
    answer = ask(deps, f"why is {name} hot?")
    assert answer["lead"] == lead and "Also called" in answer["text"]


def test_an_unknown_name_gets_the_closest_names(deps: Deps) -> None:
    account = best(deps.engine)["account"]
    answer = ask(deps, f"why is {account[:4]}qzx hot?")
    assert answer["unknown"] == f"{account[:4]}qzx"
    assert "I don't know" in answer["text"]


def test_top_hot_leads_in_an_industry(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        industry = run_sql(conn,
            "SELECT a.industry FROM score s JOIN lead l ON l.id = s.lead_id JOIN account a ON a.id = l.account_id "
            "WHERE s.band = 'hot' GROUP BY a.industry ORDER BY count(*) DESC LIMIT 1").scalar_one()
        industries = dict(run_sql(conn, "SELECT l.external_id, a.industry FROM lead l "
                                               "JOIN account a ON a.id = l.account_id").all())
    answer = ask(deps, f"top 5 hot leads in {industry.upper()}")
    leads = answer["leads"]
    assert 0 < len(leads) <= 5
    assert all(item["band"] == "hot" and industries[item["lead"]] == industry for item in leads)
    assert [i["probability"] for i in leads] == sorted((i["probability"] for i in leads), reverse=True)


def test_an_unknown_industry_lists_the_known_ones(deps: Deps) -> None:
    answer = ask(deps, "top leads in aerospace")
    assert answer["unknown"] == "aerospace"
    assert "Industries" in answer["text"]


def test_who_to_call_leaves_out_a_snoozed_lead(deps: Deps) -> None:
    first = ask(deps, "who should I call today?")["leads"]
    assert first and all(item["band"] in ("hot", "warm") for item in first)
    snoozed = ask(deps, f"snooze {first[0]['lead']} 3 days")
    assert snoozed["action"] == "snooze"
    after = ask(deps, "Who should I call today?")["leads"]
    assert first[0]["lead"] not in [item["lead"] for item in after]


def test_a_rep_is_suggested_only_their_own_leads(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        rep = next(r for r in all_reps(conn=conn) if r.role == "rep")
        own = {r[0] for r in run_sql(conn, "SELECT external_id FROM lead WHERE owner_id = ?", (rep.id,))}
    leads = ask(deps, "who should I call today", rep=rep)["leads"]
    assert leads and {item["lead"] for item in leads} <= own


def test_compare_explains_why_the_higher_lead_ranks_above(deps: Deps) -> None:
    first, second = top_leads(deps.engine, limit=2)
    answer = ask(deps, f"compare {second['lead']} and {first['lead']}")
    assert answer["higher"]["lead"] == first["lead"] and answer["lower"]["lead"] == second["lead"]
    assert answer["margin_gap"] > 0 and answer["reasons"]


def test_what_changed_reports_the_move_since_a_week_ago(deps: Deps) -> None:
    lead = best(deps.engine)
    with deps.engine.begin() as conn:
        lead_id, version = run_sql(conn,
            "SELECT l.id, s.model_version_id FROM lead l JOIN score s ON s.lead_id = l.id WHERE l.external_id = ?",
            (lead["lead"],)).one()
        insert = ("INSERT INTO score (lead_id, model_version_id, scored_at, probability, percentile, band, reasons) "
                  "VALUES (?, ?, ?, ?, ?, ?, '[]')")
        run_sql(conn, insert, (lead_id, version, stamp(datetime.now(UTC) - timedelta(days=8)), 0.05, 40.0,
                                      "cold"))  # history is appended in time order: the old score, then today's
        run_sql(conn, insert, (lead_id, version, stamp(datetime.now(UTC)), lead["probability"],
                                      lead["percentile"], "hot"))
    answer = ask(deps, f"what changed for {lead['lead']} this week?")
    assert answer["days"] == 7
    assert answer["movement"][lead["lead"]] == pytest.approx(lead["probability"] - 0.05)
    assert "cold → hot" in answer["text"]


def test_a_question_it_does_not_understand_gets_examples(deps: Deps) -> None:
    answer = ask(deps, "what is the meaning of life")
    assert "didn't catch" in answer["text"]
    assert "why is Acme hot?" in answer["help"]


def test_without_a_model_it_says_how_to_train(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    create_schema(engine)
    with engine.begin() as conn:
        run_sql(conn, "INSERT INTO lead (external_id, name, created_at, status, attributes) "
                             "VALUES ('L1', 'Jane Doe', '2026-11-01 00:00:00.000000', 'open', '{}')")
    deps = Deps(engine)
    assert "hotlead train" in ask(deps, "why is Jane Doe hot?")["text"]
    assert "hotlead train" in ask(deps, "top leads")["text"]


def test_owned_sharing_hides_other_reps_leads(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        rep = next(r for r in all_reps(conn=conn) if r.role == "rep")
        other = run_sql(conn, "SELECT external_id FROM lead WHERE owner_id != ? LIMIT 1", (rep.id,)).scalar()
    private = replace(deps, settings=Settings(hotlead_share="owned"))
    hidden = ask(private, f"why is {other} hot?", rep=rep)
    assert "lead" not in hidden and "I don't know" in hidden["text"]
    top = ask(private, "top 25 leads", rep=rep)["leads"]
    with deps.engine.connect() as conn:
        owners = dict(run_sql(conn, "SELECT external_id, owner_id FROM lead").all())
    assert top and all(owners[item["lead"]] in (rep.id, None) for item in top)


@pytest.mark.parametrize("raw, clean", [
    ("<@U0HOTLEAD> why is Acme hot?", "why is Acme hot?"),
    ("hey hotlead, top leads please", "top leads"),
    ("  Hi!   compare   A and B  ", "compare A and B"),
])
def test_mentions_greetings_and_please_are_ignored(raw: str, clean: str) -> None:
    assert normalise(raw) == clean


def test_long_replies_split_at_line_breaks_within_the_limit() -> None:
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(100))
    pieces = split_message(text, 1600)
    assert len(pieces) > 1 and all(len(p) <= 1600 for p in pieces)
    assert "\n".join(pieces) == text


@pytest.mark.parametrize("channel", ["slack", "whatsapp"])
def test_only_a_registered_rep_may_snooze_a_lead(deps: Deps, a_rep: object, channel: str) -> None:
    lead = best(deps.engine)["lead"]
    stranger = dispatch(IncomingMessage(f"snooze {lead} 7 days", channel, "U0STRANGER", None), deps)
    with deps.engine.connect() as conn:
        actions = run_sql(conn, "SELECT count(*) FROM lead_action WHERE action = 'snooze'").scalar_one()
    assert "Only registered reps" in stranger.text and actions == 0
    rep = dispatch(IncomingMessage(f"snooze {lead} 7 days", channel, "U0HL00003", a_rep), deps)  # type: ignore[arg-type]
    assert rep.data["action"] == "snooze"


@pytest.mark.parametrize(("question", "country"), [
    ("show me leads from Germany", "DE"), ("top leads in germany", "DE"), ("top 3 hot leads in the UK", "GB"),
    ("list leads in the United States", "US"), ("top leads in de", "DE"),
])
def test_countries_are_understood_by_name_or_code(deps: Deps, question: str, country: str) -> None:
    reply = dispatch(IncomingMessage(question, "console", "console"), deps)
    found = [lead["lead"] for lead in reply.data["leads"]]
    assert found
    with deps.engine.connect() as conn:
        countries = {row[0] for row in run_sql(conn,
            f"SELECT a.country FROM lead l JOIN account a ON a.id = l.account_id WHERE l.external_id IN "
            f"({','.join('?' * len(found))})", tuple(found))}
    assert countries == {country}


@pytest.mark.parametrize("question", [
    "top leads for Jordan Lee", "top 3 hot leads for jordan lee", "top leads for jordan le",  # a typo
])
def test_a_reps_leads_are_understood_by_the_reps_name(deps: Deps, question: str) -> None:
    reply = dispatch(IncomingMessage(question, "console", "console"), deps)
    found = [lead["lead"] for lead in reply.data["leads"]]
    assert found and "of Jordan Lee" in reply.text
    with deps.engine.connect() as conn:
        owners = {row[0] for row in run_sql(conn,
            f"SELECT r.name FROM lead l JOIN rep r ON r.id = l.owner_id WHERE l.external_id IN "
            f"({','.join('?' * len(found))})", tuple(found))}
    assert owners == {"Jordan Lee"}
