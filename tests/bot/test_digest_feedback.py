"""The digest's overrides (the reps' verdicts of the week, the bands pinned now) and its call-out of a segment that
converts well while the bands miss it, on the trained demo."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import Engine, bindparam, text
from sqlmodel import Session, select

from bot.cli import cli
from bot.clients import slack_client
from bot.config import Settings
from bot.fakes import FakeSlack
from bot.push.digest import build_digest, send_digest
from bot.push.digest_sections import LISTED, MISSED
from scoring.segments import segments_now
from storage.history import VERDICTS, RepRow, record_action
from storage.models import ModelVersion
from storage.queries import latest_open_scores
from tests.bot.test_digest import add_score

TOKEN = "xoxb-digest-feedback"
RAW = re.compile(r"<(?:!|@U0HL|https?://|#C)")  # a control sequence Slack would act on


def open_leads(engine: Engine, band: str, limit: int) -> list[tuple[Any, ...]]:
    """(external id, name, account, probability, percentile, band, reasons, previous, lead id) of open leads."""
    with engine.connect() as conn:
        return latest_open_scores(conn=conn, band=band, limit=limit)


def without_verdicts(engine: Engine) -> None:
    """Forget the verdicts the demo's reps gave."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM lead_action WHERE action IN :kinds").bindparams(
            bindparam("kinds", expanding=True)), {"kinds": list(VERDICTS)})


def judge(engine: Engine, lead_id: int, rep_id: int | None, action: str, at: datetime,
          until: datetime | None = None, note: str | None = None) -> None:
    with engine.begin() as conn:
        record_action(conn=conn, lead_id=lead_id, rep_id=rep_id, action=action, moment=at, until=until, note=note)


def test_the_weeks_overrides_are_counted_the_latest_listed_and_the_pins_in_force_counted(
    demo_engine: Engine, a_rep: RepRow
) -> None:
    now = datetime(2026, 12, 14, 8, tzinfo=UTC)
    without_verdicts(demo_engine)
    keen, broke, short, unfit, *fits = open_leads(demo_engine, "warm", 9)
    judge(demo_engine, keen[8], a_rep.id, "hotter", now - timedelta(days=2), now + timedelta(days=10),
          "spoke today, very keen")
    judge(demo_engine, broke[8], a_rep.id, "no_budget", now - timedelta(days=10), now + timedelta(days=20))  # older
    judge(demo_engine, short[8], a_rep.id, "no_budget", now - timedelta(days=3), now - timedelta(days=1))  # ended
    judge(demo_engine, unfit[8], None, "not_fit", now - timedelta(days=1))
    judge(demo_engine, fits[0][8], a_rep.id, "hotter", now - timedelta(days=9), now + timedelta(days=5))
    judge(demo_engine, fits[0][8], a_rep.id, "fit", now - timedelta(days=7))  # the week's first moment: in
    for i, lead in enumerate(fits[1:4]):
        judge(demo_engine, lead[8], a_rep.id, "fit", now - timedelta(days=6, hours=i))
    judge(demo_engine, fits[4][8], a_rep.id, "hotter", now, now + timedelta(days=7))  # next week's

    digest = build_digest(demo_engine, now)

    found = digest.overrides
    assert found is not None
    assert found.counts == {"hotter": 1, "no_budget": 1, "not_fit": 1, "fit": 4}
    assert found.pinned == {"hot": 1, "cold": 1}  # keen's and broke's; short's ended, fits[0]'s was lifted
    assert [o.lead for o in found.latest] == [unfit[0], keen[0], short[0], *(f[0] for f in fits[1:4])][:LISTED]
    assert found.latest[1].line() == (f"{a_rep.name}: {keen[1]} ({keen[2]}) hotter than its score (pinned hot until "
                                      "24 Dec): “spoke today, very keen”")
    assert f"A rep: {unfit[1]} ({unfit[2]}) not a fit (capped cold, off call lists)" in digest.text
    assert f"{short[1]} ({short[2]}) talked: no budget (pinned cold until 13 Dec)" in digest.text
    assert "Overrides this week (7)" in digest.text
    assert "1 hotter than the score, 1 talked: no budget, 1 not a fit, 4 a fit after all" in digest.text
    assert "Bands pinned now: 1 hot, 1 cold" in digest.text
    assert digest.text.index("Overrides this week") < digest.text.index("Model health")
    data = json.loads(json.dumps(digest.as_dict()))
    assert data["overrides"]["counts"]["fit"] == 4 and data["overrides"]["pinned"] == {"hot": 1, "cold": 1}
    assert data["overrides"]["latest"][1]["until"] == (now + timedelta(days=10)).isoformat()
    assert data["overrides"]["latest"][1]["note"] == "spoke today, very keen"


