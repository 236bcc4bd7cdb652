"""Stream rows out of CSV and JSON Lines files, counting bytes for a progress bar.

Text is UTF-8 (a byte-order mark is allowed) or UTF-16 with a byte-order mark. Anything else — Latin-1,
Windows-1252, UTF-16 without a BOM, binary files, NUL bytes — is refused with the row, column and byte
offset of the first bad byte: those encodings cannot be told apart reliably, so guessing would store wrong
letters without a word. CSV is read strictly: a quote that is opened and never closed is an error naming
the row where it opened, while a newline inside a properly quoted cell is kept.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from storage.errors import ImportFileError, RowError

JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})
MAX_CELL = csv.field_size_limit()  # 131,072 characters: larger cells are refused, not truncated
MAX_DEPTH = 20  # JSON values nested deeper than this in one line are refused
_CONTROL = bytes([*range(0, 9), 11, *range(14, 32), 127])  # bytes text files hardly hold: tab, \n, \f, \r aside
SAVE_AS_UTF8 = "save the file as UTF-8 (in Excel: Save As › CSV UTF-8)"


@dataclass(slots=True)
class Row:
    """One record: its 1-based number among the data rows, the file line it starts on, and its cells
    in header order (`problem` says why a row could not be split into cells at all)."""

    number: int
    line: int
    cells: list[Any]
    problem: str | None = None


class _NulByte(Exception):
    """A NUL byte at an absolute byte offset of the file (raised from inside the reading stack)."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class ByteCounter(io.RawIOBase):
    """A raw reader that counts the bytes passed through, so progress needs no tell(); with `nul_check`,
    it stops at the first NUL byte (never part of UTF-8 text)."""

    def __init__(self, raw: BinaryIO, nul_check: bool = False) -> None:
        self._raw = raw
        self.bytes_read = 0
        self._nul_check = nul_check

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        count = len(data)
        if self._nul_check and (at := data.find(b"\x00")) >= 0:
            raise _NulByte(self.bytes_read + at)
        buffer[:count] = data
        self.bytes_read += count
        return count


