from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.errors import ImportFileError
from storage.importers.crm import import_crm
from tests.conftest import SHARED_DATA, count, stored_rows

EXPORT = (
    "deal_id;company size;region;signed up;newsletter;notes;won\n"
    "D1;120;emea;2026-01-04;yes;Met at the Berlin expo, keen on the analytics add-on;yes\n"
    "D2;15;amer;2026-02-11;no;Cold inbound from the website form asking about pricing tiers;no\n"
    "D3;800;emea;2026-03-20;yes;Referred by an existing customer in the same holding group;\n"
)


def attributes(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT name, kind FROM attribute").all())


def test_column_types_are_inferred(engine: Engine, write: Callable[[str, str], Path]) -> None:
    import_crm(engine, write("deals.csv", EXPORT), label="won", id_column="deal_id")
    assert attributes(engine) == {
        "company size": "number", "region": "category", "signed up": "date", "newsletter": "boolean",
        "notes": "category",
    }


def test_typed_values_are_kept_on_the_lead_and_an_empty_label_leaves_it_open(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    import_crm(engine, write("deals.csv", EXPORT), label="won", id_column="deal_id")
    ((lead,),) = stored_rows(engine, "SELECT attributes FROM lead WHERE external_id='D1'")
    with engine.connect() as conn:
        outcomes = dict(conn.exec_driver_sql(
            "SELECT l.external_id, o.converted FROM outcome o JOIN lead l ON l.id = o.lead_id").all())
    assert '"company size":120' in lead and '"newsletter":1' in lead and '"region":"emea"' in lead
    assert outcomes == {"D1": 1, "D2": 0}


def test_row_numbers_are_the_ids_without_an_id_column(engine: Engine, write: Callable[[str, str], Path]) -> None:
    import_crm(engine, write("deals.csv", EXPORT.replace("deal_id", "ref")), label="won")
    with engine.connect() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT external_id FROM lead ORDER BY id")]
    assert ids == ["deals-1", "deals-2", "deals-3"]


def test_a_usual_id_header_is_the_id_without_id(engine: Engine, write: Callable[[str, str], Path]) -> None:
    import_crm(engine, write("deals.csv", EXPORT), label="won")
    with engine.connect() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT external_id FROM lead ORDER BY id")]
    assert ids == ["D1", "D2", "D3"] and "deal_id" not in attributes(engine)


def test_dropped_columns_are_not_kept(engine: Engine, write: Callable[[str, str], Path]) -> None:
    import_crm(engine, write("deals.csv", EXPORT), label="won", drop=["notes"])
    assert "notes" not in attributes(engine)


def test_the_same_export_twice_changes_nothing(engine: Engine, write: Callable[[str, str], Path]) -> None:
    file = write("deals.csv", EXPORT)
    import_crm(engine, file, label="won", id_column="deal_id")
    again = import_crm(engine, file, label="won", id_column="deal_id")
    assert (again.counts.inserted, again.counts.updated, again.counts.unchanged) == (0, 0, 3)
    assert count(engine, "lead") == 3 and count(engine, "outcome") == 2


def test_an_unreadable_label_writes_nothing(engine: Engine, write: Callable[[str, str], Path]) -> None:
    file = write("deals.csv", EXPORT.replace(";no\n", ";perhaps\n"))
    with pytest.raises(ImportFileError, match=r"deals.csv:2: column won: unknown stage 'perhaps' on rows 2: "):
        import_crm(engine, file, label="won", id_column="deal_id")
    assert count(engine, "lead") == 0 and count(engine, "attribute") == 0


def test_a_named_positive_value_reads_any_label(engine: Engine, write: Callable[[str, str], Path]) -> None:
    text = "id,stage\n1,Closed Won\n2,Closed Lost\n"
    import_crm(engine, write("s.csv", text), label="stage", id_column="id", positive="closed won")
    with engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT converted FROM outcome").scalars()) == [0, 1]


def test_a_missing_label_column_is_named(engine: Engine, write: Callable[[str, str], Path]) -> None:
    with pytest.raises(ImportFileError, match="column outcome: no such column"):
        import_crm(engine, write("deals.csv", EXPORT), label="outcome")


def test_duplicate_ids_are_bad_rows(engine: Engine, write: Callable[[str, str], Path]) -> None:
    with pytest.raises(ImportFileError, match=r":2: column id: duplicate id '7' \(first on row 1\)"):
        import_crm(engine, write("d.csv", "id,x,won\n7,1,yes\n7,2,no\n"), label="won", id_column="id")


@pytest.mark.parametrize(
    ("folder", "name", "label", "rows", "positives"),
    [("online_shoppers", "online_shoppers_intention.csv", "Revenue", 12330, 1908),
     ("bank_marketing", "bank-additional-full.csv", "y", 41188, 4640)],
)
def test_the_public_data_sets_import_without_code_for_either(
    engine: Engine, folder: str, name: str, label: str, rows: int, positives: int
) -> None:
    path = SHARED_DATA / folder / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    result = import_crm(engine, path, label=label)
    assert result.counts.inserted == rows
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT sum(converted) FROM outcome").scalar_one() == positives
