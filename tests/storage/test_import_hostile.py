"""Malformed and hostile import files, through the real CLI on a real SQLite file: each is refused with one
`FILE:ROW: column …` line (or `FILE: …` for the file as a whole), exit code 1, no traceback, nothing written."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import create_engine

from tests.conftest import stored_rows

TABLES = ("account", "rep", "lead", "activity", "message", "outcome", "attribute")
LEADS = "external_id,name,created_at,account\nL1,Dana Kim,2026-09-01,Acme\nL2,Sam Lee,2026-09-02,Globex\n"
Run = Callable[..., Result]


def counts(db_url: str) -> dict[str, int]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        found = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one() for t in TABLES}
    engine.dispose()
    return found


def rows(db_url: str, sql: str) -> list[tuple]:
    engine = create_engine(db_url)
    found = stored_rows(engine, sql)
    engine.dispose()
    return found


@pytest.fixture
def seeded(run: Run, tmp_path: Path) -> Path:
    """A database holding two leads (and their accounts) and one page view; returns the folder to write in."""
    (tmp_path / "seed-leads.csv").write_text(LEADS)
    (tmp_path / "seed-events.csv").write_text("lead,kind,occurred_at\nL1,page_view,2026-10-01T09:00:00Z\n")
    assert run("import", "leads", str(tmp_path / "seed-leads.csv")).exit_code == 0
    assert run("import", "activities", str(tmp_path / "seed-events.csv")).exit_code == 0
    return tmp_path


def refused(run: Run, db_url: str, kind: str, path: Path, *args: str) -> str:
    """Import `path`, expect a clean refusal, and return its one error line."""
    before = counts(db_url)
    result = run("import", kind, str(path), *args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines()
             if line != f"{path}: nothing was imported from this file"]
    assert len(lines) == 1, result.output
    assert re.match(rf"^{re.escape(str(path))}(:(\d+|header): column \S+)?: \S", lines[0]), lines[0]
    assert counts(db_url) == before
    return lines[0]


def bad(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


ACTIVITIES = "lead,kind,occurred_at,page_type,url\n"
TEN_EVENTS = ACTIVITIES + "".join(f"L1,page_view,2026-10-{n:02d}T09:00:00Z,pricing,/p{n}\n" for n in range(1, 11))

CASES = {
    # finding 2: an unclosed quote in the last column swallowed the rest of the file
    "unclosed-quote": ("activities", "events.csv", TEN_EVENTS.replace(",/p4\n", ',"/p4\n'),
                       ':4: column url: a quoted cell opened here is never closed'),
    "quote-not-closed-before-text": ("activities", "events.csv", TEN_EVENTS.replace(",/p4\n", ',"/p4\n', 1)
                                     .replace(",/p6\n", ',"/p6",x\n'), ":4: column -: text follows the closing"),
    # finding 3: locale numbers that cannot be read one way only
    "ambiguous-amount": ("outcomes", "outcomes.csv", "lead,converted,amount\nL1,yes,\"1,234\"\n",
                         ":1: column amount: ambiguous number '1,234'"),
    "mixed-separators": ("outcomes", "outcomes.csv", "lead,converted,amount\nL1,yes,1.234.5\n",
                         ":1: column amount: not a number: '1.234.5'"),
    "ambiguous-head-count": ("accounts", "accounts.csv", "name,employees\nAcme,1.200\n",
                             ":1: column employees: ambiguous whole number '1.200'"),
    # finding 4: values no column can hold
    "inf": ("outcomes", "outcomes.csv", "lead,converted,amount\nL1,yes,inf\n",
            ":1: column amount: not a finite number: 'inf'"),
    "nan": ("outcomes", "outcomes.csv", "lead,converted,amount\nL1,yes,\nL2,no,NaN\n",
            ":2: column amount: not a finite number: 'NaN'"),
    "negative-amount": ("outcomes", "outcomes.csv", "lead,converted,amount\nL1,yes,-500\n",
                        ":1: column amount: is negative: '-500'"),
    "negative-head-count": ("accounts", "accounts.csv", "name,employees\nAcme,-3\n",
                            ":1: column employees: is negative: '-3'"),
    "nul-byte": ("leads", "leads.csv", b"external_id,name,created_at\nL3,Ann\x00Lee,2026-09-01\n",
                 ":1: column name: a NUL byte (0x00) at byte offset 34"),
    "duplicate-header": ("leads", "leads.csv", "external_id,name,created_at,name\nL3,Ann,2026-09-01,Bea\n",
                         ":header: column name: is in the header twice (columns 2 and 4)"),
    # finding 5: what used to end in a traceback
    "latin-1": ("leads", "leads.csv", "external_id,name,created_at\nL3,José,2026-09-01\n".encode("latin-1"),
                ":1: column name: byte 0xE9 at byte offset 34 is not UTF-8"),
    "utf-16-without-bom": ("leads", "leads.csv", "external_id,name,created_at\nL3,Ann,2026-09-01\n"
                           .encode("utf-16-le"), ": looks like UTF-16 text without a byte-order mark"),
    "binary": ("leads", "leads.csv", bytes(range(256)) * 8, ": is not a text file"),
    "huge-cell": ("leads", "leads.csv", "external_id,name,created_at\nL3," + "x" * 140_000 + ",2026-09-01\n",
                  ":1: column -: a cell is longer than 131,072 characters"),
    "integer-over-64-bits": ("accounts", "accounts.csv", f"name,employees\nAcme,{2**63}\n",
                             ":1: column employees: too large"),
    "year-10000": ("leads", "leads.csv", "external_id,name,created_at\nL3,Ann,10000-01-01\n",
                   ":1: column created_at: not a date: '10000-01-01'"),
    "after-9999-in-utc": ("leads", "leads.csv", "external_id,name,created_at\nL3,Ann,9999-12-31T23:59:59-05:00\n",
                          ":1: column created_at: out of range"),
    "before-year-1-in-utc": ("activities", "events.csv", ACTIVITIES + "L1,page_view,0001-01-01T00:00:00+01:00,,\n",
                             ":1: column occurred_at: out of range"),
    "empty": ("leads", "leads.csv", "", ": the file is empty"),
    "only-blank-lines": ("leads", "leads.csv", "\n\n  \n", ": the file is empty"),
    "bad-delimiter": ("leads", "leads.csv", LEADS, ": --delimiter must be one character"),
    # finding 6: JSON Lines the HTTP intake would refuse, or that crashed the importer
    "jsonl-not-an-object": ("activities", "events.jsonl",
                            '{"lead": "L1", "kind": "page_view", "occurred_at": "2026-10-02"}\n[1, 2]\n',
                            ":2: column -: each line must be a JSON object, not list"),
    "jsonl-list-for-a-string": ("activities", "events.jsonl",
                                '{"lead": ["L1"], "kind": "page_view", "occurred_at": "2026-10-02"}\n',
                                ":1: column lead: expected one value, not a JSON list"),
    "jsonl-object-for-a-kind": ("activities", "events.jsonl",
                                '{"lead": "L1", "kind": {"a": 1}, "occurred_at": "2026-10-02"}\n',
                                ":1: column kind: expected one value, not a JSON object"),
    "jsonl-deep-nesting": ("activities", "events.jsonl",
                           '{"lead": "L1", "kind": "page_view", "occurred_at": "2026-10-02", "detail": '
                           + "[" * 5000 + "]" * 5000 + "}\n", ":1: column -: JSON nested too deeply"),
    "jsonl-moderate-nesting": ("activities", "events.jsonl",
                               '{"lead": "L1", "kind": "page_view", "occurred_at": "2026-10-02", "detail": '
                               + '{"a": ' * 50 + "1" + "}" * 50 + "}\n", ":1: column -: JSON nested too deeply"),
    "jsonl-5000-digits": ("outcomes", "outcomes.jsonl", '{"lead": "L1", "converted": true, "amount": '
                          + "9" * 5000 + "}\n", ":1: column -: not a usable JSON number"),
    "jsonl-big-integer": ("accounts", "accounts.jsonl", '{"name": "Acme", "employees": ' + "9" * 40 + "}\n",
                          ":1: column employees: too large"),
    "jsonl-infinity": ("outcomes", "outcomes.jsonl", '{"lead": "L1", "converted": true, "amount": Infinity}\n',
                       ":1: column -: not a usable JSON number"),
    "jsonl-1e999": ("outcomes", "outcomes.jsonl", '{"lead": "L1", "converted": true, "amount": 1e999}\n',
                    ":1: column -: not a usable JSON number"),
    "jsonl-nul-escape": ("leads", "leads.jsonl", '{"external_id": "L3", "name": "A\\u0000", "created_at": "2026"}\n',
                         ":1: column -: holds a NUL character"),
    "jsonl-empty": ("leads", "leads.jsonl", "\n", ": the file is empty"),
    "crm-inf-is-not-a-number": ("crm", "export.csv", "id,won,score\na,yes,1\nb,no,inf\nc,no,\n", ""),
}


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_file_is_refused_with_one_line_and_nothing_written(
    case: str, run: Run, seeded: Path, db_url: str
) -> None:
    kind, name, content, expected = CASES[case]
    path = bad(seeded, name, content)
    args = ["--delimiter", ";;"] if case == "bad-delimiter" else []
    if kind == "crm":  # a column with inf is not numeric: it is kept as a category, and the import succeeds
        result = run("import", "crm", str(path), "--label", "won", "--id", "id")
        assert result.exit_code == 0, result.output
        assert "score (category)" in result.output
        return
    line = refused(run, db_url, kind, path, *args)
    assert line.startswith(f"{path}{expected}"), line


def test_a_folder_where_a_file_belongs_is_refused(run: Run, seeded: Path, db_url: str) -> None:
    folder = seeded / "exports"
    folder.mkdir()
    line = refused(run, db_url, "leads", folder)
    assert line == f"{folder}: is a folder, not a file (only `import transcripts` reads folders)"


def test_a_missing_file_is_one_line_with_the_usage_exit_code(run: Run, seeded: Path, db_url: str) -> None:
    before = counts(db_url)
    result = run("import", "leads", str(seeded / "missing.csv"))
    assert result.exit_code == 2  # a usage error, as tests/bot/test_cli.py expects
    assert result.output.strip() == f"Error: {seeded / 'missing.csv'}: does not exist (no such file or folder)"
    assert counts(db_url) == before


def test_a_header_only_file_is_a_valid_import_of_nothing(run: Run, seeded: Path, db_url: str) -> None:
    before = counts(db_url)
    result = run("import", "leads", str(bad(seeded, "leads.csv", "external_id,name,created_at\n")))
    assert result.exit_code == 0, result.output
    assert "0 leads rows: 0 inserted, 0 updated, 0 unchanged" in result.output
    assert counts(db_url) == before


def test_a_header_only_file_still_needs_the_required_columns(run: Run, seeded: Path, db_url: str) -> None:
    line = refused(run, db_url, "leads", bad(seeded, "leads.csv", "external_id,name\n"))
    assert ":header: column created_at: required column is missing" in line


def test_a_newline_inside_proper_quotes_is_kept(run: Run, seeded: Path, db_url: str) -> None:
    path = bad(seeded, "messages.csv", 'lead,channel,text,occurred_at\nL1,email,"Hi,\nsee you ""soon""",2026-10-02\n'
                                       "L2,chat,ok,2026-10-03\n")
    result = run("import", "messages", str(path))
    assert result.exit_code == 0, result.output
    assert rows(db_url, "SELECT text FROM message ORDER BY id") == [('Hi,\nsee you "soon"',), ("ok",)]


