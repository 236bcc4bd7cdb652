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
TRUE_WORDS = frozenset({"1", "yes", "y", "true", "t", "won", "converted", "ja", "oui", "si", "sí"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "f", "lost", "not converted", "nein", "non"})
# what web forms and CRM pick-lists leave in a cell nobody filled (compared with the edges below stripped):
# "-- select --", "(none)", "N.A.", "—"
PLACEHOLDERS = frozenset({
    "", "select", "pleaseselect", "selectone", "selectanoption", "choose", "chooseone", "pleasechoose",
    "none", "na", "n/a", "n.a", "#n/a", "null", "nil", "nan", "notset", "notselected", "?",
})
_PLACEHOLDER_EDGES = " \t-\u2013\u2014_*.:[]()<>"
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


def is_placeholder(value: Any) -> bool:
    """Like is_missing, and also the filler of forms and pick-lists: "Select", "-- select --", "N/A", "—"."""
    if is_missing(value):
        return True
    if value.__class__ is not str or len(value) > 24:
        return False
    word = value.strip(_PLACEHOLDER_EDGES).lower()
    return word in PLACEHOLDERS or word.replace(" ", "") in PLACEHOLDERS


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


_CURRENCY_SYMBOLS = "$€£¥₹₩₽₺₪₫฿"
_CURRENCY_CODES = frozenset({
    "usd", "eur", "gbp", "jpy", "chf", "cad", "aud", "nzd", "sek", "nok", "dkk", "pln", "czk", "huf", "inr",
    "cny", "rmb", "brl", "mxn", "zar", "sgd", "hkd", "krw", "try", "ils", "aed", "sar",
})
_MONEY = re.compile(
    rf"^(?P<sign>[+-]?)\s*(?:(?P<symbol>[A-Za-z]{{0,2}}[{_CURRENCY_SYMBOLS}])|(?P<code>[A-Za-z]{{3}})(?=[\s\d+-]))?"
    rf"\s*(?P<number>[+-]?\d[\d\s.,'’\u00a0\u202f]*?)\s*"
    rf"(?:(?P<after>[{_CURRENCY_SYMBOLS}])|(?P<after_code>[A-Za-z]{{3}}))?$"
)
_THOUSANDS_ONLY = re.compile(r"^[+-]?[1-9]\d{0,2}(?:([.,])\d{3})(?:\1\d{3})*$")


def quantity(value: Any, *, money: bool = False) -> float:
    """A number as people write it in an export: 1,234.50 (see number), $12,000, €1.234,50, 12 000 USD,
    and 40% (0.4). A sum marked with a currency, or any cell when `money` is set, reads 12,000 and 12.000 as
    twelve thousand (money has at most two decimals), where `number` refuses them as ambiguous."""
    if money and value.__class__ is str and _THOUSANDS_ONLY.match(value.strip()):
        return number(value.strip().replace(",", "").replace(".", ""))
    try:
        return number(value)
    except CellError:
        if value.__class__ is not str:
            raise
    raw = value.strip()
    if raw.endswith("%") and raw[:-1].strip():
        share = number(raw[:-1].strip()) / 100
        return share
    found = _MONEY.match(raw)
    if found is None:
        raise CellError(f"not a number: {value!r}")
    codes = [c.lower() for c in (found["code"], found["after_code"]) if c]
    marked = bool(found["symbol"] or found["after"] or codes)
    if any(c not in _CURRENCY_CODES for c in codes) or not (marked or money):
        raise CellError(f"not a number: {value!r}")
    digits = found["number"].strip()
    if _THOUSANDS_ONLY.match(digits):
        digits = digits.replace(",", "").replace(".", "")
    try:
        result = number(digits)
    except CellError:
        raise CellError(f"not a number: {value!r}") from None
    return -result if found["sign"] == "-" else result


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


def word_key(value: Any) -> str:
    """A header or pick-list word compared without case, spaces or punctuation: "Closed Won" is "closedwon"."""
    return "".join(ch for ch in str(value).lower() if ch.isalnum())


# Stages of the usual CRMs and generic words, as word_key writes them. Open stages are undecided: no outcome.
WON_STAGES = frozenset({
    "won", "closedwon", "converted", "closedconverted", "win", "yes", "y", "true", "t", "1", "ja", "oui", "si", "sí",
})
LOST_STAGES = frozenset({
    "lost", "closedlost", "notconverted", "closednotconverted", "churned", "disqualified", "unqualified",
    "no", "n", "false", "f", "0", "nein", "non",
})
OPEN_STAGES = frozenset({
    "open", "new", "proposal", "negotiation", "qualified", "inprogress", "working", "contacted", "pending",
    # HubSpot deal stages and lead statuses
    "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent",
    "opendeal", "attemptedtocontact", "connected",
    # Salesforce opportunity stages and lead statuses
    "prospecting", "qualification", "needsanalysis", "valueproposition", "iddecisionmakers", "perceptionanalysis",
    "proposalpricequote", "negotiationreview", "opennotcontacted", "workingcontacted",
    # Pipedrive pipeline stages and deal statuses
    "leadin", "contactmade", "demoscheduled", "proposalmade", "negotiationsstarted",
})


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


