"""What a CRM v3 search body finds in the HubSpot fake's records, and in which order, as HubSpot answers it.

Filter groups are OR'ed and the filters of one group AND'ed (no groups: every record); at most 5 groups, 10 filters
in one and 25 in all (HubSpot's limits since August 2024). Operators: EQ, NEQ, LT, LTE, GT, GTE, BETWEEN (`value`
to `highValue`, both included), IN and NOT_IN (`values`), HAS_PROPERTY and NOT_HAS_PROPERTY; a record without the
property meets only NEQ, NOT_IN and NOT_HAS_PROPERTY. Dates are compared as epoch milliseconds (given so or as ISO
8601, UTC when without an offset), numbers as numbers, other properties as text. Sorts are by property, ASCENDING
or DESCENDING (records without it last, first when descending), ties in id order. A page holds 1 to 200 results
from an offset `after`, never past the 10,000th. Refused 400 VALIDATION_ERROR: too many groups or filters, any
other operator (CONTAINS_TOKEN, NOT_CONTAINS_TOKEN: the fake does not serve them), a value a date or number
property cannot take, a limit or `after` that is not a whole number, a limit outside 1-200 and a page past the
10,000th result.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Params = dict[str, Any]
SEARCH_CAP = 10_000  # results one search can page through
SEARCH_PAGE = 200  # most results a search page holds
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ENGAGEMENTS = ("emails", "meetings", "calls", "notes")
DATES = {"createdate", "lastmodifieddate", "hs_createdate", "hs_lastmodifieddate", "closedate", "hs_timestamp"}
NUMBERS = {"hs_object_id", "amount", "numberofemployees"}
BISECT = {"GT", "GTE", "EQ", "LT", "LTE"}  # filters a search sorted on their property answers by bisection
COMPARE: dict[str, Callable[[Any, Any], bool]] = {"EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b,
                                                  "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b,
                                                  "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b}


class Refusal(Exception):
    """An error answer, as HubSpot writes it."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.category, self.extra = status, category, extra


@dataclass
class Stored:
    """One CRM record: its properties as HubSpot writes them, its times, and the contacts it is associated with."""

    id: str
    kind: str
    properties: dict[str, str | None]
    created: datetime
    modified: datetime
    contacts: list[str] = field(default_factory=list)
    times: dict[str, int] = field(default_factory=dict)  # the time properties, in epoch milliseconds

    def __post_init__(self) -> None:
        self.touch(self.modified)

    def touch(self, at: datetime) -> None:
        """Modify the record at `at`."""
        self.modified = at
        self.times = {created_property(self.kind): _milliseconds(self.created),
                      modified_property(self.kind): _milliseconds(at)}


def whole(value: Any, name: str) -> int:
    """A `limit` or `after` as a number (400 when it is not a whole number)."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdecimal()):
        return int(value)
    raise Refusal(400, f"{name} must be a whole number, not {value!r}", "VALIDATION_ERROR")


def limit_and_offset(params: Params) -> tuple[int, int]:
    """A search's limit and offset (400 outside 1 to 200 results a page, or past the 10,000th result)."""
    limit, offset = whole(params.get("limit", 10), "limit"), whole(params.get("after") or 0, "after")
    if not 1 <= limit <= SEARCH_PAGE:
        raise Refusal(400, f"limit must be between 1 and {SEARCH_PAGE}, not {limit}", "VALIDATION_ERROR")
    if offset + limit > SEARCH_CAP:
        raise Refusal(400, f"There was a problem with the request: a search pages through at most {SEARCH_CAP} "
                      f"results (after {offset} + limit {limit})", "VALIDATION_ERROR")
    return limit, offset


def predicate(groups: list[Params]) -> Callable[[Stored], bool]:
    """Whether a record meets every filter of one group (no groups: every record). HubSpot's limits since August
    2024: 5 filter groups, 10 filters in one, 25 in all."""
    counts = [len(group.get("filters") or []) for group in groups]
    if len(groups) > 5 or any(count > 10 for count in counts) or sum(counts) > 25:
        raise Refusal(400, "Too many filters: at most 5 filterGroups, 10 filters in a group and 25 in all",
                      "VALIDATION_ERROR")
    compiled = [[_rule(rule) for rule in group.get("filters") or []] for group in groups]

    def meets(record: Stored) -> bool:
        for group in compiled:
            if all(rule(record) for rule in group):
                return True
        return not compiled

    return meets


