"""Stream rows out of CSV and JSON Lines files, counting bytes for a progress bar."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from storage.errors import ImportFileError, RowError

JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


@dataclass(slots=True)
class Row:
    """One record: its 1-based number among the data rows, the file line it starts on, and its cells
    in header order (`problem` says why a row could not be split into cells at all)."""

    number: int
    line: int
    cells: list[Any]
    problem: str | None = None


class ByteCounter(io.RawIOBase):
    """A raw reader that counts the bytes passed through, so progress needs no tell()."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.bytes_read += count or 0
        return count or 0


class RowSource:
    """The rows of one file, streamed; `header` is known once iteration starts."""

    def __init__(self, path: Path, delimiter: str | None = None) -> None:
        self.path = path
        self.name = str(path)
        self.size = path.stat().st_size
        self.is_jsonl = path.suffix.lower() in JSONL_SUFFIXES
        self.delimiter = delimiter
        self.header: list[str] = []
        self._counter: ByteCounter | None = None

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has got."""
        return self._counter.bytes_read if self._counter else 0

    def __iter__(self) -> Iterator[Row]:
        with self.path.open("rb") as raw:
            self._counter = ByteCounter(raw)
            buffered = io.BufferedReader(self._counter, buffer_size=1 << 20)
            stream = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
            if self.is_jsonl:
                yield from self._jsonl(stream)
            else:
                yield from self._csv(stream)

    def _csv(self, stream: io.TextIOWrapper) -> Iterator[Row]:
        first = stream.readline()
        delimiter = self.delimiter or sniff_delimiter(first)
        reader = csv.reader(itertools.chain([first], stream), delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ImportFileError(self.name, [RowError(self.name, 0, "-", "the file is empty")]) from None
        self.header = [name.strip() for name in header]
        width = len(self.header)
        number = 0
        for values in reader:
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            number += 1
            if len(values) != width:
                problem = f"the row has {len(values)} cells but the header has {width}"
                yield Row(number, reader.line_num, [], problem)
            else:
                yield Row(number, reader.line_num, values)

    def _jsonl(self, stream: io.TextIOWrapper) -> Iterator[Row]:
        first = stream.readline()
        if first.lstrip().startswith("["):  # a JSON array file (read whole): each object is one row
            lines: Iterator[str] = _array_lines(first + stream.read())
        else:
            lines = itertools.chain([first], stream)
        number = 0
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            number += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Row(number, line_no, [], f"not valid JSON: {exc.msg}")
                continue
            if not isinstance(record, dict):
                yield Row(number, line_no, [], "each line must be a JSON object")
                continue
            if not self.header:
                self.header = list(record)
            unknown = [key for key in record if key not in self.header]
            if unknown:
                problem = f"keys {unknown} are not in the first line's keys {self.header}"
                yield Row(number, line_no, [], problem)
                continue
            yield Row(number, line_no, [record.get(key) for key in self.header])


def _array_lines(text: str) -> Iterator[str]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        yield "{" + exc.msg  # reported as invalid JSON on line 1
        return
    for item in items:
        yield json.dumps(item)


def sniff_delimiter(sample: str) -> str:
    """Guess the delimiter of a CSV sample among , ; tab and |."""
    first_line = sample.splitlines()[0] if sample else ""
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
