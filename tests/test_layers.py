"""Every SQL statement lives in storage/ (issue 15): bot/, scoring/ and nlp/ call storage's query functions and
hold no SQL text."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQL = re.compile(r"\b(?:SELECT\s+\S|INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|TRIGGER)|ALTER\s+TABLE|DROP\s+(?:TABLE|INDEX|TRIGGER)|"
                 r"PRAGMA\s+\w)")
def sql_outside_storage() -> set[str]:
    """Files of bot/, scoring/ and nlp/ with an SQL statement in a string."""
    found = set()
    for package in ("bot", "scoring", "nlp"):
        for path in (ROOT / package).rglob("*.py"):
            tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
            if any(token.type == tokenize.STRING and SQL.search(token.string) for token in tokens):
                found.add(path.relative_to(ROOT).as_posix())
    return found


# SOQL, Salesforce's own query language, sent to Salesforce (or read by its local fake): not this database's SQL
SOQL = {"bot/crm/salesforce.py", "bot/fakes/salesforce.py", "bot/fakes/soql.py"}


def test_no_sql_outside_storage() -> None:
    found = sql_outside_storage() - SOQL
    assert not found, f"SQL belongs in storage/ (a query function there): {sorted(found)}"
    for path in SOQL:  # and they never reach this database
        assert "sqlalchemy" not in (ROOT / path).read_text(encoding="utf-8"), path


def test_the_detector_sees_sql_in_plain_and_f_strings() -> None:
    assert SQL.search("SELECT id FROM lead") and SQL.search("INSERT OR IGNORE INTO x")
    assert SQL.search('f"UPDATE alert SET status = {x}"') and not SQL.search("select a lead to call")
