from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from storage.errors import ImportFileError
from storage.importers import cells, import_table
from tests.conftest import count, stored_rows

LEADS = (
    "external_id,name,email,account,owner,created_at,seniority\n"
    "L1,Jane Doe,jane@acme.example,Acme,Ann Rep,2026-09-01,VP\n"
    "L2,John Roe,john@globex.example,Globex,,2026-09-02T10:00:00Z,manager\n"
    "L3,Wei Chen,wei@acme.example,Acme,ann@team.example,2026-09-03,director\n"
)
REPS = (
    "name,role,email,slack_user_id,whatsapp,timezone\n"
    "Ann Rep,rep,ann@team.example,U1,whatsapp:+1 555 010 0001,Europe/Berlin\n"
)


@pytest.fixture
def seeded(engine: Engine, write: Callable[[str, str], Path]) -> Engine:
    import_table(engine, "reps", write("reps.csv", REPS))
    import_table(engine, "leads", write("leads.csv", LEADS))
    return engine


def activities(rows: int, bad: dict[int, tuple[str, str]] | None = None) -> str:
    """An activity CSV; `bad` replaces (lead, occurred_at) on the given 1-based data rows."""
    lines = ["lead,kind,occurred_at,page_type,url"]
    for number in range(1, rows + 1):
        lead, when = (bad or {}).get(number, ("L1", f"2026-10-{number:02d}T09:00:00Z"))
        lines.append(f"{lead},page_view,{when},pricing,/pricing")
    return "\n".join(lines) + "\n"


def test_leads_import_creates_accounts_and_links_owners(seeded: Engine) -> None:
    assert count(seeded, "lead") == 3
    assert count(seeded, "account") == 2
    with seeded.connect() as conn:
        owners = dict(conn.exec_driver_sql("SELECT external_id, owner_id FROM lead").all())
        whatsapp = conn.exec_driver_sql("SELECT whatsapp FROM rep").scalar_one()
    assert owners["L1"] == owners["L3"] is not None and owners["L2"] is None
    assert whatsapp == "+15550100001"


def test_importing_the_same_file_twice_changes_nothing(seeded: Engine, write: Callable[[str, str], Path]) -> None:
    file = write("activities.csv", activities(15))
    first = import_table(seeded, "activities", file)
    before = {t: count(seeded, t) for t in ("lead", "account", "activity")}
    second = import_table(seeded, "activities", file)
    assert (first.counts.inserted, second.counts.inserted, second.counts.unchanged) == (15, 0, 15)
    assert {t: count(seeded, t) for t in ("lead", "account", "activity")} == before
    again = import_table(seeded, "leads", write("leads-again.csv", LEADS))
    assert (again.counts.inserted, again.counts.updated, again.counts.unchanged) == (0, 0, 3)


def test_a_changed_row_is_updated_not_duplicated(seeded: Engine, write: Callable[[str, str], Path]) -> None:
    changed = LEADS.replace("Jane Doe", "Jane Doe-Smith")
    result = import_table(seeded, "leads", write("leads2.csv", changed))
    assert (result.counts.inserted, result.counts.updated, result.counts.unchanged) == (0, 1, 2)
    with seeded.connect() as conn:
        assert conn.exec_driver_sql("SELECT name FROM lead WHERE external_id='L1'").scalar_one() == "Jane Doe-Smith"


def test_a_bad_file_writes_nothing_and_names_each_bad_row_and_column(
    seeded: Engine, write: Callable[[str, str], Path]
) -> None:
    import_table(seeded, "activities", write("ok.csv", activities(3)))
    before = {t: count(seeded, t) for t in ("lead", "account", "activity", "rep")}
    bad = write("bad.csv", activities(15, {7: ("L1", "2026-02-30"), 12: ("L404", "2026-10-12T09:00:00Z")}))
    with pytest.raises(ImportFileError) as caught:
        import_table(seeded, "activities", bad)
    message = str(caught.value)
    assert f"{bad}:7: column occurred_at: not a date: '2026-02-30'" in message
    assert f"{bad}:12: column lead: unknown lead 'L404'" in message
    assert [(e.row, e.column) for e in caught.value.errors] == [(7, "occurred_at"), (12, "lead")]
    assert {t: count(seeded, t) for t in ("lead", "account", "activity", "rep")} == before


def test_rows_after_an_early_flush_are_rolled_back_too(seeded: Engine, write: Callable[[str, str], Path]) -> None:
    rows = ["lead,kind,occurred_at"] + [f"L1,email_open,2026-10-01T00:00:{i % 60:02d}.{i:06d}" for i in range(12000)]
    rows.append("L1,teleport,2026-10-02")
    with pytest.raises(ImportFileError, match="column kind: 'teleport' is not one of"):
        import_table(seeded, "activities", write("big.csv", "\n".join(rows) + "\n"))
    assert count(seeded, "activity") == 0


