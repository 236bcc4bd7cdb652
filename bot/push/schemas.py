"""The bodies `POST /api/events` and `/api/messages` accept, as pydantic models: the fields and cell rules of the
store (storage/live.py, which reads items with the importers' column parsers), checked before the database is
touched, so that a body of any shape is a 422 naming its field, and a checked body can wait in the spool.

Every field takes what the store reads: a JSON string, number or boolean (read as its text), or a missing value
(absent, null, "", "n/a"…). Lists and objects where a value is expected, timestamps that overflow when converted
to UTC, text that is not Unicode and `detail` too deep to store are refused here; the store would fail on them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from storage.db import json_dumps
from storage.derived import ACTIVITY_KINDS
from storage.importers import cells
from storage.importers.tables import CHANNELS, DIRECTIONS
from storage.live import FieldError

BODY_SHAPE = "expected an object or a non-empty list of objects"


def _problem(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{problem}", {"problem": message})


def _scalar(value: Any) -> None:
    if isinstance(value, dict | list):
        raise _problem("scalar", f"expected a string, number or boolean, not a JSON {_json_type(value)}")
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise _problem("unicode", "is not valid Unicode (a lone surrogate escape)") from None


def _json_type(value: Any) -> str:
    return "object" if isinstance(value, dict) else "list"


def _cell(parse: Callable[[Any], Any], required: bool, value: Any) -> Any:
    """Check one field with `parse` (one of the store's cell parsers); the value is kept as posted, since the
    store parses it again in the same way."""
    if cells.is_missing(value):
        if required:
            raise _problem("required", "is required")
        return value
    _scalar(value)
    try:
        parse(value)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00, before year 1 in UTC
        raise _problem("cell", f"out of range: {value!r}") from None
    except cells.CellError as exc:
        raise _problem("cell", str(exc)) from None
    return value


def _detail(value: Any) -> Any:
    if value is None:
        return value
    if not isinstance(value, dict):
        raise _problem("object", "expected a JSON object")
    try:
        json_dumps(value)
    except (RecursionError, ValueError):
        raise _problem("depth", "is nested too deeply to store") from None
    return value


def _as_text(value: Any) -> str:
    return str(value)


class _Item(BaseModel):
    """A posted item: each field checked by its cell parser (`CELLS`: parser, required); `detail` an object."""

    model_config = ConfigDict(extra="ignore", validate_default=True)  # the store ignores other fields
    CELLS: ClassVar[dict[str, tuple[Callable[[Any], Any], bool]]] = {}
    detail: Any = None

    @field_validator("*", mode="before")
    @classmethod
    def _check(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == "detail":
            return _detail(value)
        parse, required = cls.CELLS[str(info.field_name)]
        return _cell(parse, required, value)


class EventItem(_Item):
    """One activity (`/api/events`); other facts about it (url, campaign…) go in `detail`."""

    CELLS = {"lead": (_as_text, True), "kind": (cells.choice(ACTIVITY_KINDS), True),
             "occurred_at": (cells.timestamp, True), "page_type": (_as_text, False)}
    lead: Any = None
    kind: Any = None
    occurred_at: Any = None
    page_type: Any = None

    @model_validator(mode="after")
    def _page_type_in_detail(self) -> EventItem:
        """Without a page_type of its own, the store reads the one in `detail`."""
        found = (self.detail or {}).get("page_type")
        if cells.is_missing(self.page_type) and not cells.is_missing(found):
            try:
                _scalar(found)
            except PydanticCustomError as exc:
                raise ValueError(f"detail.page_type: {exc.message()}") from None
        return self


class MessageItem(_Item):
    """One line of conversation (`/api/messages`); `detail` is not stored, but must be an object."""

    CELLS = {"lead": (_as_text, True), "channel": (cells.choice(CHANNELS), True),
             "direction": (cells.choice(DIRECTIONS), False), "speaker": (cells.text, False),
             "text": (cells.text, True), "occurred_at": (cells.timestamp, True),
             "source_ref": (cells.text, False)}
    lead: Any = None
    channel: Any = None
    direction: Any = None
    speaker: Any = None
    text: Any = None
    occurred_at: Any = None
    source_ref: Any = None


MODELS: dict[str, type[_Item]] = {"events": EventItem, "messages": MessageItem}


def checked(kind: str, body: Any) -> list[dict[str, Any]]:
    """The items of a posted body (one object or a non-empty list), each checked by its model; FieldError
    naming the first wrong field (`occurred_at`, or `[2].occurred_at` in a list) otherwise."""
    items = body if isinstance(body, list) else [body]
    if not items or not (isinstance(body, list | dict)):
        raise FieldError("body", BODY_SHAPE)
    model = MODELS[kind]
    for i, item in enumerate(items):
        where = f"[{i}]" if isinstance(body, list) else ""
        if not isinstance(item, dict):
            raise FieldError(where or "body", "expected a JSON object")
        try:
            model.model_validate(item)
        except ValidationError as exc:
            raise _field_error(where, exc) from None
    return items


def _field_error(where: str, exc: ValidationError) -> FieldError:
    first = exc.errors(include_url=False)[0]
    message = str(first["msg"])
    if first["loc"]:
        name = ".".join(str(part) for part in first["loc"])
    else:  # a model-level check names its field in its message
        name, _, message = message.removeprefix("Value error, ").partition(": ")
    return FieldError(f"{where}.{name}" if where else name, message)


def parse_json(raw: bytes) -> Any:
    """A request body as JSON; FieldError("body") for bytes that are not JSON, numbers longer than Python reads
    (4,300 digits) and nesting deeper than its recursion limit."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise FieldError("body", "the body is not JSON") from None