class RowSource:
    """The rows of one file, streamed; `header` is known once iteration starts."""

    def __init__(self, path: Path, delimiter: str | None = None) -> None:
        self.path = path
        self.name = str(path)
        if path.is_dir():
            raise ImportFileError.whole(self.name, "is a folder, not a file (only `import transcripts` reads folders)")
        try:
            self.size = path.stat().st_size
        except OSError as exc:
            raise ImportFileError.whole(self.name, f"cannot be read: {exc.strerror or exc}") from None
        if delimiter is not None and len(delimiter) != 1:
            raise ImportFileError.whole(self.name, f"--delimiter must be one character, not {delimiter!r}")
        self.is_jsonl = path.suffix.lower() in JSONL_SUFFIXES
        self.delimiter = delimiter
        self.header: list[str] = []
        self._counter: ByteCounter | None = None

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has got."""
        return self._counter.bytes_read if self._counter else 0

    def __iter__(self) -> Iterator[Row]:
        try:
            with self.path.open("rb") as raw:
                encoding = self._encoding(raw.read(4096))
                raw.seek(0)
                self._counter = ByteCounter(raw, nul_check=encoding != "utf-16")
                buffered = io.BufferedReader(self._counter, buffer_size=1 << 20)
                stream = io.TextIOWrapper(buffered, encoding=encoding, newline="")
                if self.is_jsonl:
                    self.header = self._json_keys(encoding)
                    yield from self._jsonl(stream)
                else:
                    yield from self._csv(stream)
        except _NulByte as exc:
            raise self._bad_byte(exc.offset, nul=True) from None
        except UnicodeDecodeError as exc:
            if exc.encoding.startswith("utf-16"):
                raise ImportFileError.whole(self.name, f"is not valid UTF-16 text; {SAVE_AS_UTF8}") from None
            offset = first_bad_utf8(self.path)
            raise self._bad_byte(offset or 0, nul=False) from None
        except OSError as exc:
            raise ImportFileError.whole(self.name, f"cannot be read: {exc.strerror or exc}") from None

    def _encoding(self, head: bytes) -> str:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not head.startswith(codecs.BOM_UTF32_LE):
            return "utf-16"
        if b"\x00" not in head:
            return "utf-8-sig"
        pairs = len(head) // 2 or 1
        odd, even = head[1::2].count(0), head[0::2].count(0)
        if max(odd, even) > pairs // 3 and min(odd, even) < pairs // 20 + 1:
            raise ImportFileError.whole(self.name, f"looks like UTF-16 text without a byte-order mark; {SAVE_AS_UTF8}")
        if sum(head.count(c) for c in _CONTROL) > max(len(head) // 20, 8):  # a stray NUL in text: by row
            raise ImportFileError.whole(self.name, f"is not a text file (a NUL byte at byte offset {head.find(0)}): "
                                        "import CSV or JSON Lines saved as UTF-8")
        return "utf-8-sig"

    def _bad_byte(self, offset: int, nul: bool) -> ImportFileError:
        with self.path.open("rb") as raw:
            raw.seek(offset)
            byte = raw.read(1).hex().upper()
        row, column = locate(self.path, offset, self.is_jsonl, self.delimiter)
        if nul:
            problem = f"a NUL byte (0x00) at byte offset {offset}: text never holds one (a binary or UTF-16 file?)"
        else:
            problem = f"byte 0x{byte} at byte offset {offset} is not UTF-8 (Latin-1 or Windows-1252?); {SAVE_AS_UTF8}"
        return ImportFileError(self.name, [RowError(self.name, row, column, problem)])

    def _csv(self, stream: io.TextIOWrapper) -> Iterator[Row]:
        first = stream.readline()
        delimiter = self.delimiter or sniff_delimiter(first)
        reader = csv.reader(itertools.chain([first], stream), delimiter=delimiter, strict=True)
        try:
            header = next(reader)
            while not header or (len(header) == 1 and not header[0].strip()):
                header = next(reader)
        except StopIteration:
            raise ImportFileError.whole(self.name, "the file is empty (not even a header line)") from None
        except csv.Error as exc:
            raise ImportFileError(self.name, [RowError(self.name, 0, "-", _csv_problem(exc))]) from None
        self.header = [name.strip() for name in header]
        self._check_duplicates()
        width = len(self.header)
        number, end = 0, reader.line_num
        try:
            for values in reader:
                end = reader.line_num
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                number += 1
                if len(values) != width:
                    problem = f"the row has {len(values)} cells but the header has {width}"
                    yield Row(number, end, [], problem)
                else:
                    yield Row(number, end, values)
        except csv.Error as exc:  # the reader cannot go on: report the row the bad record starts on
            problem, line = _csv_problem(exc), end + 1
            column = self._column_at_line(line, delimiter) if "never closed" in problem else "-"
            where = f" (line {line})" if line != number + 2 else ""
            raise ImportFileError(self.name, [RowError(self.name, number + 1, column, problem + where)]) from None

    def _check_duplicates(self) -> None:
        first: dict[str, int] = {}
        for index, name in enumerate(self.header, start=1):
            if name and name in first:
                problem = f"is in the header twice (columns {first[name]} and {index}): rename or drop one"
                raise ImportFileError(self.name, [RowError(self.name, 0, name, problem)])
            first.setdefault(name, index)

    def _column_at_line(self, line: int, delimiter: str) -> str:
        """The column whose cell opens with the quote left open on `line` (the last cell started there)."""
        with self.path.open(encoding="utf-8-sig", errors="replace", newline="") as text:
            physical = next(itertools.islice(text, line - 1, None), "")
        cells = next(csv.reader([physical], delimiter=delimiter), [])
        index = len(cells) - 1
        return self.header[index] if 0 <= index < len(self.header) else "-"

    def _json_keys(self, encoding: str) -> list[str]:
        """First pass over a JSON Lines file: every key any record has, in the order first seen (records may
        leave keys out, as events posted to the HTTP intake do)."""
        keys: dict[str, None] = {}
        with self.path.open("rb") as raw:
            stream = io.TextIOWrapper(io.BufferedReader(ByteCounter(raw, encoding != "utf-16"), 1 << 20),
                                      encoding=encoding, newline="")
            for line in _json_lines(stream):
                if line.strip():
                    record, problem = _json_record(line)
                    keys.update(dict.fromkeys(record))
        return list(keys)

    def _jsonl(self, stream: io.TextIOWrapper) -> Iterator[Row]:
        number = 0
        for line_no, line in enumerate(_json_lines(stream), start=1):
            if not line.strip():
                continue
            number += 1
            record, problem = _json_record(line)
            if problem is not None and not self.header:  # no line is a record: there are no columns to check
                raise ImportFileError(self.name, [RowError(self.name, number, "-", problem)])
            if problem is not None:
                yield Row(number, line_no, [], problem)
                continue
            yield Row(number, line_no, [record.get(key) for key in self.header])
        if number == 0:
            raise ImportFileError.whole(self.name, "the file is empty (no JSON objects)")


def _json_lines(stream: io.TextIOWrapper) -> Iterator[str]:
    first = stream.readline()
    if first.lstrip().startswith("["):  # a JSON array file (read whole): each object is one row
        return _array_lines(first + stream.read())
    return itertools.chain([first], stream)


def _csv_problem(exc: csv.Error) -> str:
    message = str(exc)
    if "field larger than field limit" in message:
        return f"a cell is longer than {MAX_CELL:,} characters, the most one cell may hold"
    if "unexpected end of data" in message:
        return 'a quoted cell opened here is never closed (a closing " is missing)'
    if "expected after" in message:
        return ('text follows the closing quote of a quoted cell: a quote opened here is not closed where it '
                'should be, or a quote inside a quoted cell is not doubled ("")')
    return f"not valid CSV: {message}"


def _json_record(line: str) -> tuple[dict[str, Any], str | None]:
    """One JSON Lines record, or the reason it is not one."""
    try:
        record = json.loads(line, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        return {}, f"not valid JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return {}, f"JSON nested too deeply (at most {MAX_DEPTH} levels)"
    except ValueError as exc:  # NaN, Infinity, 1e999, or an integer of more than 4,300 digits
        return {}, f"not a usable JSON number: {str(exc).split(';')[0]}"
    if not isinstance(record, dict):
        return {}, f"each line must be a JSON object, not {type(record).__name__}"
    if "\\u0000" in line:
        return {}, "holds a NUL character (\\u0000), which text never holds"
    if any(isinstance(v, (dict, list)) and _depth(v) > MAX_DEPTH for v in record.values()):
        return {}, f"JSON nested too deeply (at most {MAX_DEPTH} levels)"
    return record, None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_depth(child, level + 1) for child in children if isinstance(child, (dict, list))), default=level)


def _array_lines(text: str) -> Iterator[str]:
    try:
        items = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        yield "{" + exc.msg  # reported as invalid JSON on line 1
        return
    except (RecursionError, ValueError):
        yield "[" * (MAX_DEPTH + 2)
        return
    for item in items if isinstance(items, list) else [items]:
        yield json.dumps(item)


def first_bad_utf8(path: Path) -> int | None:
    """The byte offset of the first byte that is not valid UTF-8, or None when the file is all UTF-8."""
    offset, carry = 0, b""
    with path.open("rb") as raw:
        while True:
            chunk = raw.read(1 << 20)
            data = carry + chunk
            try:
                _, used = codecs.utf_8_decode(data, "strict", not chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            if not chunk:
                return None
            offset, carry = offset + used, data[used:]


def locate(path: Path, offset: int, is_jsonl: bool, delimiter: str | None) -> tuple[int, str]:
    """The data row (0: the header) and column holding byte `offset`, reading bytes as Latin-1 (one character
    per byte, so character counts are byte offsets)."""
    with path.open(encoding="latin-1", newline="") as text:
        if is_jsonl:
            return sum(1 for line in text.read(offset).split("\n") if line.strip()) or 1, "-"
        consumed = 0

        def lines() -> Iterator[str]:
            nonlocal consumed
            for line in text:
                consumed += len(line)
                yield line

        source = lines()
        first = next(source, "")
        delimiter = delimiter or sniff_delimiter(first)
        reader = csv.reader(itertools.chain([first], source), delimiter=delimiter)
        header: list[str] = []
        row, start = -1, 0
        try:
            for values in reader:
                if values and (len(values) > 1 or values[0].strip()):
                    row += 1
                    header = header or [v.strip() for v in values]
                if consumed > offset:
                    break
                start = consumed
        except csv.Error:
            return max(row, 0), "-"
    with path.open("rb") as raw:
        raw.seek(start)
        prefix = raw.read(offset - start).decode("latin-1")
    index = len(next(csv.reader(io.StringIO(prefix, newline=""), delimiter=delimiter), [""])) - 1
    return max(row, 0), header[index] if row > 0 and 0 <= index < len(header) else "-"


def sniff_delimiter(sample: str) -> str:
    """Guess the delimiter of a CSV sample among , ; tab and |."""
    first_line = sample.splitlines()[0] if sample else ""
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