@pytest.mark.parametrize(("cell", "stored"), [
    ('"1.234,50"', 1234.5), ('"1,234.50"', 1234.5), ('"1,5"', 1.5), ("1.234", 1.234), ('"1,234,567"', 1234567.0),
    ("1.234.567", 1234567.0), ('"1 234,50"', 1234.5), ("2500", 2500.0),
])
def test_locale_numbers_are_read_when_they_can_mean_one_thing(
    cell: str, stored: float, run: Run, seeded: Path, db_url: str
) -> None:
    result = run("import", "outcomes", str(bad(seeded, "outcomes.csv", f"lead,converted,amount\nL1,yes,{cell}\n")))
    assert result.exit_code == 0, result.output
    assert rows(db_url, "SELECT amount FROM outcome") == [(stored,)]


def test_a_thousands_comma_in_a_head_count_is_read(run: Run, seeded: Path, db_url: str) -> None:
    result = run("import", "accounts", str(bad(seeded, "accounts.csv", 'name,employees\nAcme,"1,200"\n')))
    assert result.exit_code == 0, result.output
    assert rows(db_url, "SELECT employees FROM account WHERE name = 'Acme'") == [(1200,)]


def test_utf_16_with_a_byte_order_mark_is_read(run: Run, seeded: Path, db_url: str) -> None:
    text = "external_id\tname\tcreated_at\nL3\tJosé Núñez\t2026-09-03\n"
    for encoding in ("utf-16", "utf-16-be"):
        data = text.encode(encoding) if encoding == "utf-16" else b"\xfe\xff" + text.encode(encoding)
        result = run("import", "leads", str(bad(seeded, f"leads-{encoding}.csv", data)))
        assert result.exit_code == 0, result.output
    assert rows(db_url, "SELECT name FROM lead WHERE external_id = 'L3'") == [("José Núñez",)]