_DAY_MONTH = re.compile(
    r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)
_NAMED_MONTH_FORMATS = ("%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y", "%d-%b-%y", "%Y/%m/%d")
DAY_FIRST, MONTH_FIRST = "%d/%m/%Y", "%m/%d/%Y"


def day_month_fields(value: Any) -> tuple[int, int] | None:
    """The first two fields of a 31/12/2025-shaped date (any of / . - between them), or None for other shapes."""
    found = _DAY_MONTH.match(str(value).strip())
    return (int(found[1]), int(found[3])) if found else None


def date_as_written(value: Any, date_format: str | None = None) -> datetime:
    """A date the way exports write it: ISO 8601 (see parse_datetime); 31 Dec 2025, Dec 31, 2025 or 2025/12/31;
    or exactly `date_format` (strptime). 31/12/2025-shaped dates (/ . or - between the fields, a two-digit year,
    an optional time and AM/PM) need `date_format`: one starting with %d reads them day-first, %m month-first."""
    if isinstance(value, datetime):
        return parse_datetime(value)
    raw = str(_single(value)).strip()
    found = _DAY_MONTH.match(raw)
    if found:
        if date_format is None:
            raise CellError(f"ambiguous date {raw!r}: day-first or month-first? say which with --date-format")
        try:
            return parse_datetime(datetime.strptime(raw, date_format))
        except ValueError:
            if not date_format.startswith(("%d", "%m")):
                raise CellError(f"not a date in the format {date_format}: {raw!r}") from None
        return _day_month(raw, found, day_first=date_format.startswith("%d"))
    try:
        return parse_datetime(raw)
    except CellError as exc:
        error = exc
    for shape in (date_format, *_NAMED_MONTH_FORMATS) if date_format else _NAMED_MONTH_FORMATS:
        try:
            return parse_datetime(datetime.strptime(raw, shape))
        except ValueError:
            continue
    if date_format:
        raise CellError(f"not a date in the format {date_format} or ISO 8601: {raw!r}")
    raise error


def _day_month(raw: str, found: re.Match[str], *, day_first: bool) -> datetime:
    first, second, year = int(found[1]), int(found[3]), int(found[4])
    day, month = (first, second) if day_first else (second, first)
    if len(found[4]) == 2:
        year += 2000 if year < 69 else 1900  # as strptime's %y
    hour, minute, seconds = int(found[5] or 0), int(found[6] or 0), int(found[7] or 0)
    if found[8]:
        if not 1 <= hour <= 12:
            raise CellError(f"not a time: {raw!r} (an hour of 1-12 before AM/PM)")
        hour = hour % 12 + (12 if found[8].lower() == "pm" else 0)
    try:
        return datetime(year, month, day, hour, minute, seconds)
    except ValueError as exc:
        raise CellError(f"not a date: {raw!r} ({exc})") from None


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
    """A lead's phone number as written in a CRM (digits with an optional +; spaces, dots, dashes and brackets
    allowed; a 'whatsapp:' prefix dropped): a national number without a country code is kept as its digits."""
    raw = str(_single(value)).strip().removeprefix("whatsapp:")
    if not _PHONE.match(raw):
        raise CellError(f"not a phone number: {value!r} (use E.164, e.g. +15550100001)")
    return "+" + re.sub(r"[^0-9]", "", raw)


def e164(value: Any) -> str:
    """A number messages are sent to (a rep's WhatsApp), in E.164 form: + or the international prefix 00, a
    country code (never 0), at most 15 digits in all; spaces, dots, dashes and brackets allowed."""
    raw = str(_single(value)).strip().removeprefix("whatsapp:")
    if not _PHONE.match(raw):
        raise CellError(f"not a phone number: {value!r} (use E.164, e.g. +15550100001)")
    digits = re.sub(r"[^0-9]", "", raw)
    if raw.startswith("00"):  # the international prefix dialled in most of the world
        digits = digits[2:]
    elif not raw.startswith("+"):
        raise CellError(f"no country code: {value!r} (WhatsApp and Twilio need E.164: +, the country code, then "
                        "the number, e.g. +15550100001)")
    if not 8 <= len(digits) <= 15 or digits[0] == "0":
        raise CellError(f"not an E.164 number: {value!r} (+, a country code, then at most 15 digits in all, "
                        "e.g. +15550100001)")
    return "+" + digits


def timezone(value: Any) -> str:
    """An IANA time zone name such as Europe/Berlin."""
    name = str(_single(value)).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CellError(f"unknown time zone: {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name
