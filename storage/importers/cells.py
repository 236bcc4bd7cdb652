"""Cell parsers: turn one text cell into a database-ready value or raise CellError saying why."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
_MISSING_AS_WRITTEN = MISSING | {m.upper() for m in MISSING} | {m.title() for m in MISSING} | {"NaN"}
TRUE_WORDS = frozenset({"1", "yes", "y", "true", "t", "won", "converted"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "f", "lost", "not converted"})
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{5,}$")


class CellError(ValueError):
    """One cell could not be read; the message says what is wrong with it."""


def is_missing(value: Any) -> bool:
    """True for empty cells and the usual spellings of 'no value'."""
    if value is None:
        return True
    if value.__class__ is not str:
        return False
    if value in _MISSING_AS_WRITTEN:
        return True
    # Only a cell padded with spaces needs normalising; the common case returns above or here.
    return (value[:1].isspace() or value[-1:].isspace()) and value.strip().lower() in MISSING


def is_blank(value: Any) -> bool:
    """Like is_missing, but 'nan' is a value (refused by number parsers), not an empty cell."""
    return is_missing(value) and str(value).strip().lower() != "nan"


def _single(value: Any) -> Any:
    """The value itself, unless a JSON Lines cell holds a list or an object where one value belongs."""
    if isinstance(value, (list, dict)):
        raise CellError(f"expected one value, not a JSON {'list' if isinstance(value, list) else 'object'}")
    return value


def text(value: Any) -> str:
    """A non-empty string."""
    if is_missing(value):
        raise CellError("is empty")
    if value.__class__ is not str:
        _single(value)
    return str(value).strip()


INT64 = 2**63  # SQLite stores integers in 64 bits
_INTEGER = re.compile(r"^[+-]?\d+$")
_GROUPED = {sep: re.compile(rf"^[+-]?(?:[1-9]\d{{0,2}}(?:\{sep}\d{{3}})+|0)$") for sep in ",."}
_SPACED = re.compile(r"(?<=\d)[ \u00a0\u202f'’](?=\d{3}(?!\d))")  # 1 234,50 · 1'234.50


def _decimal_text(value: Any, whole: bool) -> str:
    """A number cell in Python's float syntax, reading thousands separators and decimal commas.

    1.234,50 and 1,234.50 are 1234.5 (the last mark is the decimal one, the other groups by threes);
    1,234,567 and 1.234.567 group thousands; one dot is a decimal point (1.234 is 1.234); one comma not
    followed by exactly three digits is a decimal comma (1,5 is 1.5). One comma followed by three digits
    (1,234) could be either, so it is refused, except in whole-number columns where it can only be 1234;
    there, one dot followed by three digits (1.000: 1 or 1000?) is refused instead.
    """
    raw = str(_single(value)).strip()
    s = _SPACED.sub("", raw)
    commas, dots = s.count(","), s.count(".")
    if commas and dots:
        mark = "," if s.rfind(",") > s.rfind(".") else "."
        head, _, tail = s.rpartition(mark)
        group = "." if mark == "," else ","
        if _GROUPED[group].match(head) and tail.isdigit():
            return head.replace(group, "") + "." + tail
        raise CellError(f"not a number: {raw!r} (mixes , and . in a way no locale writes)")
    if commas > 1 or dots > 1:
        sep = "," if commas else "."
        if _GROUPED[sep].match(s):
            return s.replace(sep, "")
        raise CellError(f"not a number: {raw!r}")
    if commas:
        if not _GROUPED[","].match(s):
            return s.replace(",", ".")
        if whole:
            return s.replace(",", "")
        raise CellError(f"ambiguous number {raw!r}: 1,234 may be 1234 or 1.234; write 1234 or 1.234 (or 1,234.00)")
    if dots and whole and _GROUPED["."].match(s):
        raise CellError(f"ambiguous whole number {raw!r}: a thousands dot or a decimal point? write it without the dot")
    return s


def integer(value: Any) -> int:
    """A whole number within SQLite's 64 bits (a float with no fraction, and 1,234 or 1.234.567, are accepted)."""
    if isinstance(value, int) and not isinstance(value, bool):
        whole = value
    else:
        cell = _decimal_text(value, whole=True)
        if _INTEGER.match(cell):
            whole = int(cell)
        else:
            number_ = _float(cell, value)
            if not number_.is_integer():
                raise CellError(f"not a whole number: {value!r}")
            whole = int(number_)
    if not -INT64 <= whole < INT64:
        raise CellError(f"too large: {value!r} (at most {INT64 - 1:,})")
    return whole