def test_utf_8_with_a_byte_order_mark_is_read(run: Run, seeded: Path, db_url: str) -> None:
    data = "\ufeffexternal_id,name,created_at\nL3,José,2026-09-03\n".encode()
    assert run("import", "leads", str(bad(seeded, "leads.csv", data))).exit_code == 0
    assert rows(db_url, "SELECT name FROM lead WHERE external_id = 'L3'") == [("José",)]


def test_json_lines_events_take_the_http_intake_shape(run: Run, seeded: Path, db_url: str) -> None:
    events = [
        {"lead": "L1", "kind": "page_view", "occurred_at": "2026-10-05T10:00:00Z",
         "detail": {"url": "/pricing", "page_type": "Pricing", "campaign": {"id": 7}}},
        {"lead": "L2", "kind": "email_open", "occurred_at": "2026-10-05T11:00:00Z", "detail": None},
        {"lead": "L2", "kind": "page_view", "occurred_at": "2026-10-05T12:00:00Z", "page_type": "docs",
         "detail": {"url": "/docs", "page_type": "blog"}},
    ]
    path = bad(seeded, "events.jsonl", "".join(json.dumps(e) + "\n" for e in events))
    result = run("import", "activities", str(path))
    assert result.exit_code == 0, result.output
    assert rows(db_url, "SELECT page_type, detail FROM activity WHERE CAST(occurred_at AS TEXT) LIKE '2026-10-05%' "
                        "ORDER BY id") == [
        ("pricing", '{"campaign":{"id":7},"url":"/pricing"}'), ("", "{}"), ("docs", '{"url":"/docs"}'),
    ]
    again = run("import", "activities", str(path))
    assert "0 inserted" in again.output and "3 unchanged" in again.output