def test_only_the_first_twenty_bad_rows_are_listed(seeded: Engine, write: Callable[[str, str], Path]) -> None:
    file = write("many.csv", activities(30, {n: ("L1", "yesterday") for n in range(1, 31)}))
    with pytest.raises(ImportFileError) as caught:
        import_table(seeded, "activities", file)
    assert len(caught.value.errors) == 20
    assert "more bad rows not shown" in str(caught.value)


def test_a_missing_required_column_is_named_with_the_header_found(
    seeded: Engine, write: Callable[[str, str], Path]
) -> None:
    with pytest.raises(ImportFileError, match=r"header: column occurred_at: required column is missing"):
        import_table(seeded, "activities", write("nohead.csv", "lead,kind\nL1,page_view\n"))


def test_a_row_with_the_wrong_number_of_cells_is_reported(seeded: Engine, write: Callable[[str, str], Path]) -> None:
    with pytest.raises(ImportFileError, match=r":2: column -: the row has 2 cells but the header has 3"):
        import_table(seeded, "activities", write("w.csv", "lead,kind,occurred_at\nL1,page_view,2026-10-01\nL1,x\n"))


def test_extra_columns_are_kept_in_the_activity_detail(seeded: Engine, write: Callable[[str, str], Path]) -> None:
    import_table(seeded, "activities", write("a.csv", activities(1)))
    ((page_type, detail),) = stored_rows(seeded, "SELECT page_type, detail FROM activity")
    assert page_type == "pricing"
    assert detail == '{"url":"/pricing"}'


def test_json_lines_import_like_csv(seeded: Engine, write: Callable[[str, str], Path]) -> None:
    text = (
        '{"lead": "L2", "kind": "email_reply", "occurred_at": "2026-10-05T08:00:00+02:00", "campaign": "q4"}\n'
        "\n"
        '{"lead": "L2", "kind": "webinar", "occurred_at": "2026-10-06", "campaign": null}\n'
    )
    result = import_table(seeded, "activities", write("a.jsonl", text))
    assert result.counts.inserted == 2
    first = stored_rows(seeded, "SELECT occurred_at, detail FROM activity ORDER BY occurred_at")[0]
    assert first == ("2026-10-05 06:00:00.000000", '{"campaign":"q4"}')


def test_messages_without_a_source_ref_are_still_idempotent(
    seeded: Engine, write: Callable[[str, str], Path]
) -> None:
    text = (
        "lead,channel,direction,speaker,text,occurred_at\n"
        "L1,whatsapp,inbound,Jane Doe,We need this live before end of quarter,2026-11-12T10:00:00Z\n"
        "L1,whatsapp,outbound,Ann Rep,Happy to help,2026-11-12T10:01:00Z\n"
    )
    file = write("m.csv", text)
    assert import_table(seeded, "messages", file).counts.inserted == 2
    assert import_table(seeded, "messages", file).counts.unchanged == 2
    assert count(seeded, "message") == 2


def test_outcomes_accept_won_and_lost_words(seeded: Engine, write: Callable[[str, str], Path]) -> None:
    text = "lead,converted,amount,closed_at\nL1,won,12000,2026-11-01\nL2,lost,,2026-11-02\nL3,0,,\n"
    import_table(seeded, "outcomes", write("o.csv", text))
    with seeded.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT l.external_id, o.converted FROM outcome o JOIN lead l ON l.id = o.lead_id"
        ).all()
    assert sorted(rows) == [("L1", 1), ("L2", 0), ("L3", 0)]


def test_whatsapp_numbers_read_as_e164_however_they_are_written() -> None:
    assert {cells.e164(v) for v in ("+1 (555) 010-0001", "whatsapp:+15550100001", "001 555 010 0001")} == {
        "+15550100001"}
    assert cells.phone("555-1234") == "+5551234"  # a lead's phone in a CRM may lack its country code


