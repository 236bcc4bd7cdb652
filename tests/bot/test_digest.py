import json
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from bot.cli import cli
from bot.fakes import FakeSlack
from bot.push.digest import build_digest
from storage.db import json_dumps, json_loads
from storage.history import stamp

TOKEN = "xoxb-digest-test"


def add_score(engine: Engine, lead_id: int, at: datetime, probability: float, band: str,
              reasons: list[dict[str, Any]]) -> None:
    """Append a row to a lead's score history."""
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO score (lead_id, model_version_id, scored_at, probability, percentile, band, reasons) "
            "SELECT :lead, id, :at, :p, 50.0, :band, :reasons FROM model_version WHERE status = 'active'"
        ), {"lead": lead_id, "at": stamp(at), "p": probability, "band": band, "reasons": json_dumps(reasons)})


def latest(engine: Engine, band: str, limit: int) -> list[tuple[int, float, list[dict[str, Any]]]]:
    """Open leads of a band by their latest score, best first: id, probability, reasons."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.lead_id, s.probability, s.reasons FROM score s JOIN lead l ON l.id = s.lead_id "
            "LEFT JOIN outcome o ON o.lead_id = l.id WHERE o.id IS NULL AND s.band = :band "
            "ORDER BY s.probability DESC LIMIT :limit"
        ), {"band": band, "limit": limit}).all()
    return [(lead, p, json_loads(reasons)) for lead, p, reasons in rows]


def external_id(engine: Engine, lead_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT external_id FROM lead WHERE id = :id"), {"id": lead_id}).scalar_one())


def test_risers_and_fallers_come_from_the_history_with_the_reason_that_moved_most(demo_engine: Engine) -> None:
    now = datetime.now(UTC)
    (riser, riser_p, riser_reasons), (faller, faller_p, faller_reasons) = latest(demo_engine, "hot", 2)
    weaker = [{**riser_reasons[1], "contribution": riser_reasons[1]["contribution"] - 1.0}]
    add_score(demo_engine, riser, now - timedelta(days=10), riser_p - 0.30, "warm",
              [riser_reasons[0], *weaker, riser_reasons[2]])
    add_score(demo_engine, faller, now - timedelta(days=9), min(faller_p + 0.20, 0.99), "hot", faller_reasons)

    digest = build_digest(demo_engine, now)

    assert [line.lead for line in digest.risers] == [external_id(demo_engine, riser)]
    assert digest.risers[0].movement == pytest.approx(0.30)
    assert digest.risers[0].reason == riser_reasons[1]["text"]
    assert digest.risers[0].band_before == "warm" and digest.risers[0].band == "hot"
    assert [line.lead for line in digest.fallers] == [external_id(demo_engine, faller)]
    assert digest.fallers[0].movement < 0
    new_hot = {line.lead for line in digest.new_hot}
    assert external_id(demo_engine, riser) in new_hot and external_id(demo_engine, faller) not in new_hot
    assert "Biggest risers" in digest.text and f"+{round(30)}" in digest.text


def test_a_move_older_than_a_week_is_not_this_weeks_news(demo_engine: Engine) -> None:
    now = datetime.now(UTC)
    (lead, p, reasons), = latest(demo_engine, "warm", 1)
    add_score(demo_engine, lead, now - timedelta(days=20), p - 0.2, "cold", reasons)
    add_score(demo_engine, lead, now - timedelta(days=15), p, "warm", reasons)

    digest = build_digest(demo_engine, now)

    assert digest.risers == [] and digest.fallers == []
    assert "No lead rose this week." in digest.text


def add_activity(engine: Engine, lead_id: int, kind: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO activity (lead_id, kind, occurred_at, page_type, detail) "
                          "VALUES (:lead, :kind, :at, :page, '{}')"),
                     {"lead": lead_id, "kind": kind, "at": stamp(at), "page": "pricing" if kind == "page_view" else ""})


def test_hot_leads_gone_quiet_had_no_activity_of_their_own_all_week(demo_engine: Engine) -> None:
    later = datetime.now(UTC) + timedelta(days=30)  # a week in which nobody did anything yet
    (back, _, _), (emailed, _, _) = latest(demo_engine, "hot", 2)
    add_activity(demo_engine, back, "page_view", later - timedelta(days=2))
    add_activity(demo_engine, emailed, "email_sent", later - timedelta(days=2))  # our email is not theirs

    digest = build_digest(demo_engine, later)

    hot = len(latest(demo_engine, "hot", 10_000))
    assert digest.quiet_total == hot - 1
    quiet = {line.lead for line in digest.quiet}
    assert external_id(demo_engine, back) not in quiet and external_id(demo_engine, emailed) in quiet
    assert all(line.last_heard is None or line.last_heard < f"{later - timedelta(days=7):%Y-%m-%d}"
               for line in digest.quiet)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_chart_is_a_png_with_a_bar_per_mover(demo_engine: Engine) -> None:
    now = datetime.now(UTC)
    quiet_week = png_size(build_digest(demo_engine, now).chart)
    for lead, p, reasons in latest(demo_engine, "warm", 6):
        add_score(demo_engine, lead, now - timedelta(days=8), p - 0.1, "cold", reasons)
    busy_week = png_size(build_digest(demo_engine, now).chart)
    assert busy_week[0] == quiet_week[0] and busy_week[1] > quiet_week[1]


def test_model_health_falls_back_to_the_training_ratio_and_measures_drift(demo_engine: Engine) -> None:
    digest = build_digest(demo_engine, datetime.now(UTC))
    with demo_engine.connect() as conn:
        stored = conn.execute(text("SELECT metrics FROM model_version WHERE status = 'active'")).scalar_one()
    metrics = json_loads(stored)
    assert digest.health.ratio_source == "training"
    assert digest.health.quartile_ratio == pytest.approx(metrics["quartile_ratio"])
    assert "probability" in digest.health.psi and len(digest.health.psi) <= 11
    assert digest.health.summary() in digest.text


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, channels=["C0DIGEST"]) as fake:
        yield fake


def add_manager(engine: Engine, name: str, slack_user_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO rep (name, role, slack_user_id, timezone) VALUES (:n, 'manager', :s, 'UTC')"),
                     {"n": name, "s": slack_user_id})


def test_digest_now_posts_to_each_manager_and_the_channel_with_the_chart(
    demo_url: str, demo_engine: Engine, slack: FakeSlack
) -> None:
    add_manager(demo_engine, "Pat Boss", "U0BOSS")
    env = {"HOTLEAD_DATABASE_URL": demo_url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack.url,
           "HOTLEAD_DIGEST_CHANNEL": "C0DIGEST"}

    result = CliRunner().invoke(cli, ["digest", "--now"], env=env)

    assert result.exit_code == 0, result.output
    posts = slack.calls_to("chat.postMessage")
    assert sorted(call.params["channel"] for call in posts) == ["C0DIGEST", "DU0BOSS", "DU0HL00007"]
    assert all(call.params["text"].startswith("Hotlead weekly digest") and call.params["blocks"] for call in posts)
    assert sorted(call.params["users"] for call in slack.calls_to("conversations.open")) == ["U0BOSS", "U0HL00007"]
    completed = slack.calls_to("files.completeUploadExternal")
    assert sorted(call.params["channel_id"] for call in completed) == ["C0DIGEST", "DU0BOSS", "DU0HL00007"]
    assert len(slack.uploads) == 3 and all(png_size(data) for data in slack.uploads.values())


def test_digest_dry_run_posts_nothing_and_writes_the_chart(demo_url: str, slack: FakeSlack, tmp_path: Path) -> None:
    env = {"HOTLEAD_DATABASE_URL": demo_url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": slack.url}
    chart = tmp_path / "chart.png"

    result = CliRunner().invoke(cli, ["digest", "--now", "--dry-run", "--chart", str(chart)], env=env)

    assert result.exit_code == 0, result.output
    assert "Hotlead weekly digest" in result.output and "Model health" in result.output
    assert slack.calls == [] and png_size(chart.read_bytes())


def test_digest_dry_run_json_lists_every_part(demo_url: str) -> None:
    result = CliRunner().invoke(cli, ["digest", "--dry-run", "--json"], env={"HOTLEAD_DATABASE_URL": demo_url})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"risers", "fallers", "new_hot", "quiet", "health", "text", "sent"} <= set(data)
    assert data["health"]["ratio_source"] == "training" and data["sent"] == []


def test_digest_now_without_a_slack_token_names_the_variable(demo_url: str) -> None:
    result = CliRunner().invoke(cli, ["digest", "--now"], env={"HOTLEAD_DATABASE_URL": demo_url, "SLACK_BOT_TOKEN": ""})
    assert result.exit_code != 0 and "SLACK_BOT_TOKEN is not set" in result.output


def test_names_that_look_like_math_are_drawn_as_text(demo_engine: Engine) -> None:
    now = datetime.now(UTC)
    for i, (lead, p, reasons) in enumerate(latest(demo_engine, "warm", 2)):
        with demo_engine.begin() as conn:
            conn.execute(text("UPDATE lead SET name = :n WHERE id = :i"),
                         {"n": [r"$\frac{$ Evil", "Acme $5 & $10 deal"][i], "i": lead})
        add_score(demo_engine, lead, now - timedelta(days=8), p - 0.1, "cold", reasons)
    digest = build_digest(demo_engine, now)
    assert {r"$\frac{$ Evil", "Acme $5 & $10 deal"} <= {line.name for line in digest.risers}
    assert png_size(digest.chart)


def test_the_months_first_digest_carries_the_experiment_and_the_others_do_not(demo_engine: Engine) -> None:
    first_monday, second_monday = datetime(2026, 12, 7, 8, tzinfo=UTC), datetime(2026, 12, 14, 8, tzinfo=UTC)
    monthly = build_digest(demo_engine, first_monday, holdout_share=0.2)
    assert monthly.experiment is not None and {a["arm"] for a in monthly.experiment["arms"]} == {"model", "control"}
    assert "Does scoring help? The controlled experiment" in monthly.text
    assert monthly.experiment["verdict"] in monthly.text and "Control arm:" in monthly.text
    assert monthly.as_dict()["experiment"]["p_value"] == monthly.experiment["p_value"]
    assert any("controlled experiment" in str(block) for block in monthly.blocks)
    assert build_digest(demo_engine, second_monday, holdout_share=0.2).experiment is None
    assert build_digest(demo_engine, first_monday).experiment is None  # no experiment running
