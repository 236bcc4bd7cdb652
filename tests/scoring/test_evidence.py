from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from scoring.evidence import evidence
from scoring.signals import analyze_pending
from storage.importers import import_table

MESSAGES = (
    "lead,channel,direction,speaker,text,occurred_at\n"
    "L1,call,inbound,Jane Doe,We need this live before end of quarter. The team is waiting.,2026-11-12T10:00:00Z\n"
    "L1,whatsapp,inbound,Jane Doe,Budget is approved at $40k.,2026-11-14T09:00:00Z\n"
    "L1,chat,outbound,Ann,We can do it ASAP!,2026-11-14T09:05:00Z\n"
    "L1,chat,inbound,Jane Doe,There is no budget for extras though.,2026-11-20T09:00:00Z\n"
    "L1,chat,inbound,Jane Doe,Honestly the price is way too high.,2026-11-30T09:00:00Z\n"
)
CUTOFF = 2461372.5  # 2026-11-28T00:00Z as a julian day


def seeded(engine: Engine, write: Callable[[str, str], Path]) -> int:
    import_table(engine, "leads", write("l.csv", "external_id,name,created_at\nL1,Jane Doe,2026-09-01\n"))
    import_table(engine, "messages", write("m.csv", MESSAGES))
    analyze_pending(engine, mode="rules")
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT id FROM lead").scalar_one())


def test_urgency_is_quoted_from_the_prospects_most_urgent_line(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    quotes = evidence(engine, seeded(engine, write), CUTOFF, [("urgency", 0.6)])
    assert quotes["urgency"] == "said 'We need this live before end of quarter.' on the call of 12 Nov"


def test_a_mention_is_quoted_from_the_latest_line_that_does_not_deny_it(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    quotes = evidence(engine, seeded(engine, write), CUTOFF, [("budget", 0.4)])
    assert quotes["budget"] == "said 'Budget is approved at $40k.' on the WhatsApp of 14 Nov"


def test_nothing_after_the_cutoff_is_quoted(engine: Engine, write: Callable[[str, str], Path]) -> None:
    quotes = evidence(engine, seeded(engine, write), CUTOFF, [("objections", -0.5)])
    assert "price is way too high" not in quotes.get("objections", "")


def test_groups_that_are_not_conversation_get_no_quote(engine: Engine, write: Callable[[str, str], Path]) -> None:
    assert evidence(engine, seeded(engine, write), CUTOFF, [("pricing visits", 0.8)]) == {}
