"""Cell parsers: turn one text cell into a database-ready value or raise CellError saying why."""

from __future__ import annotations

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


def text(value: Any) -> str:
    """A non-empty string."""
    if is_missing(value):
        raise CellError("is empty")
    return str(value).strip()


def integer(value: Any) -> int:
    """A whole number (a float with no fraction is accepted)."""
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        raise CellError(f"not a number: {value!r}") from None
    if not number.is_integer():
        raise CellError(f"not a whole number: {value!r}")
    return int(number)


def number(value: Any) -> float:
    """Any real number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        raise CellError(f"not a number: {value!r}") from None


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
        raw = str(value).strip()
        try:
            moment = datetime.fromisoformat(raw[:-1] if raw.endswith(("Z", "z")) else raw)
        except ValueError:
            raise CellError(
                f"not a date: {raw!r} (use ISO 8601, e.g. 2026-11-02 or 2026-11-02T14:30:00Z)"
            ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
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
        if value in exact:
            return str(value)
        word = str(value).strip().lower()
        if word not in allowed:
            raise CellError(f"{value!r} is not one of {', '.join(allowed)}")
        return word

    return parse


def phone(value: Any) -> str:
    """A phone or WhatsApp number in E.164 form (+15550100001); a 'whatsapp:' prefix is dropped."""
    raw = str(value).strip().removeprefix("whatsapp:")
    if not _PHONE.match(raw):
        raise CellError(f"not a phone number: {value!r} (use E.164, e.g. +15550100001)")
    digits = re.sub(r"[^0-9]", "", raw)
    return "+" + digits


def timezone(value: Any) -> str:
    """An IANA time zone name such as Europe/Berlin."""
    name = str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CellError(f"unknown time zone: {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name
