"""The demo's reps judge about a third of the leads they talked to: right more often than not, dated before what
they judge, recorded as the chat records verdicts, and drawn apart from everything else the demo generates."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.db import create_schema, make_engine
from storage.demo import generate
from storage.demo.feedback import NOTES
from storage.demo.load import load_demo
from storage.demo.simulate import DemoPipeline
from storage.history import Verdict, all_reps, lead_names, utc, verdicts
from tests.conftest import Snapshots, stored_rows

TODAY, LEADS, SEED = date(2026, 11, 23), 1000, 3
MIDNIGHT = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> DemoPipeline:
    return generate(tmp_path_factory.mktemp("feedback"), leads=LEADS, seed=SEED, today=TODAY)


@pytest.fixture(scope="module")
def loaded(snapshots: Snapshots, pipeline: DemoPipeline) -> Iterator[Engine]:
    """The demo loaded into a database (read only here), on the session's engine."""

    def build(url: str) -> None:
        engine = make_engine(url)
        create_schema(engine)
        list(load_demo(engine, pipeline, lambda _label: nullcontext()))  # type: ignore[arg-type, return-value]
        engine.dispose()

    engine = make_engine(snapshots.build("demo_feedback", build))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def given(loaded: Engine) -> list[Verdict]:
    with loaded.connect() as conn:
        return verdicts(conn=conn)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def talked(pipeline: DemoPipeline) -> set[str]:
    """The leads a rep talked to: by chat or WhatsApp, or on a call."""
    return ({row["lead"] for row in rows(pipeline.files["messages"])}
            | {call.stem for call in pipeline.files["transcripts"].glob("*.txt")})


def test_the_owner_gives_one_verdict_on_about_a_third_of_the_leads_a_rep_talked_to(pipeline: DemoPipeline) -> None:
    feedback = rows(pipeline.files["feedback"])
    owners = {row["external_id"]: row["owner"] for row in rows(pipeline.files["leads"])}
    judged = [row["lead"] for row in feedback]
    assert len(judged) == len(set(judged)) == pipeline.counts["feedback"]
    assert set(judged) <= talked(pipeline)
    assert 0.25 < len(judged) / len(talked(pipeline)) < 0.45
    assert all(row["rep"] == owners[row["lead"]] for row in feedback)
    assert {row["action"] for row in feedback} == {"hotter", "no_budget", "not_fit"}


def test_the_verdicts_are_recorded_as_the_chat_records_them_by_the_leads_owner(
    pipeline: DemoPipeline, loaded: Engine, given: list[Verdict],
) -> None:
    with loaded.connect() as conn:
        reps = {rep.id: rep.name for rep in all_reps(conn=conn)}
        owners = {lead.id: reps[lead.owner_id] for lead in lead_names(conn=conn) if lead.owner_id}
    assert len(given) == pipeline.counts["feedback"] > 50
    assert all(verdict.rep == owners[verdict.lead_id] for verdict in given)
    assert all(verdict.note in NOTES[verdict.action] for verdict in given)


def test_each_verdict_is_given_after_the_conversation_began_and_before_the_decision_and_today(
    loaded: Engine, given: list[Verdict],
) -> None:
    decided = {lead: utc(at) for lead, at in stored_rows(loaded, "SELECT lead_id, closed_at FROM outcome")}
    began = {lead: utc(at) for lead, at in stored_rows(
        loaded, "SELECT lead_id, min(occurred_at) FROM message GROUP BY lead_id")}
    assert sum(verdict.lead_id in decided for verdict in given) > 30
    for verdict in given:
        assert began[verdict.lead_id] < verdict.created_at < decided.get(verdict.lead_id, MIDNIGHT)
        assert verdict.created_at < MIDNIGHT


def test_the_verdicts_agree_with_what_happened_more_often_than_not_but_not_always(
    loaded: Engine, given: list[Verdict],
) -> None:
    won = dict(stored_rows(loaded, "SELECT lead_id, converted FROM outcome"))
    judged = [(verdict.action == "hotter", bool(won[verdict.lead_id])) for verdict in given if verdict.lead_id in won]
    agreement = sum(hot == converted for hot, converted in judged) / len(judged)
    assert 0.65 <= agreement < 1.0
    assert any(converted for _, converted in judged)


def test_hotter_pins_for_14_days_no_budget_for_30_and_not_a_fit_has_no_end(given: list[Verdict]) -> None:
    pins = {"hotter": timedelta(days=14), "no_budget": timedelta(days=30)}
    for verdict in given:
        if verdict.action == "not_fit":
            assert verdict.until is None
        else:
            assert verdict.until is not None and verdict.until - verdict.created_at == pins[verdict.action]


def test_the_same_seed_gives_the_same_feedback_and_another_seed_other_feedback(
    pipeline: DemoPipeline, tmp_path: Path,
) -> None:
    again = generate(tmp_path / "again", leads=LEADS, seed=SEED, today=TODAY)
    other = generate(tmp_path / "other", leads=LEADS, seed=SEED + 1, today=TODAY)
    assert again.files["feedback"].read_bytes() == pipeline.files["feedback"].read_bytes()
    assert other.files["feedback"].read_bytes() != pipeline.files["feedback"].read_bytes()


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_rest_of_the_demo_is_the_same_whoever_gives_feedback(
    pipeline: DemoPipeline, tmp_path: Path, share: float,
) -> None:
    """The verdicts draw from a generator of their own per lead (seeded by the demo's seed and the lead), so the
    main stream, and every other row drawn from it, is what it was before reps gave feedback."""
    changed = generate(tmp_path, leads=LEADS, seed=SEED, today=TODAY, feedback_share=share)
    assert changed.truth == pipeline.truth
    for kind in ("reps", "accounts", "leads", "activities", "messages", "outcomes"):
        assert changed.files[kind].read_bytes() == pipeline.files[kind].read_bytes(), kind
    calls = sorted(pipeline.files["transcripts"].glob("*.txt"))
    assert [call.read_bytes() for call in calls] == [
        (changed.files["transcripts"] / call.name).read_bytes() for call in calls
    ]
    judged = {row["lead"] for row in rows(changed.files["feedback"])}
    assert judged == (talked(pipeline) if share else set())
