"""Properties of the import reader and cell parsers, over many generated files and cells."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.errors import ImportFileError
from storage.importers import cells
from storage.importers.reading import RowSource

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CELL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
NAME = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    header = draw(st.lists(NAME, min_size=2, max_size=5, unique=True))
    body = draw(st.lists(st.lists(CELL, min_size=len(header), max_size=len(header)), max_size=8))
    return header, body


def csv_text(header: list[str], body: list[list[str]], delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue()


@SETTINGS
@given(table=tables(), delimiter=st.sampled_from([",", ";", "\t", "|"]), bom=st.booleans())
def test_any_table_written_by_the_csv_module_reads_back_identically(
    table: tuple[list[str], list[list[str]]], delimiter: str, bom: bool, tmp_path: Path
) -> None:
    header, body = table
    path = tmp_path / "table.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + csv_text(header, body, delimiter).encode())
    source = RowSource(path, delimiter)
    rows = list(source)
    assert source.header == header
    assert [row.cells for row in rows] == body
    assert [row.number for row in rows] == list(range(1, len(body) + 1))
    assert all(row.problem is None for row in rows)


@SETTINGS
@given(table=tables())
def test_utf_16_with_a_byte_order_mark_reads_like_utf_8(
    table: tuple[list[str], list[list[str]]], tmp_path: Path
) -> None:
    header, body = table
    path = tmp_path / "table.csv"
    path.write_bytes(csv_text(header, body, ",").encode("utf-16"))
    assert [row.cells for row in RowSource(path, ",")] == body


@SETTINGS
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".jsonl", ".json"]))
def test_arbitrary_bytes_give_rows_or_a_reported_error_never_an_exception(
    data: bytes, suffix: str, tmp_path: Path
) -> None:
    path = tmp_path / f"file{suffix}"
    path.write_bytes(data)
    try:
        rows = list(RowSource(path))
    except ImportFileError as exc:
        assert exc.errors and all(str(error).startswith(str(path)) for error in exc.errors)
        return
    assert all(isinstance(row.cells, list) and (row.problem is None or row.problem) for row in rows)


@SETTINGS
@given(text=st.text(max_size=40))
def test_every_cell_parser_returns_a_storable_value_or_says_why_not(text: str) -> None:
    for parse in (cells.number, cells.amount):
        try:
            value = parse(text)
        except cells.CellError:
            continue
        assert math.isfinite(value)
    for parse_int in (cells.integer, cells.count):
        try:
            whole = parse_int(text)
        except cells.CellError:
            continue
        assert -(2**63) <= whole < 2**63
    try:
        stamp = cells.timestamp(text)
    except cells.CellError:
        return
    assert len(stamp) == 26 and stamp[4] == "-"


@SETTINGS
@given(cents=st.integers(min_value=0, max_value=10**12))
def test_an_amount_in_english_or_german_form_reads_as_the_same_number(cents: int) -> None:
    english = f"{cents / 100:,.2f}"  # 1,234,567.50
    german = english.replace(",", " ").replace(".", ",").replace(" ", ".")  # 1.234.567,50
    assert cells.number(english) == cells.number(german) == pytest.approx(cents / 100)


@SETTINGS
@given(whole=st.integers(min_value=1000, max_value=10**15))
def test_a_head_count_with_thousands_commas_reads_as_the_number(whole: int) -> None:
    assert cells.count(f"{whole:,}") == whole
