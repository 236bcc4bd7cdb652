"""SOQL as the Salesforce fake understands it: parsed, checked against the org's schema, evaluated on its rows.

Only this subset is understood:
`SELECT fields[, (SELECT fields FROM ChildRelationship)] FROM Object [WHERE Field op value [AND …]]
[ORDER BY Field [ASC|DESC][, …]] [LIMIT n]`, op one of = != < <= > >=, a value a 'quoted string', a number, a
date (2024-01-31), a dateTime (2024-01-31T09:00:00Z), TRUE, FALSE or NULL. Anything else (OR, NOT, parentheses in
WHERE, IN, LIKE, functions, relationship paths, OFFSET, date literals such as LAST_N_DAYS, …) is MALFORMED_QUERY:
stricter than Salesforce, so that a connector cannot come to rely on SOQL the fake does not evaluate. An unknown
object or child relationship is INVALID_TYPE, an unknown field INVALID_FIELD, a value of the wrong type (a quoted
dateTime) INVALID_QUERY_FILTER_OPERATOR. As in SOQL, null equals only null and is neither less nor more than
anything, and ORDER BY puts nulls first.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

Row = dict[str, Any]
_TOKEN = re.compile(r"\s*(?:(?P<datetime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))"
                    r"|(?P<date>\d{4}-\d\d-\d\d)|(?P<number>\d+(?:\.\d+)?)|(?P<string>'(?:[^'\\]|\\.)*')"
                    r"|(?P<name>[A-Za-z_]\w*)|(?P<symbol><=|>=|!=|[=<>(),]))")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {"=": operator.eq, "!=": operator.ne, "<": operator.lt,
                                                     "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class Refusal(Exception):
    """A request Salesforce would refuse as a whole: its errorCode, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Schema:
    """What a query may name: object -> field -> type (id, reference, string, boolean, int, double, date or
    datetime), and (object, lower-case relationship) -> (relationship, child object, the child's parent field)."""

    fields: Mapping[str, Mapping[str, str]]
    children: Mapping[tuple[str, str], tuple[str, str, str]]


@dataclass(frozen=True)
class Query:
    """A parsed SOQL query: object, fields, child subqueries (relationship -> fields), filters, order and limit."""

    object: str
    fields: list[str]
    children: dict[str, list[str]]
    where: list[tuple[str, str, Any]]  # (field, operator, value): the value's (token kind, text) until checked
    order: list[tuple[str, bool]]  # (field, descending)
    limit: int | None


def parse(soql: str, schema: Schema) -> Query:
    """The query, its names checked against `schema`, or Refusal as Salesforce would answer it."""
    tokens = _tokens(soql)
    position = 0

    def peek() -> str:
        return tokens[position][1].upper() if position < len(tokens) else ""

    def token(*kinds: str) -> str:
        """The next token, of one of `kinds` (any when none is given)."""
        nonlocal position
        kind, text = tokens[position] if position < len(tokens) else ("end", "<EOF>")
        if kind == "end" or (kinds and kind not in kinds):
            raise _malformed(soql, text)
        position += 1
        return text

    def take(*words: str) -> str:
        """The next token, which must be one of `words` (keywords, symbols)."""
        if peek() not in words:
            raise _malformed(soql, tokens[position][1] if position < len(tokens) else "<EOF>")
        return token()

    def listed(item: Callable[[], Any]) -> list[Any]:
        items = [item()]
        while peek() == ",":
            take(",")
            items.append(item())
        return items

    def field_or_child() -> str | tuple[str, list[str]]:
        if peek() != "(":
            return token("name")
        take("(")
        take("SELECT")
        fields = listed(lambda: token("name"))
        take("FROM")
        relationship = token("name")
        take(")")
        return relationship, fields

    def condition() -> tuple[str, str, tuple[str, str]]:
        field, comparison = token("name"), take(*_OPERATORS)
        kind = tokens[position][0] if position < len(tokens) else "end"
        return field, comparison, (kind, token())

    def ordering() -> tuple[str, bool]:
        field = token("name")
        return field, (take("ASC", "DESC").upper() == "DESC") if peek() in ("ASC", "DESC") else False

    take("SELECT")
    selected = listed(field_or_child)
    take("FROM")
    sobject = token("name")
    where = []
    if peek() == "WHERE":
        take("WHERE")
        where.append(condition())
        while peek() == "AND":
            take("AND")
            where.append(condition())
    order = []
    if peek() == "ORDER":
        take("ORDER")
        take("BY")
        order = listed(ordering)
    limit = None
    if peek() == "LIMIT":
        take("LIMIT")
        count = token("number")
        if not count.isdecimal():
            raise _malformed(soql, count)
        limit = int(count)
    if position < len(tokens):
        take("<end of query>")
    fields = [item for item in selected if isinstance(item, str)]
    children: dict[str, list[str]] = dict(item for item in selected if isinstance(item, tuple))
    return _checked(Query(sobject, fields, children, where, order, limit), soql, schema)


