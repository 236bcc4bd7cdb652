"""Numbers kept next to activity and message rows so that feature queries read plain numbers from an index.

Writers that know them (the importers) fill them; SQLite triggers fill them for any other writer, with the same
values: `julian_day` follows SQLite's own julianday() exactly, and the codes use the vocabularies below.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

ACTIVITY_KINDS = (
    "page_view", "email_sent", "email_open", "email_click", "email_reply", "email_bounce", "unsubscribe",
    "form_submit", "demo_request", "webinar", "trial_event", "meeting", "call",
)
PAGE_TYPES = ("pricing", "demo", "docs", "case_study", "blog", "home", "careers")
PAGE_BITS = 4  # activity.code = kind code << PAGE_BITS | page code
_KIND_CODE = {kind: i for i, kind in enumerate(ACTIVITY_KINDS)}  # anything else: len(ACTIVITY_KINDS)
_PAGE_CODE = {"": 0, **{page: i + 1 for i, page in enumerate(PAGE_TYPES)}}  # anything else: len + 1


def activity_code(kind: str, page_type: str | None) -> int:
    """The kind's position in ACTIVITY_KINDS shifted left by PAGE_BITS, plus the page type's code."""
    page = _PAGE_CODE.get(page_type, len(PAGE_TYPES) + 1) if page_type is not None else len(PAGE_TYPES) + 1
    return (_KIND_CODE.get(kind, len(ACTIVITY_KINDS)) << PAGE_BITS) + page


def julian_day(stored: str) -> float:
    """SQLite's julianday() of a stored time `YYYY-MM-DD HH:MM:SS[.ffffff]`, computed the way SQLite does
    (whole milliseconds, rounded), so that the stored number equals what SQL would compute."""
    seconds = float(stored[17:]) if len(stored) > 17 else 0.0
    clock = int(stored[11:13]) * 3600000 + int(stored[14:16]) * 60000 + int(seconds * 1000 + 0.5)
    return (_day_ms(stored[:10]) + clock) / 86400000.0


@lru_cache(maxsize=4096)
def _day_ms(date: str) -> int:
    """Milliseconds from the julian epoch to the start of a `YYYY-MM-DD` day (imports repeat the same days)."""
    year, month, day = int(date[0:4]), int(date[5:7]), int(date[8:10])
    if month <= 2:
        year, month = year - 1, month + 12
    b = 2 - year // 100 + year // 400
    return int((36525 * (year + 4716) // 100 + 306001 * (month + 1) // 10000 + day + b - 1524.5) * 86400000)


# Words in a URL's path that name the page type, for page views sent without one ("/pricing", "/docs/api").
_PATH_WORDS = (("pricing", ("pricing", "price", "plans")), ("demo", ("demo",)),
               ("case_study", ("case-stud", "case_stud", "casestud", "customer-stor", "success-stor")),
               ("docs", ("docs", "documentation", "developer", "api-reference")), ("blog", ("blog", "article")),
               ("careers", ("careers", "jobs")))


@lru_cache(maxsize=4096)
def page_type_from_url(url: str) -> str:
    """The page type a URL's path names ("" when none does); the bare site root is the home page."""
    if not url:
        return ""
    path = (urlsplit(url).path if "//" in url else url.split("?")[0].split("#")[0]).lower()
    segments = [segment for segment in path.split("/") if segment]
    if not segments or segments in (["home"], ["index.html"]):
        return "home"
    return next((page for page, words in _PATH_WORDS if any(w in seg for seg in segments for w in words)), "")


def _detail_url(detail: Any) -> str:
    """The `url` of an activity's detail JSON, or ""."""
    if not isinstance(detail, str) or '"url"' not in detail:
        return ""
    try:
        found = json.loads(detail).get("url")
    except (ValueError, AttributeError):
        return ""
    return found if isinstance(found, str) else ""