def test_a_week_without_feedback_has_no_overrides_section(demo_engine: Engine, a_rep: RepRow) -> None:
    now = datetime(2026, 12, 14, 8, tzinfo=UTC)
    without_verdicts(demo_engine)
    lead = open_leads(demo_engine, "warm", 1)[0]
    judge(demo_engine, lead[8], a_rep.id, "hotter", now - timedelta(days=8), now + timedelta(days=30))  # last week

    digest = build_digest(demo_engine, now)

    assert digest.overrides is None and "Overrides this week" not in digest.text
    assert digest.as_dict()["overrides"] is None


def test_hostile_notes_and_names_in_the_overrides_reach_slack_as_text(demo_engine: Engine, a_rep: RepRow) -> None:
    now = datetime.now(UTC)
    lead = open_leads(demo_engine, "cold", 1)[0]
    with demo_engine.begin() as conn:
        conn.execute(text("UPDATE lead SET name = :n WHERE id = :i"), {"n": "<!here> & Co", "i": lead[8]})
        conn.execute(text("UPDATE rep SET name = :n WHERE id = :i"), {"n": "<@U0HL00001>", "i": a_rep.id})
    judge(demo_engine, lead[8], a_rep.id, "hotter", now - timedelta(hours=1), now + timedelta(days=3),
          "<!channel> *bold* <https://evil.example|click>")

    with FakeSlack(token=TOKEN, channels=["C0DIGEST"]) as slack:
        settings = Settings(slack_bot_token=TOKEN, slack_api_url=slack.url, hotlead_digest_channel="C0DIGEST")
        digest, sent = send_digest(settings, demo_engine, slack_client(settings), now)
        posts = slack.calls_to("chat.postMessage")

    assert "“<!channel> *bold* <https://evil.example|click>”" in digest.text  # the data keeps the words as typed
    assert sent and all(delivery.error is None for delivery in sent) and posts
    for call in posts:
        posted = str(call.params["text"]) + json.dumps(call.params["blocks"], ensure_ascii=False)
        assert not RAW.search(posted), posted[:400]
        assert "“&lt;!channel&gt; *bold* &lt;https://evil.example|click&gt;”" in posted
        assert "&lt;@U0HL00001&gt;: &lt;!here&gt; &amp; Co" in posted


def members(engine: Engine) -> dict[int, list[str]]:
    """Each segment's open leads (external ids), likeliest first."""
    placed = segments_now(engine, listed=100_000)
    assert placed is not None
    return {segment["segment"]: segment["leads"] for segment in placed["segments"]}


