"""Import call and chat transcripts (plain text, WebVTT, JSON) as message rows, atomically and idempotently."""

from __future__ import annotations

import codecs
import hashlib
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from storage.db import mark
from storage.derived import message_numbers
from storage.errors import ImportFileError, RowError
from storage.history import stamp
from storage.importers import cells
from storage.importers.runner import ImportResult, Progress
from storage.importers.tables import CHANNELS
from storage.importers.transcript_formats import Transcript, absolute, parse_json, parse_text, parse_vtt
from storage.importers.writer import Counts, UpsertWriter

SUFFIXES = frozenset({".txt", ".vtt", ".json"})
COLUMNS = ("source_ref", "lead_id", "channel", "direction", "speaker", "text", "occurred_at", "day", "inbound",
           "question")
MAX_ERRORS = ImportFileError.MAX_SHOWN
_BAD_CHANNEL = "{!r} is not one of " + ", ".join(CHANNELS)
_UNKNOWN_LEAD = "unknown lead {!r} (import it with `hotlead import leads` first)"


class _People:
    """Reps and leads, looked up within the import's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        rows = conn.exec_driver_sql("SELECT name FROM rep").scalars()
        names = [" ".join(str(name).split()).casefold() for name in rows]
        firsts = Counter(name.split()[0] for name in names if name)
        self.reps = set(names) | {first for first, count in firsts.items() if count == 1}

    def is_rep(self, speaker: str) -> bool:
        return " ".join(speaker.split()).casefold() in self.reps

    def lead(self, external_id: str) -> int | None:
        return self.conn.execute(text("SELECT id FROM lead WHERE external_id = :key"), {"key": external_id}).scalar()

    def leads_named(self, name: str) -> list[int]:
        # SQLite's lower() folds ASCII letters only: there, names differing in the case of other letters do not
        # match (PostgreSQL folds every letter).
        return list(self.conn.execute(text("SELECT id FROM lead WHERE lower(name) = lower(:name) ORDER BY id"),
                                      {"name": name}).scalars())


def import_transcripts(
    engine: Engine, path: Path, *, lead: str | None = None, at: datetime | None = None,
    channel: str = "call", progress: Progress | None = None,
) -> ImportResult:
    """Import one transcript file, or every .txt/.vtt/.json under a folder, as messages in one transaction."""
    started = time.perf_counter()
    files = _files(path)
    channel = channel.strip().lower()
    if channel not in CHANNELS:
        raise ImportFileError(str(path), [RowError(str(path), 0, "channel", _BAD_CHANNEL.format(channel))])
    known_start = cells.parse_datetime(at) if at is not None else None
    counts, errors = Counts(), list[RowError]()
    with engine.begin() as conn:
        people = _People(conn)
        lead_id = people.lead(lead.strip()) if lead else None
        if lead and lead_id is None:
            raise ImportFileError(str(path), [RowError(str(path), 0, "lead", _UNKNOWN_LEAD.format(lead.strip()))])
        writer = UpsertWriter(conn, "message", "source_ref", COLUMNS, counts, {"direction": "inbound"})
        for done, (file, name) in enumerate(files, start=1):
            start = known_start or datetime.fromtimestamp(file.stat().st_mtime, UTC).replace(tzinfo=None)
            for transcript in _read(file, name, errors):
                rows = _rows(transcript, people, lead_id, channel, start)
                if not errors:  # after the first problem nothing will be written: the rest is only checked
                    _adopt_earlier_versions(conn, transcript, rows)
                    for row in rows:
                        writer.add(row)
            if progress:
                progress(done, len(files))
            if len(errors) > MAX_ERRORS:
                break
        if errors:
            raise ImportFileError(str(path), errors[:MAX_ERRORS], len(errors) > MAX_ERRORS)
        writer.flush()
    return ImportResult(kind="transcripts", file=str(path), counts=counts, seconds=time.perf_counter() - started)


def _files(path: Path) -> list[tuple[Path, str]]:
    if path.is_dir():
        found = [(f, f.relative_to(path).as_posix()) for f in path.rglob("*") if f.suffix.lower() in SUFFIXES]
        return sorted([(f, name) for f, name in found if f.is_file()], key=lambda pair: pair[1])
    if not path.is_file():
        raise ImportFileError(str(path), [RowError(str(path), 0, "-", "no such file or folder")])
    return [(path, path.name)]


def _read(file: Path, name: str, errors: list[RowError]) -> list[Transcript]:
    """The transcripts of one file, keyed by `name` (its path under the folder imported) and its content: two
    calls both named call.txt in two folders are two transcripts, the same file imported again is the same."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        errors.append(RowError(str(file), 0, "", f"cannot be read: {exc.strerror or exc}"))
        return []
    digest = hashlib.sha256(data).hexdigest()[:12]
    transcript = Transcript(str(file), name, errors, digest=digest)
    content = _decode(data, transcript)
    if content is None:
        return []
    if file.suffix.lower() == ".json":
        return parse_json(content, transcript)
    lines = content.splitlines()
    if lines and lines[0].strip().startswith("WEBVTT"):
        parse_vtt(lines, transcript)
    else:
        parse_text(lines, transcript)
    transcript.lines = [line for line in transcript.lines if line.text]
    return [transcript]


