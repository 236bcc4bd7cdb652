"""Parse plain-text, WebVTT and JSON transcripts into speaker lines, recording problems as row errors."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from storage.errors import RowError
from storage.importers import cells

_META_KEYS = {"lead": "lead", "date": "date", "started_at": "date", "channel": "channel"}
_BRACKETED = re.compile(r"^\[(\d[^\]]*)\]\s*(.*)$")  # "[laughs] yes" is text, not a time
_BARE_STAMP = re.compile(r"^(\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?|\d{4}-\d{2}-\d{2}[T ]\S+)\s+(.*)$")
_SPEAKER = re.compile(r"^([^\W\d_][\w.'’ -]{0,59}?)\s*:(?:\s+(.*))?$")
_OFFSET = re.compile(r"^(?:(\d+):)?(\d+):(\d{2})(?:[.,](\d+))?$")
_VOICE = re.compile(r"^<v(?:\.[\w.-]+)?\s+([^>]+)>(.*)$")
_TAG = re.compile(r"<[^>]*>")

_MAX_OFFSET = 10 * 365 * 86400  # seconds: an offset into a call longer than ten years is a mistake
When = datetime | timedelta | None
"""An absolute time, an offset from the call start, or None: as the line before."""


@dataclass
class Line:
    """One speaker's turn in a transcript."""

    row: int  # where errors point: the file line (text, WebVTT) or the entry number in "lines" (JSON)
    speaker: str
    text: str
    when: When


@dataclass
class Transcript:
    """One transcript's metadata and lines, and the import's shared list of errors."""

    file: str
    name: str  # the file's path under the imported folder, [#index] in a JSON list
    errors: list[RowError]  # shared by every transcript of one import
    label: str = ""  # "transcript 2: " in a JSON list, so errors say which one
    digest: str = ""  # of the file's bytes: source_ref is transcript:NAME@DIGEST:LINE (older versions: no @DIGEST)
    meta: dict[str, tuple[int, str]] = field(default_factory=dict)  # lead, date, channel -> (row, value)
    lines: list[Line] = field(default_factory=list)

    def fail(self, row: int, column: str, problem: str) -> None:
        """Record a problem at a row and column of this transcript's file."""
        self.errors.append(RowError(self.file, row, column, self.label + problem))


def parse_text(lines: list[str], t: Transcript) -> None:
    """Add the lines of a plain-text transcript (`[time] Speaker: text`, `# key: value` headers) to t."""
    current: Line | None = None
    orphan = 0  # the first line of text before any speaker
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#") and current is None:
            _meta(t, number, line.lstrip("#"))
            continue
        stamp, spoken = _split(line)
        if spoken is not None:
            current = Line(number, spoken[0], spoken[1], _when(t, stamp, number) if stamp else None)
            t.lines.append(current)
        elif stamp is not None:
            t.fail(number, "speaker", "a timestamped line needs `Speaker: text` after the time")
        elif current is not None:
            current.text = f"{current.text} {line}".strip()
        else:
            orphan = orphan or number
    if orphan and t.lines:  # a file with no speaker at all gets one error, from _rows
        t.fail(orphan, "speaker", "text before the first `Speaker: text` line")


def parse_vtt(lines: list[str], t: Transcript) -> None:
    """Add the cues of a WebVTT transcript (`<v Speaker>` or `Speaker:` text) to t."""
    first = 1
    while first < len(lines) and lines[first].strip():  # the header block right after WEBVTT
        _meta(t, first + 1, lines[first].strip().lstrip("#"))
        first += 1
    current: Line | None = None
    cue: When = None
    orphan = 0
    state = "between"  # between blocks, in a cue's text, or skipping a NOTE, STYLE or REGION block
    for number, raw in enumerate(lines[first:], start=first + 1):
        line = raw.strip()
        if not line:
            state = "between"
        elif state == "between" and "-->" in line:
            state, cue = "cue", _when(t, line.split("-->")[0].strip(), number)
        elif state == "between" and line.split()[0] in ("NOTE", "STYLE", "REGION"):
            state = "skip"
        elif state == "cue":
            voice = _VOICE.match(line)
            spoken = (" ".join(voice[1].split()), _plain(voice[2])) if voice else _speaker(_plain(line))
            if spoken is not None:
                current = Line(number, spoken[0], spoken[1], cue)
                t.lines.append(current)
            elif current is not None:
                current.text = f"{current.text} {_plain(line)}".strip()
            else:
                orphan = orphan or number
    if orphan and t.lines:
        t.fail(orphan, "speaker", "cue text before the first `<v Speaker>` or `Speaker:`")