def test_a_segment_converting_well_that_the_bands_miss_is_called_out(demo_engine: Engine) -> None:
    now = datetime.now(UTC)
    placed = segments_now(demo_engine, listed=100_000)
    assert placed is not None
    with demo_engine.connect() as conn:
        band = {row[0]: row[5] for row in latest_open_scores(conn=conn)}
    expected = sorted((s for s in placed["segments"]
                       if s["conversion_rate"] >= 1.5 * s["base_rate"] and s["ci_low"] > s["base_rate"]
                       and 2 * sum(band[lead] == "hot" for lead in s["leads"]) < s["open_leads"]),
                      key=lambda s: -s["lift"])[:MISSED]
    assert expected  # the demo's hidden readers, at least, convert well over the base rate and are seldom hot

    digest = build_digest(demo_engine, now)

    assert [m.segment for m in digest.missed] == [s["segment"] for s in expected]
    first, segment = digest.missed[0], expected[0]
    assert first.hot == sum(band[lead] == "hot" for lead in segment["leads"]) and first.open_leads == len(
        segment["leads"])
    assert [e.lead for e in first.examples] == [lead for lead in segment["leads"] if band[lead] != "hot"][:3]
    assert all(e.band != "hot" for e in first.examples)
    heading = "A segment you may be missing" if len(expected) == 1 else "Segments you may be missing"
    assert heading in digest.text
    assert (f"{segment['description']} — converts {segment['conversion_rate']:.0%} ({segment['lift']:.1f}× the "
            f"{segment['base_rate']:.0%} base rate, 95% CI {100 * segment['ci_low']:.0f}–"
            f"{100 * segment['ci_high']:.0f}%); {first.open_leads} open leads in it, only {first.hot} banded hot; "
            f"likeliest of the others: {first.examples[0].label}") in digest.text
    assert json.loads(json.dumps(digest.as_dict()))["missed_segments"][0]["examples"][0]["lead"] == first.examples[
        0].lead


def test_a_segment_half_banded_hot_is_not_called_out(demo_engine: Engine) -> None:
    now = datetime.now(UTC)
    called = build_digest(demo_engine, now).missed[0]
    with demo_engine.connect() as conn:
        rows = {row[0]: row for row in latest_open_scores(conn=conn)}
    cooler = [rows[lead] for lead in members(demo_engine)[called.segment] if rows[lead][5] != "hot"]
    needed = (called.open_leads + 1) // 2 - called.hot  # hot leads it takes to reach half (rounded up)
    for row in cooler[:needed]:  # rescored hot, the last of them a minute later
        add_score(demo_engine, row[8], now + timedelta(minutes=1 if row is cooler[needed - 1] else 0), row[3], "hot",
                  [])

    just_under = build_digest(demo_engine, now + timedelta(seconds=30)).missed
    assert [m.hot for m in just_under if m.segment == called.segment] == [called.hot + needed - 1]
    half = build_digest(demo_engine, now + timedelta(minutes=2)).missed
    assert called.segment not in [m.segment for m in half]


def plant(engine: Engine, change: Any) -> None:
    """Rewrite the active model's stored segments with `change(segments metrics)` (returning the new value)."""
    with Session(engine) as session:
        version = session.exec(select(ModelVersion).where(ModelVersion.status == "active")).one()
        metrics = copy.deepcopy(version.metrics)
        metrics["segments"] = change(metrics["segments"])
        version.metrics = metrics
        session.add(version)
        session.commit()


def test_no_segment_is_called_out_when_none_converts_surely_above_the_base_rate(demo_engine: Engine) -> None:
    def unsure(stored: dict[str, Any]) -> dict[str, Any]:  # each interval reaches down to the base rate
        return {**stored, "segments": [{**s, "ci_low": min(s["ci_low"], s["base_rate"])} for s in stored["segments"]]}

    plant(demo_engine, unsure)
    digest = build_digest(demo_engine, datetime.now(UTC))
    assert digest.missed == [] and "may be missing" not in digest.text
    assert digest.as_dict()["missed_segments"] == []


def test_a_model_without_segments_calls_none_out(demo_engine: Engine) -> None:
    plant(demo_engine, lambda stored: None)
    digest = build_digest(demo_engine, datetime.now(UTC))
    assert digest.missed == [] and "may be missing" not in digest.text


def test_digest_dry_run_json_carries_the_overrides_and_the_missed_segments(
    demo_url: str, demo_engine: Engine, a_rep: RepRow
) -> None:
    lead = open_leads(demo_engine, "warm", 1)[0]
    judge(demo_engine, lead[8], a_rep.id, "not_fit", datetime.now(UTC), note="a student")  # the newest

    result = CliRunner().invoke(cli, ["digest", "--dry-run", "--json"], env={"HOTLEAD_DATABASE_URL": demo_url})

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["overrides"]["counts"]["not_fit"] >= 1 and data["overrides"]["latest"][0]["note"] == "a student"
    assert data["missed_segments"]
    assert {"segment", "description", "lift", "open_leads", "hot", "examples"} <= set(data["missed_segments"][0])