def activity_numbers(values: dict[str, Any]) -> None:
    """Fill `day` and `code` of an activity row from its occurred_at, kind and page_type (for a page view sent
    without one, the type its detail's URL names: the stored page_type stays as given, so re-imports match)."""
    values["day"] = julian_day(values["occurred_at"])
    page = values.get("page_type")
    if not page and values["kind"] == "page_view":
        page = page_type_from_url(_detail_url(values.get("detail")))
    values["code"] = activity_code(values["kind"], page)


def message_numbers(values: dict[str, Any]) -> None:
    """Fill `day`, `inbound` and `question` of a message row (a missing direction means inbound)."""
    values["day"] = julian_day(values["occurred_at"])
    values["inbound"] = int(values.get("direction") in (None, "inbound"))
    values["question"] = int("?" in values["text"])


def _case(column: str, codes: dict[str, int], other: int) -> str:
    whens = " ".join(f"WHEN '{value}' THEN {code}" for value, code in codes.items())
    return f"CASE {column} {whens} ELSE {other} END"


JULIAN_EPOCH_MS = 210_866_760_000_000  # 1970-01-01 00:00 UTC in milliseconds from the julian epoch


def julian_sql(column: str) -> str:
    """PostgreSQL's expression for SQLite's julianday() of a timestamp column, exactly: whole milliseconds
    (rounded) from the julian epoch, divided as SQLite divides them."""
    return f"((round(EXTRACT(EPOCH FROM {column}) * 1000) + {JULIAN_EPOCH_MS})::float8 / 86400000.0)"


def _numbers(table: str, new: str, *, postgres: bool) -> tuple[list[tuple[str, str]], str, str]:
    """(column, expression) pairs that compute a row's numbers, the condition "a number is missing", and the
    columns they come from."""
    day = julian_sql(f"{new}.occurred_at") if postgres else f"julianday({new}.occurred_at)"
    if table == "activity":
        code = (f"({_case(f'{new}.kind', _KIND_CODE, len(ACTIVITY_KINDS))}) * {1 << PAGE_BITS} + "
                f"({_case(f'{new}.page_type', _PAGE_CODE, len(PAGE_TYPES) + 1)})")
        return ([("day", day), ("code", code)], f"{new}.day IS NULL OR {new}.code IS NULL",
                "occurred_at, kind, page_type")
    inbound, question = f"({new}.direction = 'inbound')", (f"(strpos({new}.text, '?') > 0)" if postgres
                                                            else f"(instr({new}.text, '?') > 0)")
    if postgres:
        inbound, question = f"{inbound}::int", f"{question}::int"
    return ([("day", day), ("inbound", inbound), ("question", question)],
            f"{new}.day IS NULL OR {new}.inbound IS NULL OR {new}.question IS NULL", "occurred_at, direction, text")


def triggers(table: str, dialect: str = "sqlite") -> list[str]:
    """Triggers that fill the numbers of rows written without them, and keep them right on updates: SQLite's,
    or PostgreSQL's (one BEFORE trigger and its function)."""
    if dialect == "postgresql":
        numbers, missing, sources = _numbers(table, "NEW", postgres=True)
        assign = " ".join(f"NEW.{column} := {expression};" for column, expression in numbers)
        return [
            f"CREATE OR REPLACE FUNCTION {table}_numbers() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'UPDATE' OR {missing} THEN {assign} END IF; RETURN NEW; END $$",
            f"CREATE TRIGGER {table}_numbers BEFORE INSERT OR UPDATE OF {sources} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_numbers()",
        ]
    numbers, missing, sources = _numbers(table, "NEW", postgres=False)
    fill = f"BEGIN UPDATE {table} SET {', '.join(f'{c} = {e}' for c, e in numbers)} WHERE id = NEW.id; END"
    return [
        f"CREATE TRIGGER {table}_numbers AFTER INSERT ON {table} WHEN {missing} {fill}",
        f"CREATE TRIGGER {table}_numbers_kept AFTER UPDATE OF {sources} ON {table} {fill}",
    ]
