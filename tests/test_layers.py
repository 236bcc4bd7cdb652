"""Every SQL statement lives in storage/ (issue 15): the files outside it that still hold SQL are listed here, and
the list may only shrink. A new file with SQL outside storage/ fails; so does a listed file that no longer holds
any (take it off the list)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQL = re.compile(r"\b(?:SELECT\s+\S|INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|TRIGGER)|ALTER\s+TABLE|DROP\s+(?:TABLE|INDEX|TRIGGER)|"
                 r"PRAGMA\s+\w)")
STILL_TO_MOVE = {  # shrinking: issue 15 moves these statements into storage/ query functions
    "bot/app.py", "bot/bench/busy.py", "bot/bench/chat.py", "bot/bench/push.py", "bot/bench/speed.py",
    "bot/channels/whatsapp.py", "bot/cli/push.py", "bot/push/digest.py", "bot/push/health.py", "bot/push/hot.py",
    "bot/push/live.py", "bot/push/senders.py", "scoring/incremental.py", "scoring/rescore.py",
}


def sql_outside_storage() -> set[str]:
    """Files of bot/, scoring/ and nlp/ with an SQL statement in a string."""
    found = set()
    for package in ("bot", "scoring", "nlp"):
        for path in (ROOT / package).rglob("*.py"):
            tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
            if any(token.type == tokenize.STRING and SQL.search(token.string) for token in tokens):
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_no_new_sql_outside_storage_and_the_list_of_files_still_holding_some_only_shrinks() -> None:
    found = sql_outside_storage()
    assert not found - STILL_TO_MOVE, f"SQL belongs in storage/: {sorted(found - STILL_TO_MOVE)}"
    assert not STILL_TO_MOVE - found, f"no SQL left: take {sorted(STILL_TO_MOVE - found)} off STILL_TO_MOVE"


def test_the_detector_sees_sql_in_plain_and_f_strings() -> None:
    assert SQL.search("SELECT id FROM lead") and SQL.search("INSERT OR IGNORE INTO x")
    assert SQL.search('f"UPDATE alert SET status = {x}"') and not SQL.search("select a lead to call")