def transcript(folder: Path, name: str, lead: str, line: str) -> Path:
    return bad(folder, name, f"# lead: {lead}\n# date: 2026-10-01T10:00:00Z\nDana Kim: {line}\n")


def test_transcripts_named_alike_in_two_folders_stay_two_transcripts(run: Run, seeded: Path, db_url: str) -> None:
    transcript(seeded / "calls", "2026-10/call.txt", "L1", "October call")
    transcript(seeded / "calls", "2026-11/call.txt", "L2", "November call")
    first = run("import", "transcripts", str(seeded / "calls" / "2026-10"))
    second = run("import", "transcripts", str(seeded / "calls" / "2026-11"))
    assert "1 inserted, 0 updated" in first.output and "1 inserted, 0 updated" in second.output, second.output
    again = run("import", "transcripts", str(seeded / "calls" / "2026-10"))
    assert "0 inserted, 0 updated, 1 unchanged" in again.output
    assert rows(db_url, "SELECT l.external_id, m.text FROM message m JOIN lead l ON l.id = m.lead_id ORDER BY m.id") \
        == [("L1", "October call"), ("L2", "November call")]


def test_transcripts_keyed_by_name_alone_by_an_older_version_are_recognised(
    run: Run, seeded: Path, db_url: str
) -> None:
    folder = seeded / "calls"
    transcript(folder, "call.txt", "L1", "hello")
    assert run("import", "transcripts", str(folder)).exit_code == 0
    engine = create_engine(db_url)
    with engine.begin() as conn:  # what an older Hotlead stored: transcript:NAME:LINE
        conn.exec_driver_sql("UPDATE message SET source_ref = 'transcript:call.txt:1'")
    engine.dispose()
    again = run("import", "transcripts", str(folder))
    assert "0 inserted, 0 updated, 1 unchanged" in again.output, again.output
    assert rows(db_url, "SELECT source_ref FROM message")[0][0].startswith("transcript:call.txt@")
    transcript(seeded / "other", "call.txt", "L2", "another call, same name")
    other = run("import", "transcripts", str(seeded / "other"))
    assert "1 inserted, 0 updated" in other.output
    assert rows(db_url, "SELECT count(*) FROM message") == [(2,)]


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("call.txt", "# lead: L1\nDana Kim: caf\xe9\n".encode("latin-1"), ":2: column -: byte 0xE9 at byte offset 24"),
    ("call.txt", b"# lead: L1\nDana Kim: a\x00b\n", ":2: column -: a NUL byte at byte offset 22"),
    ("call.json", '{"lead": "L1", "lines": ' + "[" * 5000 + "]" * 5000 + "}", ":1: column json: JSON nested"),
    ("call.json", '{"lead": "L1", "lines": [' + "1" * 5000 + "]}", ":1: column json: not a usable JSON number"),
    ("call.json", '{"lead": "L1", "lines": [{"speaker": "Dana Kim", "text": "hi", "offset": 1e300}]}',
     ":1: column timestamp"),
    ("call.txt", "# lead: L1\n[99999999999:00:00] Dana Kim: hi\n", ":2: column timestamp: not a time"),
    ("call.txt", "# lead: L1\n# date: 9999-12-31T23:00:00Z\n[05:00:00] Dana Kim: late\n",
     ":3: column timestamp: the call start plus this offset is after the year 9999"),
])
def test_a_malformed_transcript_is_refused_with_one_line(
    name: str, content: bytes | str, expected: str, run: Run, seeded: Path, db_url: str
) -> None:
    path = bad(seeded / "calls", name, content)
    line = refused(run, db_url, "transcripts", path)
    assert line.startswith(f"{path}{expected}"), line