@pytest.mark.parametrize(
    ("kind", "header", "row", "column", "problem"),
    [
        ("reps", "name,timezone", "Bo,Mars/Olympus", "timezone", "unknown time zone"),
        ("reps", "name,whatsapp", "Bo,call me", "whatsapp", "not a phone number"),
        ("reps", "name,whatsapp", "Bo,555-1234", "whatsapp", "no country code: '555-1234'"),
        ("reps", "name,whatsapp", "Bo,+0155501000", "whatsapp", "not an E.164 number"),
        ("reps", "name,whatsapp", "Bo,+1555010000123456", "whatsapp", "not an E.164 number"),
        ("reps", "name,role", "Bo,boss", "role", "'boss' is not one of rep, senior, bdr, manager"),
        ("accounts", "name,employees", "Initech,lots", "employees", "not a number"),
        ("leads", "external_id,name,created_at,owner", "L9,Al,2026-01-01,Nobody", "owner", "unknown rep"),
        ("leads", "external_id,name,created_at", "L9,,2026-01-01", "name", "is empty, and it is required"),
        ("outcomes", "lead,converted", "L1,maybe", "converted", "not yes/no"),
    ],
)
def test_bad_cells_say_what_is_wrong(
    seeded: Engine, write: Callable[[str, str], Path], kind: str, header: str, row: str, column: str, problem: str
) -> None:
    file = write(f"{kind}.csv", f"{header}\n{row}\n")
    with pytest.raises(ImportFileError) as caught:
        import_table(seeded, kind, file)
    assert f":1: column {column}: {problem}" in str(caught.value)


def index_names(engine: Engine, table: str = "activity") -> set[str]:
    return {str(index["name"]) for index in inspect(engine).get_indexes(table)}


def test_a_refused_bulk_import_leaves_every_index_in_place(seeded: Engine, write: Callable[[str, str], Path]) -> None:
    before = index_names(seeded)
    assert "ix_activity_lead_day" in before
    with pytest.raises(ImportFileError):  # a bulk file (bigger than the table) with one bad row at the end
        import_table(seeded, "activities", write("bad.csv", activities(20, {20: ("L404", "2026-10-20")})))
    assert index_names(seeded) == before and count(seeded, "activity") == 0


def test_other_connections_keep_seeing_the_indexes_while_a_bulk_import_runs(
    seeded: Engine, write: Callable[[str, str], Path],
) -> None:
    from storage.db import make_engine

    other = make_engine(seeded.url.render_as_string(hide_password=False))
    seen: list[set[str]] = []
    rows = "\n".join(f"L1,page_view,2026-10-01T09:{i // 60 % 60:02d}:{i % 60:02d}Z,pricing,/p{i}" for i in range(5001))
    file = write("big.csv", "lead,kind,occurred_at,page_type,url\n" + rows + "\n")
    import_table(seeded, "activities", file, progress=lambda done, total: seen.append(index_names(other)))
    other.dispose()
    assert seen and all("ix_activity_lead_day" in names for names in seen)
    assert "ix_activity_lead_day" in index_names(seeded)


KILLED_MID_IMPORT = """
import contextlib, pathlib, signal, sys
import storage.importers.runner as runner
from storage.db import make_engine
from storage.importers import import_table

def stop(*_):
    print("mid-import", flush=True)
    signal.pause()

reading = sys.argv[3] == "reading"
if not reading and not sys.argv[1].startswith("sqlite"):  # stop after every row is written, uncommitted
    copy = runner.copy_ignoring_conflicts

    def copied(*args, **kwargs):
        copy(*args, **kwargs)
        stop()

    runner.copy_ignoring_conflicts = copied
elif not reading:  # stop inside the write transaction: every row written, the indexes dropped, not committed
    built_after = runner._indexes_built_after

    @contextlib.contextmanager
    def written(conn, spec, path):
        with built_after(conn, spec, path):
            yield
            stop()

    runner._indexes_built_after = written
import_table(make_engine(sys.argv[1]), "activities", pathlib.Path(sys.argv[2]), progress=stop if reading else None)
"""


@pytest.mark.parametrize("moment", ["reading", "writing"])
def test_kill_9_in_the_middle_of_a_bulk_import_leaves_the_store_as_it_was(
    seeded: Engine, write: Callable[[str, str], Path], moment: str,
) -> None:
    import subprocess
    import sys

    import_table(seeded, "activities", write("first.csv", activities(10)))
    before = (index_names(seeded), count(seeded, "activity"))
    rows = "\n".join(f"L2,email_open,2026-10-02T10:{i // 60 % 60:02d}:{i % 60:02d}Z,,/e{i}" for i in range(20_000))
    big = write("big.csv", "lead,kind,occurred_at,page_type,url\n" + rows + "\n")
    child = subprocess.Popen([sys.executable, "-c", KILLED_MID_IMPORT,
                              seeded.url.render_as_string(hide_password=False), str(big), moment],
                             cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "mid-import\n"  # blocks until half-way
    finally:
        child.kill()  # SIGKILL: no cleanup of any kind
        child.wait()
    seeded.dispose()
    assert (index_names(seeded), count(seeded, "activity")) == before
    again = import_table(seeded, "activities", write("second.csv", activities(12)))
    assert again.counts.inserted == 2 and "ix_activity_lead_day" in index_names(seeded)
