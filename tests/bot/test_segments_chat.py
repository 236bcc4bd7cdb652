"""Segments in chat on the demo: the list, best converting first, and which segment a lead or account is in (the
segment the stored space gives its features), found as `why` finds names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from bot.router import Deps, IncomingMessage, dispatch, normalise, recognise
from scoring import registry
from scoring.features import build_features
from scoring.leads import top_leads
from scoring.rescore import active_cutoffs
from scoring.segments import SegmentSpace, segments_now
from storage.history import all_reps
from tests.conftest import run_sql


def ask(deps: Deps, text: str, rep: object = None) -> dict[str, Any]:
    reply = dispatch(IncomingMessage(text, "console", "tester", rep), deps)  # type: ignore[arg-type]
    return {"reply": reply, "text": reply.plain(), **reply.data}


@pytest.mark.parametrize(("question", "who"), [
    ("what segments do we have?", None), ("segments", None), ("show segments", None), ("list segments", None),
    ("show me all the segments", None), ("which segments are there?", None), ("what are our segments", None),
    ("which segment is Acme in?", "Acme"), ("what segment is Jane Doe in?", "Jane Doe"),
    ("segment of Jane Doe", "Jane Doe"), ("what's jane doe's segment?", "jane doe"),
    ("which segment does acme belong to", "acme"), ("what segment is Jane Doe at Acme in", "Jane Doe at Acme"),
])
def test_segment_questions_reach_the_segments_command(question: str, who: str | None) -> None:
    found = recognise(normalise(question))
    assert found is not None and found[0].name == "segments", (question, found)
    assert found[1].get("who") == who


def test_the_list_has_every_segment_best_converting_first_with_its_open_leads(deps: Deps) -> None:
    expected = segments_now(deps.engine, 25)
    assert expected is not None
    answer = ask(deps, "what segments do we have?")
    listed = answer["segments"]
    assert [s["segment"] for s in listed] == [s["segment"] for s in
                                              sorted(expected["segments"], key=lambda s: -s["conversion_rate"])]
    rates = [s["conversion_rate"] for s in listed]
    assert rates == sorted(rates, reverse=True) and len(listed) >= 2
    for shown, found in zip(listed, sorted(expected["segments"], key=lambda s: -s["conversion_rate"]), strict=True):
        assert shown["open_leads"] == found["open_leads"]
        assert shown["leads"] == found["leads"][:3]  # everyone may see every lead: the three likeliest
        assert f"*Segment {shown['segment']}* · {shown['description']} — converts" in answer["text"]
    assert f"{expected['decided_leads']:,} decided leads" in answer["text"] and "95% CI" in answer["text"]
    assert ask(deps, "list segments")["segments"] == listed


def test_a_lead_is_in_the_segment_its_features_place_it_in(deps: Deps) -> None:
    found = segments_now(deps.engine, 1)
    assert found is not None
    segment = next(s for s in found["segments"] if s["leads"])
    key = segment["leads"][0]
    answer = ask(deps, f"which segment is {key} in?")
    assert answer["lead"] == key and answer["segment"] == segment["segment"]
    with deps.engine.connect() as conn:
        lead_id = run_sql(conn, "SELECT id FROM lead WHERE external_id = ?", (key,)).scalar_one()
    version = registry.active_version(deps.engine)
    assert version is not None
    space = SegmentSpace.from_dict(version.metrics["segments"]["space"])
    features = build_features(deps.engine, active_cutoffs(deps.engine, among=[lead_id]))
    assert answer["segment"] == int(space.assign(features)[0])
    assert f"is in *segment {segment['segment']}*: {segment['description']} — converts" in answer["text"]
    assert f"vs {round(100 * found['base_rate'])}% base" in answer["text"]


def test_an_account_is_answered_with_its_best_open_lead(deps: Deps) -> None:
    best = top_leads(deps.engine, limit=1)[0]
    answer = ask(deps, f"what segment is {best['account']} in?")
    assert answer["lead"] == best["lead"] and answer["segment"] is not None
    assert f"{best['name']} is the best-scored open lead at {best['account']}" in answer["text"]


def test_a_name_several_leads_share_offers_the_choices_why_offers(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        name = run_sql(conn, "SELECT l.name FROM lead l JOIN score s ON s.lead_id = l.id GROUP BY l.name "
                             "HAVING count(DISTINCT l.id) > 1 ORDER BY l.name LIMIT 1").scalar_one()
        ids = {r[0] for r in run_sql(conn, "SELECT external_id FROM lead WHERE name = ?", (name,))}
    answer = ask(deps, f"which segment is {name} in?")
    assert "which one" in answer["text"] and set(answer["ambiguous"]) <= ids
    asked = [f"which segment is {key} in?" for key in answer["ambiguous"]]
    assert [c.question for c in answer["reply"].choices] == asked
    picked = ask(deps, "1")
    assert picked["lead"] == answer["ambiguous"][0] and "segment" in picked


def test_a_decided_lead_is_not_placed(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        key = run_sql(conn, "SELECT l.external_id FROM lead l JOIN outcome o ON o.lead_id = l.id "
                            "ORDER BY l.id LIMIT 1").scalar_one()
    answer = ask(deps, f"segment of {key}")
    assert answer["lead"] == key and answer["segment"] is None
    assert "no longer an open lead" in answer["text"]


def test_owned_sharing_hides_other_reps_leads(deps: Deps) -> None:
    with deps.engine.connect() as conn:
        rep = next(r for r in all_reps(conn=conn) if r.role == "rep")
        other = run_sql(conn, "SELECT external_id FROM lead WHERE owner_id != ? LIMIT 1", (rep.id,)).scalar_one()
        owners = {str(row.external_id): row.owner_id for row in run_sql(conn, "SELECT external_id, owner_id FROM lead")}
    private = replace(deps, settings=Settings(hotlead_share="owned"))
    hidden = ask(private, f"which segment is {other} in?", rep=rep)
    assert "segment" not in hidden and "I don't know" in hidden["text"]
    listed = ask(private, "segments", rep=rep)["segments"]
    named = [key for s in listed for key in s["leads"]]
    assert named and all(owners[key] in (rep.id, None) for key in named)


def test_without_a_model_it_says_to_train_first(engine: Engine) -> None:
    with engine.begin() as conn:
        run_sql(conn, "INSERT INTO lead (external_id, name, created_at, status, attributes) "
                      "VALUES ('L1', 'Jane Doe', '2026-11-01 00:00:00.000000', 'open', '{}')")
    deps = Deps(engine)
    for question in ("what segments do we have?", "which segment is Jane Doe in?"):
        answer = ask(deps, question)
        assert "No segments yet" in answer["text"] and "`hotlead train`" in answer["text"], answer["text"]
