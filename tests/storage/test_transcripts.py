from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from storage.db import create_schema, make_engine
from storage.errors import ImportFileError
from storage.importers.transcripts import import_transcripts
from storage.models import Lead, Rep

CREATED = datetime(2026, 1, 1, tzinfo=UTC)  # this SQLModel refuses naive datetimes


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'hotlead.db'}")
    create_schema(engine)
    with Session(engine) as session:
        session.add_all([
            Rep(name="Alex Morgan"),
            Rep(name="Priya Shah"),
            Lead(external_id="L1", name="Dana Kim", created_at=CREATED),
            Lead(external_id="L2", name="Sam Lee", created_at=CREATED),
        ])
        session.commit()
    return engine


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def digest(path: Path) -> str:
    """The content hash a transcript's source_ref carries (transcript:NAME@DIGEST:LINE)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def messages(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(
            "SELECT l.external_id, m.channel, m.direction, m.speaker, m.text, m.occurred_at, m.source_ref "
            "FROM message m JOIN lead l ON l.id = m.lead_id ORDER BY m.id"
        )]


def test_plain_text_offsets_are_added_to_the_call_start_and_directions_follow_speakers(engine, tmp_path):
    path = write(tmp_path, "call.txt", (
        "# lead: L1\n"
        "# date: 2026-11-12T10:00:00Z\n"
        "\n"
        "[00:00:05] Alex Morgan: Thanks for joining.\n"
        "[00:01:23] Dana Kim: Happy to be here.\n"
        "[02:10] Chris Park: I run procurement.\n"
    ))

    result = import_transcripts(engine, path)

    assert result.kind == "transcripts"
    assert result.counts.inserted == 3
    assert messages(engine) == [
        ("L1", "call", "outbound", "Alex Morgan", "Thanks for joining.", "2026-11-12 10:00:05.000000",
         f"transcript:call.txt@{digest(path)}:1"),
        ("L1", "call", "inbound", "Dana Kim", "Happy to be here.", "2026-11-12 10:01:23.000000",
         f"transcript:call.txt@{digest(path)}:2"),
        ("L1", "call", "inbound", "Chris Park", "I run procurement.", "2026-11-12 10:02:10.000000",
         f"transcript:call.txt@{digest(path)}:3"),
    ]


def test_plain_text_takes_bare_offsets_and_absolute_times(engine, tmp_path):
    path = write(tmp_path, "call.txt", (
        "# lead: L1\n# date: 2026-11-12T10:00:00Z\n"
        "00:00:30 Alex: Hello.\n"
        "2026-11-12T11:15:00+01:00 Dana Kim: Hi.\n"
    ))

    import_transcripts(engine, path)

    assert [(m[2], m[5]) for m in messages(engine)] == [
        ("outbound", "2026-11-12 10:00:30.000000"),
        ("inbound", "2026-11-12 10:15:00.000000"),
    ]


def test_lines_without_a_speaker_continue_the_line_before(engine, tmp_path):
    path = write(tmp_path, "call.txt", (
        "# lead: L1\n"
        "Dana Kim: We need SSO\n"
        "and an audit log.\n"
        "10:30 works for me.\n"
        "Alex Morgan: Noted.\n"
    ))

    import_transcripts(engine, path, at=datetime(2026, 11, 12, 9, 0, tzinfo=UTC))

    assert [(m[3], m[4], m[5]) for m in messages(engine)] == [
        ("Dana Kim", "We need SSO and an audit log. 10:30 works for me.", "2026-11-12 09:00:00.000000"),
        ("Alex Morgan", "Noted.", "2026-11-12 09:00:00.000000"),
    ]


def test_webvtt_reads_voice_tags_and_speaker_prefixes(engine, tmp_path):
    path = write(tmp_path, "call.vtt", (
        "WEBVTT\n"
        "\n"
        "NOTE recorded by the meeting tool\n"
        "Dana Kim: this note is not a line\n"
        "\n"
        "1\n"
        "00:00:01.000 --> 00:00:04.000\n"
        "<v Alex Morgan>Welcome, <b>Dana</b>.</v>\n"
        "\n"
        "00:01:02.500 --> 00:01:06.000 align:start\n"
        "<v.prospect Dana Kim>Pricing &amp; terms first, please.\n"
        "\n"
        "00:01:07.000 --> 00:01:09.000\n"
        "Alex Morgan: Sure.\n"
    ))

    import_transcripts(engine, path, lead="L1", at=datetime(2026, 11, 12, 10, 0))

    assert [m[2:6] for m in messages(engine)] == [
        ("outbound", "Alex Morgan", "Welcome, Dana.", "2026-11-12 10:00:01.000000"),
        ("inbound", "Dana Kim", "Pricing & terms first, please.", "2026-11-12 10:01:02.500000"),
        ("outbound", "Alex Morgan", "Sure.", "2026-11-12 10:01:07.000000"),
    ]


def test_a_json_list_holds_one_transcript_per_object(engine, tmp_path):
    path = write(tmp_path, "calls.json", json.dumps([
        {"lead": "L1", "started_at": "2026-11-12T10:00:00Z", "channel": "chat",
         "lines": [{"speaker": "Dana Kim", "text": "Hi", "offset": 3},
                   {"speaker": "Alex Morgan", "text": "Hello", "at": "2026-11-12T10:00:09Z"}]},
        {"lead": "L2", "started_at": "2026-11-13T08:00:00Z",
         "lines": [{"speaker": "Sam Lee", "text": "Any news?", "offset": 60}]},
    ]))

    result = import_transcripts(engine, path)

    assert result.counts.inserted == 3
    assert [(m[0], m[1], m[5], m[6]) for m in messages(engine)] == [
        ("L1", "chat", "2026-11-12 10:00:03.000000", f"transcript:calls.json#1@{digest(path)}:1"),
        ("L1", "chat", "2026-11-12 10:00:09.000000", f"transcript:calls.json#1@{digest(path)}:2"),
        ("L2", "call", "2026-11-13 08:01:00.000000", f"transcript:calls.json#2@{digest(path)}:1"),
    ]


def test_a_folder_imports_every_transcript_file_and_reports_progress(engine, tmp_path):
    folder = tmp_path / "calls"
    write(folder, "a.txt", "# lead: L1\nDana Kim: one\n")
    write(folder, "nested/b.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Sam Lee>two\n")
    write(folder, "c.json", json.dumps({"lead": "L2", "lines": [{"speaker": "Sam Lee", "text": "three"}]}))
    write(folder, "README.md", "not a transcript")
    seen: list[tuple[int, int]] = []

    result = import_transcripts(engine, folder, progress=lambda done, total: seen.append((done, total)))

    assert result.counts.inserted == 3
    assert [m[6] for m in messages(engine)] == [
        f"transcript:a.txt@{digest(folder / 'a.txt')}:1", f"transcript:c.json@{digest(folder / 'c.json')}:1",
        f"transcript:nested/b.vtt@{digest(folder / 'nested/b.vtt')}:1",
    ]
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_importing_twice_changes_nothing(engine, tmp_path):
    path = write(tmp_path, "call.txt", "# lead: L1\nDana Kim: hi\nAlex: hello\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))

    first = import_transcripts(engine, path)
    second = import_transcripts(engine, path)

    assert first.counts.inserted == 2
    assert second.counts.inserted == 0
    assert second.counts.unchanged == second.counts.rows == 2
    assert len(messages(engine)) == 2


def test_editing_one_line_updates_only_that_row(engine, tmp_path):
    path = write(tmp_path, "call.txt", "# lead: L1\n# date: 2026-11-12\nDana Kim: hi\nAlex: hello\n")
    import_transcripts(engine, path)
    write(tmp_path, "call.txt", "# lead: L1\n# date: 2026-11-12\nDana Kim: hi there\nAlex: hello\n")

    result = import_transcripts(engine, path)

    assert (result.counts.inserted, result.counts.updated, result.counts.unchanged) == (0, 1, 1)
    assert [m[4] for m in messages(engine)] == ["hi there", "hello"]


def test_a_bad_timestamp_in_one_of_two_files_writes_nothing(engine, tmp_path):
    write(tmp_path, "a.txt", "# lead: L1\n[00:00:01] Dana Kim: fine\n")
    bad = write(tmp_path, "b.txt", "# lead: L1\n\n[00:0x:01] Dana Kim: broken\n")

    with pytest.raises(ImportFileError) as caught:
        import_transcripts(engine, tmp_path)

    [error] = caught.value.errors
    assert (error.file, error.row, error.column) == (str(bad), 3, "timestamp")
    assert f"{bad}:3: column timestamp" in str(caught.value)
    assert messages(engine) == []


def test_the_lead_is_the_speaker_named_like_a_lead_without_a_header(engine, tmp_path):
    path = write(tmp_path, "call.txt", "Alex Morgan: hi\nsam lee: hello\nJo Park: I am his colleague\n")

    import_transcripts(engine, path)

    assert [(m[0], m[2], m[3]) for m in messages(engine)] == [
        ("L2", "outbound", "Alex Morgan"), ("L2", "inbound", "sam lee"), ("L2", "inbound", "Jo Park"),
    ]


def test_a_lead_name_shared_by_two_leads_is_an_error(engine, tmp_path):
    with Session(engine) as session:
        session.add(Lead(external_id="L3", name="Dana Kim", created_at=CREATED))
        session.commit()
    path = write(tmp_path, "call.txt", "Alex Morgan: hi\nDana Kim: hello\n")

    with pytest.raises(ImportFileError) as caught:
        import_transcripts(engine, path)

    [error] = caught.value.errors
    assert (error.row, error.column) == (2, "lead")
    assert "2 leads are named 'Dana Kim'" in error.problem
    assert "# lead:" in error.problem


def test_a_transcript_without_any_lead_is_an_error(engine, tmp_path):
    path = write(tmp_path, "call.txt", "Alex Morgan: hi\nJo Park: hello\n")

    with pytest.raises(ImportFileError, match="no speaker is a known lead"):
        import_transcripts(engine, path)


@pytest.mark.parametrize(("text", "column"), [
    ("# lead: L999\nDana Kim: hi\n", "lead"),
    ("# lead: L1\n# channel: fax\nDana Kim: hi\n", "channel"),
    ("# lead: L1\n# date: yesterday\nDana Kim: hi\n", "timestamp"),
    ("# lead: L1\njust some notes\n", "speaker"),
    ("# lead: L1\nsome notes\nmore notes\nDana Kim: hi\n", "speaker"),
    ("# lead: L1\n[01:02:99] Dana Kim: hi\n", "timestamp"),
    ("# lead: L1\n[12:75] Dana Kim: hi\n", "timestamp"),
    ('{"lead": "L1", "lines": []}', "speaker"),
    ('{"lead": "L1", "lines": [{"speaker": "Dana Kim", "text": "hi", "offset": "soon"}]}', "timestamp"),
    ("# lead: L1\n", "speaker"),
])
def test_a_bad_header_or_body_is_an_error_naming_the_column(engine, tmp_path, text, column):
    path = write(tmp_path, "call.json" if text.startswith("{") else "call.txt", text)

    with pytest.raises(ImportFileError) as caught:
        import_transcripts(engine, path)

    assert [e.column for e in caught.value.errors] == [column]
    assert messages(engine) == []


def test_invalid_json_is_an_error_with_its_line(engine, tmp_path):
    path = write(tmp_path, "calls.json", '{"lead": "L1",\n "lines": [}\n')

    with pytest.raises(ImportFileError) as caught:
        import_transcripts(engine, path)

    [error] = caught.value.errors
    assert (error.row, error.column) == (2, "json")


def test_a_json_error_says_which_transcript_and_line(engine, tmp_path):
    path = write(tmp_path, "calls.json", json.dumps([
        {"lead": "L1", "lines": [{"speaker": "Dana Kim", "text": "hi"}]},
        {"lead": "L2", "lines": [{"speaker": "Sam Lee", "text": "hi"},
                                 {"speaker": "Sam Lee", "text": "?", "at": "soon"}]},
    ]))

    with pytest.raises(ImportFileError) as caught:
        import_transcripts(engine, path)

    [error] = caught.value.errors
    assert (error.row, error.column) == (2, "timestamp")
    assert error.problem.startswith("transcript 2: not a time: 'soon'")


def test_an_unknown_lead_or_channel_argument_is_an_error(engine, tmp_path):
    path = write(tmp_path, "call.txt", "Dana Kim: hi\n")

    with pytest.raises(ImportFileError, match="unknown lead 'L404'"):
        import_transcripts(engine, path, lead="L404")
    with pytest.raises(ImportFileError, match="'fax' is not one of"):
        import_transcripts(engine, path, channel="fax")


def test_the_call_start_falls_back_to_the_file_modification_time(engine, tmp_path):
    path = write(tmp_path, "call.txt", "# lead: L1\n[00:00:10] Dana Kim: hi\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))  # 2023-11-14 22:13:20 UTC

    import_transcripts(engine, path, channel="WhatsApp")

    assert [(m[1], m[5]) for m in messages(engine)] == [("whatsapp", "2023-11-14 22:13:30.000000")]


def test_a_shared_rep_first_name_is_not_a_rep(engine, tmp_path):
    with Session(engine) as session:
        session.add(Rep(name="Alex Chen"))
        session.commit()
    path = write(tmp_path, "call.txt", "# lead: L1\nAlex: hi\nalex morgan: hello\n")

    import_transcripts(engine, path)

    assert [m[2] for m in messages(engine)] == ["inbound", "outbound"]


def test_errors_stop_after_twenty(engine, tmp_path):
    for index in range(30):
        write(tmp_path, f"{index:02}.txt", "# lead: L999\nDana Kim: hi\n")

    with pytest.raises(ImportFileError) as caught:
        import_transcripts(engine, tmp_path)

    assert len(caught.value.errors) == 20
    assert caught.value.more
