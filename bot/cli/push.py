"""Push from the command line: live-demo sessions and the alert outbox."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from bot.cli import AppContext, cli, emit_json, pass_app
from storage.alerts import OUTBOX_STATES, list_alerts
from storage.demo_sessions import end_session, open_session, recent_sessions
from storage.errors import ImportFileError, NotFoundError, RowError
from storage.push import lead_id_by_key, rep_id_by_key


@cli.group(name="demo-session")
def demo_session() -> None:
    """Live demos: while a session is open, the rep gets WhatsApp alerts about the lead and their account."""


def _ids(app: AppContext, lead: str, rep: str) -> tuple[int, int]:
    with app.engine().connect() as conn:
        lead_id = lead_id_by_key(conn=conn, key=lead)
        rep_id = rep_id_by_key(conn=conn, key=rep)
    if lead_id is None:
        raise NotFoundError(f"no lead {lead!r} (give its external id or full name)")
    if rep_id is None:
        raise NotFoundError(f"no rep {rep!r}: `hotlead reps` lists them")
    return lead_id, rep_id


@demo_session.command(name="start")
@click.argument("lead")
@click.option("--rep", required=True, help="The rep giving the demo (name, Slack id or WhatsApp number).")
@click.option("--minutes", default=45, show_default=True, type=click.IntRange(1, 24 * 60), help="How long.")
@click.option("--at", "starts_at", type=click.DateTime(), help="Start time in UTC (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@pass_app
def start(app: AppContext, lead: str, rep: str, minutes: int, starts_at: datetime | None, as_json: bool) -> None:
    """Open a demo window for LEAD (external id or name). A window overlapping one the rep already has with the
    lead widens that session instead of opening a second one (each alert would be sent twice)."""
    lead_id, rep_id = _ids(app, lead, rep)
    begin = starts_at.replace(tzinfo=UTC) if starts_at else datetime.now(UTC)
    with app.engine().begin() as conn:
        session, merged = open_session(conn, lead_id=lead_id, rep_id=rep_id, starts_at=begin,
                                       ends_at=begin + timedelta(minutes=minutes), source="cli")
    if as_json:
        emit_json({"id": session, "lead": lead, "rep": rep, "starts_at": begin.isoformat(), "minutes": minutes,
                   "merged": merged})
    elif merged:
        click.echo(f"{rep} already had demo session {session} with {lead} at that time: it now covers these "
                   f"{minutes} minutes too (`hotlead demo-session list`).")
    else:
        click.echo(f"Demo session {session} open for {minutes} minutes: {rep} gets WhatsApp alerts about {lead}.")


@demo_session.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the sessions as JSON.")
@pass_app
def list_sessions(app: AppContext, as_json: bool) -> None:
    """Demo sessions, newest first (open ones marked)."""
    with app.engine().connect() as conn:
        found = recent_sessions(conn, now=datetime.now(UTC))
    if as_json:
        emit_json(found)
        return
    for f in found:
        click.echo(f"{f['id']:>5} {'OPEN ' if f['open'] else '     '}{f['lead']:<10} {f['name']:<22} {f['rep']:<16} "
                   f"{str(f['starts_at'])[:16]} → {str(f['ends_at'])[11:16]} ({f['source']})")


@demo_session.command(name="end")
@click.argument("session", type=int)
@pass_app
def end(app: AppContext, session: int) -> None:
    """Close a demo session now."""
    with app.engine().begin() as conn:
        changed = end_session(conn, session_id=session, now=datetime.now(UTC))
    click.echo(f"Demo session {session} closed." if changed else f"Demo session {session} was not open.")


@demo_session.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def import_sessions(app: AppContext, file: Path) -> None:
    """Import demo sessions from a calendar CSV: columns `lead`, `rep`, `starts_at` (ISO 8601, UTC unless it says),
    and `minutes` or `ends_at`. Atomic: a bad row writes nothing and says which row and column. Idempotent: a
    session already there (the same calendar imported again), or overlapping one the rep has with the lead, widens
    that one instead of adding another."""
    from storage.importers import cells

    with file.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    problems, parsed = [], []
    for number, row in enumerate(rows, start=2):
        try:
            lead_id, rep_id = _ids(app, (row.get("lead") or "").strip(), (row.get("rep") or "").strip())
        except NotFoundError as exc:
            problems.append(RowError(str(file), number, "lead" if "lead" in str(exc) else "rep", str(exc)))
            continue
        try:
            begin = datetime.fromisoformat(cells.timestamp(row.get("starts_at", ""))).replace(tzinfo=UTC)
        except (cells.CellError, ValueError) as exc:
            problems.append(RowError(str(file), number, "starts_at", str(exc)))
            continue
        try:
            if row.get("minutes"):
                minutes = float(row["minutes"])
            else:
                minutes = (datetime.fromisoformat(cells.timestamp(row.get("ends_at", ""))).replace(tzinfo=UTC)
                           - begin).total_seconds() / 60
            if minutes <= 0:
                raise ValueError("the session must end after it starts")
        except (cells.CellError, ValueError, TypeError) as exc:
            problems.append(RowError(str(file), number, "minutes" if row.get("minutes") else "ends_at", str(exc)))
            continue
        parsed.append((lead_id, rep_id, minutes, begin))
    if problems:
        raise ImportFileError(str(file), problems)
    merged = 0
    with app.engine().begin() as conn:  # all sessions of the file, or none
        for lead_id, rep_id, minutes, begin in parsed:
            merged += open_session(conn, lead_id=lead_id, rep_id=rep_id, starts_at=begin,
                                   ends_at=begin + timedelta(minutes=minutes), source="calendar").merged
    click.echo(f"Imported {len(parsed)} demo sessions from {file}: {len(parsed) - merged} new, {merged} joined a "
               "session already there (the same or an overlapping window of the same lead and rep).")


@cli.command()
@click.option("--status", type=click.Choice(OUTBOX_STATES),
              help="Only alerts in this outbox state (superseded: a jump alert the lead's hot alert replaced).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON.")
@pass_app
def alerts(app: AppContext, status: str | None, limit: int, as_json: bool) -> None:
    """The alert outbox: what was sent, what is queued (Slack or Twilio unreachable) and what failed.

    `status` is the outbox's own state (queued, sending, sent, failed, superseded); `delivery` is what the carrier
    last reported for a WhatsApp alert (queued, sent, delivered, read, undelivered, failed…), from its callbacks.
    """
    with app.engine().connect() as conn:
        found = list_alerts(conn=conn, status=status, limit=limit)
    if as_json:
        emit_json(found)
        return
    if not found:
        click.echo("No alerts yet.")
    for f in found:
        click.echo(f"{f['id']:>6} {str(f['created_at'])[:19]} {f['kind']:<6} {f['channel']:<9} {f['lead'] or '-':<10} "
                   f"{f['status']:<10} {f['delivery'] or '':<11} attempts {f['attempts']}"
                   + (f"  ({f['error']})" if f["error"] else ""))