def select(query: Query, records: dict[str, dict[str, Row]]) -> list[Row]:
    """The rows of a parsed query: filtered, ordered (nulls first) and limited."""
    rows = [row for row in records[query.object].values()
            if all(_holds(row[field], comparison, value) for field, comparison, value in query.where)]
    for field, descending in reversed(query.order):  # stable sorts, last key first
        rows.sort(key=functools.partial(_sort_key, field), reverse=descending)
    return rows[:query.limit] if query.limit is not None else rows


def _malformed(soql: str, text: str) -> Refusal:
    return Refusal("MALFORMED_QUERY", f"\n{soql}\nERROR at Row:1\nunexpected token: '{text}'")


def _sort_key(field: str, row: Row) -> tuple[bool, Any]:
    return row[field] is not None, row[field] if row[field] is not None else 0


def _holds(actual: Any, comparison: str, value: Any) -> bool:
    """A filter as SOQL reads it: null equals only null and is neither less nor more than anything."""
    if actual is None or value is None:
        return (actual is value) == (comparison == "=") if comparison in ("=", "!=") else False
    return _OPERATORS[comparison](actual, value)


def _tokens(soql: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while position < len(soql.rstrip()):
        match = _TOKEN.match(soql, position)
        if match is None or match.lastgroup is None:
            raise _malformed(soql, soql[position:].split()[0])
        found.append((match.lastgroup, match[match.lastgroup]))
        position = match.end()
    if not found:
        raise Refusal("MALFORMED_QUERY", "A query string has to be specified")
    return found


def _checked(query: Query, soql: str, schema: Schema) -> Query:
    """Names made canonical and values typed, or the INVALID_TYPE / INVALID_FIELD / INVALID_QUERY_FILTER_OPERATOR
    Salesforce would answer."""
    sobject = next((name for name in schema.fields if name.lower() == query.object.lower()), None)
    if sobject is None:
        raise Refusal("INVALID_TYPE", f"\n{soql}\nsObject type '{query.object}' is not supported.")
    children: dict[str, list[str]] = {}
    for relationship, fields in query.children.items():
        if (sobject, relationship.lower()) not in schema.children:
            raise Refusal("INVALID_TYPE", f"\n{soql}\nDidn't understand relationship '{relationship}' in FROM part "
                                            "of query call.")
        name, child, _parent = schema.children[(sobject, relationship.lower())]
        children[name] = [_field(schema, child, field, soql) for field in fields]
    where = []
    for field, comparison, (kind, text) in query.where:
        name = _field(schema, sobject, field, soql)
        where.append((name, comparison, _value(schema, sobject, name, kind, text, soql)))
    order = [(_field(schema, sobject, field, soql), descending) for field, descending in query.order]
    fields = [_field(schema, sobject, field, soql) for field in query.fields]
    return Query(sobject, fields, children, where, order, query.limit)


def _field(schema: Schema, sobject: str, field: str, soql: str) -> str:
    known = schema.fields[sobject]
    name = next((name for name in known if name.lower() == field.lower()), None)
    if name is None:
        raise Refusal("INVALID_FIELD", f"\n{soql}\nNo such column '{field}' on entity '{sobject}'. If you are "
                                         "attempting to use a custom field, be sure to append the '__c' after the "
                                         "custom field name.")
    return name


def _value(schema: Schema, sobject: str, field: str, kind: str, text: str, soql: str) -> Any:
    expected = schema.fields[sobject][field]
    shown = "dateTime" if expected == "datetime" else expected
    if kind == "name" and text.upper() == "NULL":
        return None
    if expected == "datetime" and kind == "datetime":
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    if expected == "date" and kind == "date":
        return date.fromisoformat(text)
    if expected == "boolean" and kind == "name" and text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    if expected in ("int", "double") and kind == "number":
        return float(text)
    if expected in ("string", "id", "reference") and kind == "string":
        return text[1:-1].replace("\\'", "'")
    quoting = "be enclosed in quotes" if expected in ("string", "id", "reference") else "not be enclosed in quotes"
    raise Refusal("INVALID_QUERY_FILTER_OPERATOR", f"\n{soql}\nvalue of filter criterion for field '{field}' "
                                                     f"must be of type {shown} and should {quoting}")
