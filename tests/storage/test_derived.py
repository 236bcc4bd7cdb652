"""The numbers kept next to activities and messages: the same whoever writes the row, and read from an index."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from storage import queries
from storage.db import json_dumps
from storage.derived import activity_code, julian_day, julian_sql, page_type_from_url
from storage.importers import import_table

LEADS = "external_id,name,created_at\nL1,Ann,2026-01-01\n"
ACTIVITIES = ("lead,kind,occurred_at,page_type\nL1,page_view,2026-03-02T10:15:30Z,pricing\n"
              "L1,email_reply,2026-03-03T08:00:00Z,\nL1,webinar,2026-03-04,\n")
MESSAGES = ("lead,channel,direction,text,occurred_at\nL1,chat,inbound,Can we start next week?,2026-03-05T09:00:00Z\n"
            "L1,chat,outbound,Sure.,2026-03-05T09:01:00Z\n")


def julianday_of(conn: Connection, stamp: str) -> float:
    """The database's own julian day of a stamp: SQLite's julianday(), or our PostgreSQL expression for it."""
    sql = "SELECT julianday(:t)" if conn.dialect.name == "sqlite" else f"SELECT {julian_sql('CAST(:t AS timestamp)')}"
    return float(conn.execute(text(sql), {"t": stamp}).scalar_one())


def test_julian_day_is_sqlites_julianday(engine: Engine) -> None:
    rng = random.Random(7)
    moments = [datetime(1999, 1, 1) + timedelta(seconds=rng.randint(0, 10**9), microseconds=rng.randint(0, 999_999))
               for _ in range(2000)]
    texts = [m.strftime("%Y-%m-%d %H:%M:%S.%f") for m in moments] + ["2026-03-04 00:00:00", "2024-02-29 23:59:59.9995"]
    with engine.connect() as conn:
        for stamp in texts:
            assert julian_day(stamp) == julianday_of(conn, stamp), stamp


@pytest.mark.parametrize(("kind", "page", "code"), [
    ("page_view", "", 0), ("page_view", "pricing", 1), ("page_view", "careers", 7), ("page_view", "faq", 8),
    ("email_sent", "", 16), ("call", "", 12 * 16), ("webinar_signup", "", 13 * 16),
])
def test_activity_codes_pack_the_kind_and_the_page(kind: str, page: str, code: int) -> None:
    assert activity_code(kind, page) == code


def numbers(engine: Engine, table: str, columns: str) -> list[tuple]:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT {columns} FROM {table} ORDER BY occurred_at").all()


def test_rows_written_without_the_numbers_get_the_ones_the_importer_writes(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    import_table(engine, "leads", write("leads.csv", LEADS))
    import_table(engine, "activities", write("activities.csv", ACTIVITIES))
    import_table(engine, "messages", write("messages.csv", MESSAGES))
    imported = (numbers(engine, "activity", "day, code"), numbers(engine, "message", "day, inbound, question"))
    with engine.begin() as conn:  # a writer that knows nothing of the numbers
        conn.exec_driver_sql("UPDATE activity SET day = NULL, code = NULL")
        other = "detail || ' '" if conn.dialect.name == "sqlite" else """detail || '{"copy": 1}'::jsonb"""
        conn.exec_driver_sql("INSERT INTO activity (lead_id, kind, occurred_at, page_type, detail) "
                             f"SELECT lead_id, kind, occurred_at, page_type, {other} FROM activity")
        conn.exec_driver_sql("DELETE FROM activity WHERE day IS NULL")
        conn.exec_driver_sql("INSERT INTO message (lead_id, channel, direction, text, occurred_at, source_ref) "
                             "SELECT lead_id, channel, direction, text, occurred_at, source_ref || '+' FROM message")
        conn.execute(text("DELETE FROM message WHERE source_ref NOT LIKE '%+'"))
    assert numbers(engine, "activity", "day, code") == imported[0]
    assert numbers(engine, "message", "day, inbound, question") == imported[1]
    assert [row[1] for row in imported[0]] == [1, 4 * 16, 9 * 16]
    assert [row[1:] for row in imported[1]] == [(1, 1), (0, 0)]


def test_changing_what_the_numbers_come_from_changes_them(engine: Engine, write: Callable[[str, str], Path]) -> None:
    import_table(engine, "leads", write("leads.csv", LEADS))
    import_table(engine, "messages", write("messages.csv", MESSAGES))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE message SET direction = 'inbound', text = 'ok?', occurred_at = '2026-03-06 "
                             "00:00:00.000000' WHERE direction = 'outbound'")
    assert numbers(engine, "message", "day, inbound, question")[-1] == (julian_day("2026-03-06 00:00:00.000000"), 1, 1)


@pytest.mark.sqlite_only  # SQLite's query plans; PostgreSQL chooses per table statistics
@pytest.mark.parametrize("query", [queries.activity_records, queries.message_rows])
def test_feature_queries_read_only_an_index(engine: Engine, query: Callable[..., list]) -> None:
    plans: list[str] = []
    with engine.connect() as conn:
        queries.scope_leads(conn=conn, lead_ids=[1, 2])
        original = queries._fetch

        def explained(conn_: object, sql: str, params: tuple = ()) -> list:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            plans.extend(str(row[-1]) for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, params))
            return original(conn, sql, params)

        queries._fetch = explained  # type: ignore[assignment]
        try:
            query(conn=conn)
        finally:
            queries._fetch = original  # type: ignore[assignment]
    scans = [plan for plan in plans if plan.startswith(("SEARCH m ", "SEARCH activity", "SEARCH m USING"))]
    assert scans and all("COVERING INDEX" in plan for plan in scans), plans


def test_activity_records_carry_big_ids_and_sqlites_julian_days_exactly(engine: Engine) -> None:
    big = 5_000_000_000 if engine.dialect.name == "sqlite" else 2_000_000_000  # PostgreSQL's ids are 32-bit
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO lead (id, external_id, name, created_at, status, attributes) "
                          "VALUES (:id, 'B', 'Bo', '2026-01-01 00:00:00.000000', 'open', '{}')"), {"id": big})
        conn.execute(text("INSERT INTO activity (lead_id, kind, occurred_at, page_type, detail) "
                          "VALUES (:id, 'meeting', '2026-03-04 05:06:07.891234', '', '{}')"), {"id": big})
    with engine.connect() as conn:
        queries.scope_leads(conn=conn, lead_ids=[big])
        records = queries.activity_records(conn=conn)
        expected = julianday_of(conn, "2026-03-04 05:06:07.891234")
    assert records["lead_id"].tolist() == [big] and records["code"].tolist() == [11 * 16]
    assert (records["ms"] / 86400000.0).tolist() == [expected]


@pytest.mark.parametrize(("url", "page"), [
    ("https://acme.example/pricing", "pricing"), ("/pricing?plan=team", "pricing"), ("/plans", "pricing"),
    ("/docs/api/auth", "docs"), ("https://acme.example/", "home"), ("/", "home"),
    ("/case-studies/globex", "case_study"),
    ("/blog/2026/launch", "blog"), ("/careers", "careers"), ("/book-a-demo", "demo"), ("/about", ""), ("", ""),
])
def test_a_page_view_without_a_page_type_takes_the_one_its_url_names(url: str, page: str) -> None:
    assert page_type_from_url(url) == page


def test_a_url_only_page_view_counts_as_its_page_but_keeps_its_page_type_as_given(
    engine: Engine, write: Callable[[str, str], Path],
) -> None:
    import_table(engine, "leads", write("leads.csv", LEADS))
    file = write("a.csv", "lead,kind,occurred_at,url\nL1,page_view,2026-03-02T10:15:30Z,https://acme.example/pricing\n")
    import_table(engine, "activities", file)
    with engine.connect() as conn:
        page_type, code = conn.exec_driver_sql("SELECT page_type, code FROM activity").one()
    assert (page_type, code) == ("", activity_code("page_view", "pricing"))
    assert import_table(engine, "activities", file).counts.inserted == 0  # the same file again: nothing new


def test_message_entities_returns_exactly_the_inbound_messages_whose_signal_found_a_span(engine: Engine) -> None:
    """The same messages on both engines: braces inside a span's text or label count once, empty lists are no
    span, outbound lines are not the prospect's."""
    spans = {
        "none": {"budget": [], "timeline": [], "question": False, "engine": "rules"},
        "one span": {"budget": [{"text": "$40k", "label": "amount", "start": 0, "end": 4}], "timeline": []},
        "braces in its text": {"timeline": [{"text": "{by} Q3 }{", "label": "{", "start": 1, "end": 9}]},
        "outbound span": {"next_steps": [{"text": "loop in", "label": "loop_in", "start": 0, "end": 7}]},
    }
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO lead (id, external_id, name, created_at, status, attributes) "
                             "VALUES (1, 'L1', 'Li', '2026-01-01 00:00:00.000000', 'open', '{}')")
        for number, (name, entities) in enumerate(spans.items(), start=1):
            conn.execute(text("INSERT INTO message (id, lead_id, channel, direction, text, occurred_at, source_ref) "
                              "VALUES (:id, 1, 'chat', :direction, :text, :at, :ref)"),
                         {"id": number, "text": name, "ref": f"m{number}", "at": f"2026-03-0{number} 10:00:00",
                          "direction": "outbound" if name.startswith("outbound") else "inbound"})
            conn.execute(text("INSERT INTO signal (message_id, nlp_version, sentiment, sentiment_label, urgency, "
                              "entities, analyzed_at) VALUES (:id, 'v', 0, 'neutral', 0, :entities, "
                              "'2026-03-09 00:00:00')"), {"id": number, "entities": json_dumps(entities)})
    with engine.connect() as conn:
        queries.scope_leads(conn=conn, lead_ids=[1])
        found = queries.message_entities(conn=conn)
    days = sorted(day for _lead, day, _entities in found)
    assert [lead for lead, _day, _entities in found] == [1, 1]
    assert days == [julian_day("2026-03-02 10:00:00"), julian_day("2026-03-03 10:00:00")]