def in_sort_order(found: list[Stored], sorts: list[Params]) -> list[Stored]:
    """`found` (in id order) sorted as `sorts` say, in place: ties keep the id order."""
    for sort in reversed(sorts):
        name = sort["propertyName"]
        found.sort(key=lambda record: sort_key(record, name), reverse=sort.get("direction") == "DESCENDING")
    return found


def within(records: list[Stored], keys: list[tuple[bool, Any]], name: str, filters: Iterable[Params]) -> list[Stored]:
    """The records meeting every filter of one group, of `records` sorted on `name` (`keys` their sort keys): bounds
    on `name` found by bisection, the other filters applied to what lies between."""
    low, high, others = 0, len(records), []
    for rule in filters:
        if rule["propertyName"] != name or rule.get("operator") not in BISECT:
            others.append(rule)
            continue
        bound = (False, _comparable(name, rule.get("value")))
        high = min(high, bisect.bisect_left(keys, (True,)))  # a record without the property meets no bound
        if rule["operator"] in ("GT", "GTE", "EQ"):
            low = max(low, (bisect.bisect_right if rule["operator"] == "GT" else bisect.bisect_left)(keys, bound))
        if rule["operator"] in ("LT", "LTE", "EQ"):
            high = min(high, (bisect.bisect_left if rule["operator"] == "LT" else bisect.bisect_right)(keys, bound))
    meets = predicate([{"filters": others}] if others else [])
    return [record for record in records[low:high] if meets(record)]


def _rule(rule: Params) -> Callable[[Stored], bool]:
    name, operator = rule["propertyName"], rule.get("operator")
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return lambda record: (_key(record, name) is not None) == (operator == "HAS_PROPERTY")
    if operator in ("IN", "NOT_IN"):
        values = {_comparable(name, value) for value in rule.get("values") or []}
        return lambda record: (_key(record, name) in values) == (operator == "IN")
    if operator == "BETWEEN":
        low, high = _comparable(name, rule["value"]), _comparable(name, rule["highValue"])
        return lambda record: (key := _key(record, name)) is not None and low <= key <= high
    if operator not in COMPARE:
        raise Refusal(400, f"FakeHubSpot does not serve the operator {operator!r}", "VALIDATION_ERROR")
    compare, operand = COMPARE[operator], _comparable(name, rule.get("value"))
    return lambda record: (operator == "NEQ") if (key := _key(record, name)) is None else compare(key, operand)


def _comparable(name: str, value: Any) -> Any:
    """Dates as epoch milliseconds (HubSpot takes them so, or as ISO 8601), numbers as numbers, text as is."""
    text = str(value)
    try:
        if name in DATES and not text.lstrip("-").isdecimal():
            moment = datetime.fromisoformat(text)
            return _milliseconds(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        return float(text) if name in DATES or name in NUMBERS else text
    except ValueError:
        raise Refusal(400, f"{text!r} is not a valid value for {name}", "VALIDATION_ERROR") from None


def _key(record: Stored, name: str) -> Any:
    """A property as filters and sorts compare it (None: not set)."""
    if name in record.times:
        return record.times[name]
    value = property_value(record, name)
    return None if value is None else _comparable(name, value)


def sort_key(record: Stored, name: str) -> tuple[bool, Any]:
    """A record's place in a search sorted ascending on `name` (those without the property last)."""
    key = _key(record, name)
    return key is None, 0 if key is None else key


def property_value(record: Stored, name: str) -> str | None:
    """A property as HubSpot writes it; the id and the record's times are properties too."""
    if name == "hs_object_id":
        return record.id
    if name in (created_property(record.kind), modified_property(record.kind)):
        return instant(record.created if name == created_property(record.kind) else record.modified)
    return record.properties.get(name)


def created_property(kind: str) -> str:
    """The property holding a record's creation time (engagements name theirs differently)."""
    return "hs_createdate" if kind in ENGAGEMENTS else "createdate"


def modified_property(kind: str) -> str:
    """The property holding a record's last-modified time (contacts name theirs differently)."""
    return "lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"


def _milliseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def instant(moment: datetime) -> str:
    """A time as HubSpot writes it (Java's Instant: milliseconds only when there are some)."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")
