"""Hand-made CRM exports through `hotlead import crm`: roles, stages, values as people write them, time order."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from storage.db import json_loads
from storage.importers import cells
from tests.conftest import count, stored_rows

Run = Callable[..., Result]
Write = Callable[[str, str], Path]
HEADER = ["Record ID", "Lead Name", "Company", "Owner", "Stage", "Amount", "Win Probability", "Created Date"]
PEOPLE = ["Chloe Tan", "Ravi Shah", "Mia Koch", "Omar Haddad", "Lena Berg", "Tom Okafor", "Ines Costa", "Yuki Mori",
          "Sara Lind", "Pablo Ruiz"]
COMPANIES = ["Acme Ltd", "Globex GmbH", "Initech", "Umbrella plc", "Stark & Co"]
OWNERS = ["Hana Adams", "Ben Carter", "Ana Silva"]
STAGES = ["Proposal", "Closed Won", "Closed Lost", "Negotiation", "Prospecting", "closedwon", "Closed Lost",
          "Qualification", "Closed Won", "Closed Lost"]  # 10 rows of each cycle: 3 won, 3 lost, 4 open


def export_rows(n: int = 30) -> list[list[str]]:
    """`n` rows like `CRM-1286, Chloe Tan, Acme Ltd, Hana Adams, Proposal, "$12,000", 40%, 31/12/2025`."""
    rows = []
    for i in range(n):
        amount = f"${12_000 + 1_000 * i:,}"
        rows.append([f"CRM-{1286 + i}", PEOPLE[i % 10] if i < 10 else f"{PEOPLE[i % 10]} {i}", COMPANIES[i % 5],
                     OWNERS[i % 3], STAGES[i % 10], amount, f"{(i * 10) % 100}%", f"{31 - i % 28:02d}/12/2025"])
    return rows


def as_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


def query(engine: Engine, sql: str) -> list[Any]:
    return stored_rows(engine, sql)


def meta(engine: Engine, key: str = "decision_order") -> str | None:
    found = query(engine, f"SELECT value FROM meta WHERE key = '{key}'")
    return found[0][0] if found else None


def lead(engine: Engine, external_id: str) -> dict[str, Any]:
    (row,) = query(engine, "SELECT l.name, a.name, r.name, l.created_at, l.attributes, o.converted, o.amount "
                           "FROM lead l LEFT JOIN account a ON a.id = l.account_id "
                           "LEFT JOIN rep r ON r.id = l.owner_id LEFT JOIN outcome o ON o.lead_id = l.id "
                           f"WHERE l.external_id = '{external_id}'")
    keys = ("name", "account", "owner", "created_at", "attributes", "converted", "amount")
    return {**dict(zip(keys, row, strict=True)), "attributes": json_loads(row[4])}


def imported(run: Run, path: Path, *args: str) -> Result:
    result = run("import", "crm", str(path), *args)
    assert result.exit_code == 0, result.output
    return result


def test_a_hand_made_export_fills_the_lead_its_account_owner_and_outcome(
    run: Run, write: Write, engine: Engine
) -> None:
    path = write("export.csv", as_csv(HEADER, export_rows()))
    result = imported(run, path, "--label", "Stage")
    first = lead(engine, "CRM-1286")
    assert first["name"] == "Chloe Tan" and first["account"] == "Acme Ltd" and first["owner"] == "Hana Adams"
    assert first["created_at"].startswith("2025-12-31 00:00:00")
    assert first["converted"] is None  # Proposal: open, to be scored
    won = lead(engine, "CRM-1287")  # Closed Won, "$13,000", 10%
    assert (won["converted"], won["amount"]) == (1, 13000.0)
    assert won["attributes"] == {"Amount": 13000, "Win Probability": 0.1}
    assert lead(engine, "CRM-1288")["converted"] == 0 and lead(engine, "CRM-1291")["converted"] == 1  # closedwon
    assert lead(engine, "CRM-1290")["attributes"]["Win Probability"] == 0.4
    assert query(engine, "SELECT converted, count(*) FROM outcome GROUP BY converted") == [(0, 9), (1, 9)]
    assert count(engine, "lead") == 30 and count(engine, "account") == 5
    assert sorted(r[0] for r in query(engine, "SELECT name FROM rep")) == sorted(OWNERS)
    assert dict(query(engine, "SELECT name, kind FROM attribute")) == {"Amount": "number", "Win Probability": "number"}
    assert meta(engine) == "time"
    assert "column Win Probability is likely a leak" in result.output
    assert "open: Proposal (3), Negotiation (3), Prospecting (3), Qualification (3)" in result.output


def test_the_same_export_again_changes_nothing(run: Run, write: Write, engine: Engine) -> None:
    path = write("export.csv", as_csv(HEADER, export_rows()))
    imported(run, path, "--label", "Stage")
    again = imported(run, path, "--label", "Stage")
    assert "30 crm rows: 0 inserted, 0 updated, 30 unchanged" in again.output
    assert "outcomes: 0 inserted, 0 updated, 18 unchanged" in again.output
    assert count(engine, "rep") == 3 and count(engine, "account") == 5


def test_without_label_a_stage_column_is_the_label(run: Run, write: Write, engine: Engine) -> None:
    result = imported(run, write("export.csv", as_csv(HEADER, export_rows())))
    assert "label: column Stage (no --label given)" in result.output
    assert count(engine, "outcome") == 18


def test_an_unknown_stage_is_one_line_naming_it_and_its_rows_and_nothing_is_written(
    run: Run, write: Write, engine: Engine
) -> None:
    rows = export_rows()
    rows[2][4] = rows[6][4] = "Verbal Yes"
    path = write("export.csv", as_csv(HEADER, rows))
    result = run("import", "crm", str(path), "--label", "Stage")
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if "Verbal Yes" in line]
    assert lines == [f"{path}:3: column Stage: unknown stage 'Verbal Yes' on rows 3, 7: say what it is with "
                     "--positive, --lost or --open 'Verbal Yes'"]
    assert count(engine, "lead") == count(engine, "rep") == count(engine, "account") == count(engine, "attribute") == 0
    assert meta(engine) is None
    assert run("import", "crm", str(path), "--label", "Stage", "--open", "verbal yes").exit_code == 0
    assert lead(engine, "CRM-1288")["converted"] is None


def test_positive_names_the_only_won_value_and_lost_and_open_add_stages(run: Run, write: Write, engine: Engine) -> None:
    text = "id,stage\n1,Signed\n2,Closed Lost\n3,Dead\n4,Warm\n5,Closed Won\n"
    path = write("s.csv", text)
    refused = run("import", "crm", str(path), "--label", "stage", "--positive", "signed", "--lost", "dead")
    assert refused.exit_code == 1 and "unknown stage 'Warm' on rows 4" in refused.output
    assert "'Closed Won' (a won word, but --positive names the won value) on rows 5" in refused.output
    imported(run, path, "--label", "stage", "--positive", "signed", "--positive", "Closed Won", "--lost", "dead",
             "--open", "warm")
    outcomes = dict(query(engine, "SELECT l.external_id, o.converted FROM lead l JOIN outcome o ON o.lead_id = l.id"))
    assert outcomes == {"1": 1, "2": 0, "3": 0, "5": 1}


def test_a_lead_open_again_loses_the_outcome_an_earlier_import_gave_it(run: Run, write: Write, engine: Engine) -> None:
    imported(run, write("s.csv", "id,stage\n1,Closed Lost\n2,Closed Won\n"), "--label", "stage")
    result = imported(run, write("s.csv", "id,stage\n1,Negotiation\n2,Closed Won\n"), "--label", "stage")
    assert "1 removed (open again)" in result.output
    assert query(engine, "SELECT lead_id FROM outcome") == [(2,)]


def test_ordered_says_so_and_leads_keep_the_file_order_on_reimport(run: Run, write: Write, engine: Engine) -> None:
    header = ["Deal ID", "Stage", "Employees"]
    rows = [[f"Z{9 - i}", "won" if i % 2 else "lost", str(i)] for i in range(6)]
    imported(run, write("o.csv", as_csv(header, rows)), "--ordered")
    assert meta(engine) == "ordered"
    more = [*rows[:3], ["A0", "open", "9"], *rows[3:], ["B1", "won", "7"]]
    imported(run, write("o.csv", as_csv(header, more)), "--ordered")
    ids = [r[0] for r in query(engine, "SELECT external_id FROM lead ORDER BY id")]
    assert ids == ["Z9", "Z8", "Z7", "Z6", "Z5", "Z4", "A0", "B1"]


def test_ordered_with_a_created_date_keeps_the_file_order_where_some_dates_are_missing(
    run: Run, write: Write, engine: Engine
) -> None:
    text = "Lead ID,Status,Created\nc,won,2025-01-03\nb,lost,\na,won,2025-01-01\nd,lost,\n"
    imported(run, write("o.csv", text), "--ordered")
    assert [r[0] for r in query(engine, "SELECT external_id FROM lead ORDER BY id")] == ["c", "b", "a", "d"]
    assert meta(engine) == "ordered"


def test_no_date_column_and_no_flag_is_random_order(run: Run, write: Write, engine: Engine) -> None:
    result = imported(run, write("r.csv", "id,won,size\n1,yes,3\n2,no,4\n"), "--label", "won")
    assert meta(engine) == "random" and "decision order: unknown" in result.output


def test_time_names_the_decision_time(run: Run, write: Write, engine: Engine) -> None:
    imported(run, write("t.csv", "id,won,signed up\n1,yes,2025-03-01\n2,no,2025-03-02\n"), "--label", "won",
             "--time", "signed up")
    assert meta(engine) == "time"
    assert query(engine, "SELECT closed_at FROM outcome ORDER BY lead_id")[0][0].startswith("2025-03-01")


def test_a_close_date_fills_closed_at_and_the_created_date_created_at(run: Run, write: Write, engine: Engine) -> None:
    text = "Id,Stage,Create Date,Close Date\n1,won,12/01/2025,12/20/2025\n2,open,12/02/2025,\n3,lost,11/03/2025,-\n"
    imported(run, write("c.csv", text))
    rows = query(engine, "SELECT l.external_id, l.created_at, o.closed_at FROM lead l "
                         "LEFT JOIN outcome o ON o.lead_id = l.id ORDER BY l.id")
    assert [(r[0], r[1][:10], r[2] and r[2][:10]) for r in rows] == [
        ("1", "2025-12-01", "2025-12-20"), ("2", "2025-12-02", None), ("3", "2025-11-03", "2025-11-03")]
    assert meta(engine) == "time"


def test_ambiguous_day_month_dates_are_refused_until_a_date_format_says(run: Run, write: Write, engine: Engine) -> None:
    path = write("d.csv", "id,won,Last Contact\n1,yes,03/04/2025\n2,no,05/06/2025\n")
    refused = run("import", "crm", str(path), "--label", "won")
    assert refused.exit_code == 1
    assert (f"{path}:header: column Last Contact: dates such as '03/04/2025' read day-first and month-first alike; "
            "say which with --date-format %d/%m/%Y or --date-format %m/%d/%Y") in refused.output
    assert count(engine, "lead") == 0
    imported(run, path, "--label", "won", "--date-format", "%d/%m/%Y")
    assert lead(engine, "1")["attributes"] == {"Last Contact": "2025-04-03T00:00:00"}


@pytest.mark.parametrize(("dates", "first"), [(["31/12/2025", "01/02/2025"], "2025-12-31"),
                                              (["12/31/2025", "01/02/2025"], "2025-12-31"),
                                              (["31.12.2025", "1.2.2025"], "2025-12-31")])
def test_day_first_or_month_first_is_found_per_column(
    run: Run, write: Write, engine: Engine, dates: list[str], first: str
) -> None:
    imported(run, write("d.csv", f"id,won,Seen\n1,yes,{dates[0]}\n2,no,{dates[1]}\n"), "--label", "won")
    assert lead(engine, "1")["attributes"]["Seen"].startswith(first)


def test_values_as_people_write_them(run: Run, write: Write, engine: Engine) -> None:
    text = ("id,won,Budget,Share,Newsletter,Industry,Region\n"
            '1,yes,"€1.234,50",12.5%,Ja,-- select --,EMEA\n'
            "2,no,12 000 USD,40 %,nein,Select,emea\n"
            "3,no,$950,-,n,N/A,Mid-Market\n"
            "4,yes,,5%,oui,-,mid-market\n"
            "5,no,-,1%,y,none,Emea\n")
    imported(run, write("v.csv", text), "--label", "won")
    kinds = dict(query(engine, "SELECT name, kind FROM attribute"))
    assert kinds == {"Budget": "number", "Share": "number", "Newsletter": "boolean", "Industry": "category",
                     "Region": "category"}
    assert lead(engine, "1")["attributes"] == {"Budget": 1234.5, "Share": 0.125, "Newsletter": 1, "Region": "EMEA"}
    assert lead(engine, "2")["attributes"] == {"Budget": 12000, "Share": 0.4, "Newsletter": 0, "Region": "EMEA"}
    assert lead(engine, "3")["attributes"] == {"Budget": 950, "Newsletter": 0, "Region": "Mid-Market"}
    assert lead(engine, "4")["attributes"]["Region"] == "Mid-Market"


def test_first_and_last_name_make_the_name_and_an_owner_is_found_by_email(
    run: Run, write: Write, engine: Engine
) -> None:
    result = run("import", "reps", str(write("reps.csv", "name,email\nAnn Lee,ann@example.com\n")))
    assert result.exit_code == 0, result.output
    text = "Id,First Name,Last Name,Email,Deal Owner,Deal Stage\n7,Ada,Byron,ada@x.org,ANN@example.com,closedwon\n"
    imported(run, write("e.csv", text))
    found = lead(engine, "7")
    assert (found["name"], found["owner"]) == ("Ada Byron", "Ann Lee") and count(engine, "rep") == 1
    assert query(engine, "SELECT email FROM lead") == [("ada@x.org",)]


def test_an_amount_column_reads_thousands_without_a_currency(run: Run, write: Write, engine: Engine) -> None:
    imported(run, write("a.csv", 'id,won,Deal Value\n1,yes,"12,000"\n2,no,1.500\n3,no,\n'), "--label", "won")
    assert lead(engine, "1")["attributes"] == {"Deal Value": 12000} and lead(engine, "1")["amount"] == 12000.0
    assert lead(engine, "2")["amount"] == 1500.0 and lead(engine, "3")["amount"] is None
    refused = run("import", "crm", str(write("n.csv", "id,won,Amount\n1,yes,-$5\n")), "--label", "won")
    assert refused.exit_code == 1 and ":1: column Amount: is negative: '-$5'" in refused.output


def test_explicit_role_options_name_any_column(run: Run, write: Write, engine: Engine) -> None:
    text = "key,who,org,seller,result,size,decided\nk1,Ada,Initech,Bo,won,1.500,2025-02-01\n"
    imported(run, write("x.csv", text), "--label", "result", "--id", "key", "--name", "who", "--account", "org",
             "--owner", "seller", "--amount", "size", "--closed-at", "decided")
    found = lead(engine, "k1")
    assert (found["name"], found["account"], found["owner"], found["amount"]) == ("Ada", "Initech", "Bo", 1500.0)
    assert query(engine, "SELECT closed_at FROM outcome")[0][0].startswith("2025-02-01")
    assert meta(engine) == "time"


def test_a_header_like_a_role_whose_values_do_not_fit_stays_an_attribute(
    run: Run, write: Write, engine: Engine
) -> None:
    rows = "".join(f"{i},{'yes' if i % 3 else 'no'},{'cellular' if i % 2 else 'telephone'}\n" for i in range(40))
    result = imported(run, write("bank.csv", "n,y,contact\n" + rows), "--label", "y")
    assert dict(query(engine, "SELECT name, kind FROM attribute")) == {"n": "number", "contact": "category"}
    assert "column contact is not used as the lead's name (only 2 different values in 40 rows)" in result.output


def test_a_name_column_whose_names_repeat_is_still_the_name(run: Run, write: Write, engine: Engine) -> None:
    people = [f"{first} {last}" for first in ("Chloe", "Hana", "Liam", "Noah") for last in ("Tan", "Adams", "Kim")]
    rows = "".join(f"R{i},{people[i % len(people)]},{'Closed Won' if i % 3 else 'Closed Lost'}\n" for i in range(200))
    result = imported(run, write("names.csv", "Record ID,Lead Name,Stage\n" + rows))
    assert "Lead Name → the lead's name" in result.output
    assert query(engine, "SELECT name FROM lead WHERE external_id = 'R13'") == [("Chloe Adams",)]
    assert dict(query(engine, "SELECT name, kind FROM attribute")) == {}


def test_a_stage_column_beside_the_label_is_a_likely_leak(run: Run, write: Write, engine: Engine) -> None:
    result = imported(run, write("l.csv", "id,won,Stage,Lost Reason\n1,yes,Closed Won,\n2,no,Closed Lost,price\n"),
                      "--label", "won")
    assert "column Stage is likely a leak" in result.output and "column Lost Reason is likely a leak" in result.output
    assert set(dict(query(engine, "SELECT name, kind FROM attribute"))) == {"Stage", "Lost Reason"}


def test_no_label_and_no_stage_column_is_a_usage_error(run: Run, write: Write) -> None:
    result = run("import", "crm", str(write("x.csv", "a,b\n1,2\n")))
    assert result.exit_code == 2 and "--label" in result.output and "no Stage or Status column" in result.output


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=30))
def test_export_cell_parsers_return_a_storable_value_or_say_why_not(text: str) -> None:
    for money in (False, True):
        try:
            value = cells.quantity(text, money=money)
        except cells.CellError:
            continue
        assert math.isfinite(value)
    for reading in (None, cells.DAY_FIRST, cells.MONTH_FIRST, "%Y%m%d"):
        try:
            moment = cells.date_as_written(text, reading)
        except cells.CellError:
            continue
        assert moment.tzinfo is None and len(cells.sql_datetime(moment)) == 26
    assert isinstance(cells.is_placeholder(text), bool)


@settings(max_examples=200, deadline=None)
@given(cents=st.integers(min_value=0, max_value=10**11), symbol=st.sampled_from(["$", "€", "£", "USD ", " EUR"]))
def test_an_amount_with_a_currency_reads_as_the_number(cents: int, symbol: str) -> None:
    english = f"{cents / 100:,.2f}"
    german = english.replace(",", " ").replace(".", ",").replace(" ", ".")
    for written in (english, german):
        cell = f"{symbol}{written}" if not symbol.startswith(" ") else f"{written}{symbol}"
        assert cells.quantity(cell) == pytest.approx(cents / 100)