def parse_json(content: str, file: Transcript) -> list[Transcript]:
    """The transcripts of a JSON object with a "lines" list, or of a list of such objects."""
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        file.fail(exc.lineno, "json", f"not valid JSON: {exc.msg} (column {exc.colno})")
        return []
    except RecursionError:
        file.fail(1, "json", "JSON nested too deeply")
        return []
    except ValueError as exc:  # an integer of more than 4,300 digits
        file.fail(1, "json", f"not a usable JSON number: {str(exc).split(';')[0]}")
        return []
    many = isinstance(data, list)
    transcripts = []
    for index, obj in enumerate(data if many else [data], start=1):
        name, label = (f"{file.name}#{index}", f"transcript {index}: ") if many else (file.name, "")
        t = Transcript(file.file, name, file.errors, label, digest=file.digest)
        if not isinstance(obj, dict) or not isinstance(obj.get("lines"), list):
            t.fail(0, "json", 'expected an object with a "lines" list')
            continue
        for key in ("lead", "started_at", "channel"):
            if obj.get(key) is not None:
                t.meta[_META_KEYS[key]] = (0, str(obj[key]).strip())
        for number, entry in enumerate(obj["lines"], start=1):
            _json_line(t, number, entry if isinstance(entry, dict) else {})
        transcripts.append(t)
    return transcripts


def _json_line(t: Transcript, number: int, entry: dict[str, Any]) -> None:
    speaker, text, at, offset = entry.get("speaker"), entry.get("text"), entry.get("at"), entry.get("offset")
    if not isinstance(speaker, str) or not speaker.strip() or not isinstance(text, str):
        t.fail(number, "speaker", 'each line needs "speaker" and "text" strings')
        return
    when: When = None
    if at is not None:
        when = _when(t, str(at), number)
    elif isinstance(offset, (int, float)) and not isinstance(offset, bool) and 0 <= offset < _MAX_OFFSET:
        when = timedelta(seconds=offset)
    elif offset is not None:
        t.fail(number, "timestamp", f'"offset" must be a number of seconds, not {offset!r}')
    if text.strip():
        t.lines.append(Line(number, " ".join(speaker.split()), text.strip(), when))


def _meta(t: Transcript, number: int, text: str) -> None:
    key, colon, value = text.partition(":")
    if colon and key.strip().lower() in _META_KEYS and value.strip():
        t.meta[_META_KEYS[key.strip().lower()]] = (number, value.strip())


def _split(line: str) -> tuple[str | None, tuple[str, str] | None]:
    """The line's timestamp (if any) and its speaker and text (None when it has no `Speaker:`)."""
    bracketed = _BRACKETED.match(line)
    if bracketed:
        return bracketed[1].strip(), _speaker(bracketed[2])
    bare = _BARE_STAMP.match(line)
    spoken = _speaker(bare[2]) if bare else None
    if bare and spoken:  # otherwise "10:30 works for me" continues the line before
        return bare[1], spoken
    return None, _speaker(line)


def _speaker(text: str) -> tuple[str, str] | None:
    found = _SPEAKER.match(text)
    if found is None or len(found[1].split()) > 4:  # "What we need is: …" is text, not a speaker
        return None
    return " ".join(found[1].split()), (found[2] or "").strip()


def _when(t: Transcript, raw: str, row: int) -> When:
    offset = _OFFSET.match(raw)
    if offset:
        hours, minutes, seconds, fraction = offset.groups()
        if int(seconds) < 60 and (not hours or int(minutes) < 60) and len(raw) < 16:  # minutes may pass 59
            return timedelta(hours=int(hours or 0), minutes=int(minutes), seconds=int(seconds),
                             microseconds=round(float(f"0.{fraction or 0}") * 1_000_000))
    elif re.match(r"\d{4}-\d{2}-\d{2}", raw):
        return absolute(t, row, raw)
    t.fail(row, "timestamp", f"not a time: {raw!r} (use an offset such as 00:01:23 or 12:03, or ISO 8601)")
    return None


def absolute(t: Transcript, row: int, raw: str) -> datetime | None:
    """The date and time raw stands for, or None with the problem recorded on t."""
    try:
        return cells.parse_datetime(raw)
    except cells.CellError as exc:
        t.fail(row, "timestamp", str(exc))
        return None


def _plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text)).strip()