def _decode(data: bytes, t: Transcript) -> str | None:
    """UTF-8 (with or without a BOM) or UTF-16 with a BOM; anything else is recorded as a problem."""
    hint = "save the file as UTF-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            t.fail(0, "", f"is not valid UTF-16 text; {hint}")
            return None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        t.fail(line, "-", f"byte 0x{data[exc.start]:02X} at byte offset {exc.start} is not UTF-8; {hint}")
        return None
    if "\x00" in content:
        at = data.find(b"\x00")
        t.fail(data.count(b"\n", 0, at) + 1, "-", f"a NUL byte at byte offset {at}: not a text transcript")
        return None
    return content


def _adopt_earlier_versions(conn: Connection, t: Transcript, rows: list[dict[str, Any]]) -> None:
    """An earlier version of this transcript — the same name under the folder, stored with another content hash
    (the file was edited) or with an older Hotlead's key of the name alone (transcript:NAME:N) — for the same
    lead, starting at the same moment, is this call: its rows take the new keys, so the import updates them in
    place instead of adding a second copy. Another call that merely shares the name starts elsewhere or is
    another lead's, and is left alone."""
    if not rows:
        return
    prefix = f"transcript:{t.name}"
    one = mark(conn)
    ordered = "" if conn.dialect.name == "sqlite" else ' COLLATE "C"'  # byte order, whatever the database's
    first = conn.exec_driver_sql(
        f"SELECT source_ref, lead_id, occurred_at FROM message WHERE source_ref = {one} "
        f"OR (source_ref{ordered} > {one} AND source_ref{ordered} < {one})",
        (f"{prefix}:1", f"{prefix}@", f"{prefix}A"),  # "A" follows "@": every content hash of this name
    ).all()
    stored = {ref: (lead, stamp(at) if isinstance(at, datetime) else str(at)) for ref, lead, at in first}
    new_first = rows[0]["source_ref"]
    if new_first in stored:
        return  # this very content is stored already
    same_call = (rows[0]["lead_id"], rows[0]["occurred_at"])
    earlier = [ref for ref, seen in stored.items() if ref.endswith(":1") and seen == same_call]
    if not earlier:
        return
    old = earlier[0].removesuffix(":1")
    conn.exec_driver_sql(f"UPDATE message SET source_ref = {one} WHERE source_ref = {one}",
                         [(row["source_ref"], f"{old}:{index}") for index, row in enumerate(rows, start=1)])


def _rows(t: Transcript, people: _People, lead_id: int | None, channel: str, start: datetime) -> list[dict[str, Any]]:
    """The message rows of one transcript, or none when anything about it is wrong (and recorded)."""
    before = len(t.errors)
    if not t.lines:
        t.fail(1, "speaker", "no lines with a speaker found")
    if "channel" in t.meta:
        row, channel = t.meta["channel"][0], t.meta["channel"][1].lower()
        if channel not in CHANNELS:
            t.fail(row, "channel", _BAD_CHANNEL.format(channel))
    if "date" in t.meta:
        start = absolute(t, *t.meta["date"]) or start
    if "lead" in t.meta:
        row, external_id = t.meta["lead"]
        lead_id = people.lead(external_id)
        if lead_id is None:
            t.fail(row, "lead", _UNKNOWN_LEAD.format(external_id))
    elif lead_id is None and t.lines:
        lead_id = _lead_by_speaker(t, people)
    if len(t.errors) > before:
        return []
    rows, moment = [], start
    for index, line in enumerate(t.lines, start=1):
        if line.when is not None:
            try:
                moment = start + line.when if isinstance(line.when, timedelta) else line.when
            except OverflowError:
                t.fail(line.row, "timestamp", "the call start plus this offset is after the year 9999")
                return []
        line_row: dict[str, Any] = {
            "source_ref": f"transcript:{t.name}@{t.digest}:{index}", "lead_id": lead_id, "channel": channel,
            "direction": "outbound" if people.is_rep(line.speaker) else "inbound",
            "speaker": line.speaker, "text": line.text, "occurred_at": cells.sql_datetime(moment),
        }
        message_numbers(line_row)
        rows.append(line_row)
    return rows


def _lead_by_speaker(t: Transcript, people: _People) -> int | None:
    hint = '"lead": "<external id>"' if t.file.lower().endswith(".json") else "`# lead: <external id>` at the top"
    matched: dict[int, str] = {}
    for line in t.lines:
        if people.is_rep(line.speaker) or line.speaker in matched.values():
            continue
        ids = people.leads_named(line.speaker)
        if len(ids) > 1:
            t.fail(line.row, "lead", f"{len(ids)} leads are named {line.speaker!r}: say which with {hint}")
            return None
        if ids:
            matched[ids[0]] = line.speaker
    if len(matched) == 1:
        return next(iter(matched))
    names = " and ".join(repr(name) for name in matched.values())
    problem = f"speakers {names} are different leads" if matched else "no speaker is a known lead"
    t.fail(t.lines[0].row, "lead", f"{problem}: say which with {hint}")
    return None