def number(value: Any) -> float:
    """Any finite real number (see _decimal_text for the thousands separators and decimal commas read)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
        if not math.isfinite(result):
            raise CellError(f"not a finite number: {value!r}")
        return result
    if value.__class__ is str:
        try:
            result = float(value)  # the common case: 1234.5
        except ValueError:
            pass
        else:
            if math.isfinite(result):
                return result
            raise CellError(f"not a finite number: {value!r} (inf and nan are refused)")
    return _float(_decimal_text(value, whole=False), value)


def _float(cell: str, value: Any) -> float:
    try:
        result = float(cell)
    except (ValueError, OverflowError):
        raise CellError(f"not a number: {value!r}") from None
    if not math.isfinite(result):
        raise CellError(f"not a finite number: {value!r} (inf and nan are refused)")
    return result


def count(value: Any) -> int:
    """A whole number of things (a head count): 0 or more."""
    result = integer(value)
    if result < 0:
        raise CellError(f"is negative: {value!r} (a count is 0 or more)")
    return result


def amount(value: Any) -> float:
    """A sum of money such as a deal value: 0 or more."""
    result = number(value)
    if result < 0:
        raise CellError(f"is negative: {value!r} (a deal value is 0 or more)")
    return result


def boolean(value: Any) -> int:
    """yes/no, true/false, 1/0, won/lost as 1 or 0."""
    if isinstance(value, bool):
        return int(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return 1
    if word in FALSE_WORDS:
        return 0
    raise CellError(f"not yes/no: {value!r} (use yes/no, true/false, 1/0 or won/lost)")


def parse_datetime(value: Any) -> datetime:
    """An ISO 8601 date or date-time; offsets are converted to UTC and dropped."""
    if isinstance(value, datetime):
        moment = value
    else:
        raw = str(_single(value)).strip()
        try:
            moment = datetime.fromisoformat(raw[:-1] if raw.endswith(("Z", "z")) else raw)
        except ValueError:
            raise CellError(
                f"not a date: {raw!r} (use ISO 8601, e.g. 2026-11-02 or 2026-11-02T14:30:00Z)"
            ) from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise CellError(f"out of range: {str(value).strip()!r} is before year 1 or after 9999 in UTC") from None
    return moment


def sql_datetime(moment: datetime) -> str:
    """The exact text SQLAlchemy stores for a DateTime on SQLite, so keys compare equal."""
    text_ = str(moment)
    return text_ if moment.microsecond else text_ + ".000000"


def timestamp(value: Any) -> str:
    """A date-time cell as database text."""
    if value.__class__ is str:
        fast = _plain_utc_timestamp(value)
        if fast is not None:
            return fast
    return sql_datetime(parse_datetime(value))


def _plain_utc_timestamp(value: str) -> str | None:
    """The common export shapes (2026-11-02, 2026-11-02T14:30:00[Z]) formatted by slicing, after
    fromisoformat has validated them; anything else (or anything invalid) returns None."""
    size = len(value)
    if size < 10 or value[4] != "-" or value[7] != "-":
        return None
    if size == 10:
        core, clock = value, "00:00:00"
    elif (
        (size == 19 or (size == 20 and value[19] in "Zz"))
        and value[10] in "Tt "
        and value[13] == ":"
        and value[16] == ":"
    ):
        core, clock = value[:19], value[11:19]
    else:
        return None
    try:
        datetime.fromisoformat(core)
    except ValueError:
        return None
    return f"{value[:10]} {clock}.000000"


def choice(options: Iterable[str]) -> Any:
    """A parser accepting one of `options` (case-insensitive)."""
    allowed = tuple(options)

    exact = frozenset(allowed)

    def parse(value: Any) -> str:
        if value.__class__ is str and value in exact:
            return str(value)
        word = str(_single(value)).strip().lower()
        if word not in allowed:
            raise CellError(f"{value!r} is not one of {', '.join(allowed)}")
        return word

    return parse


def phone(value: Any) -> str:
    """A phone or WhatsApp number in E.164 form (+15550100001); a 'whatsapp:' prefix is dropped."""
    raw = str(_single(value)).strip().removeprefix("whatsapp:")
    if not _PHONE.match(raw):
        raise CellError(f"not a phone number: {value!r} (use E.164, e.g. +15550100001)")
    digits = re.sub(r"[^0-9]", "", raw)
    return "+" + digits


def timezone(value: Any) -> str:
    """An IANA time zone name such as Europe/Berlin."""
    name = str(_single(value)).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CellError(f"unknown time zone: {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name
