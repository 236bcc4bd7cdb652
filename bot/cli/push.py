"""Push from the command line: live-demo sessions and the alert outbox."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import text

from bot.cli import AppContext, cli, emit_json, pass_app
from storage.alerts import OUTBOX_STATES, list_alerts
from storage.errors import ImportFileError, NotFoundError, RowError


@cli.group(name="demo-session")
def demo_session() -> None:
    """Live demos: while a session is open, the rep gets WhatsApp alerts about the lead and their account."""


def _ids(app: AppContext, lead: str, rep: str) -> tuple[int, int]:
    with app.engine().connect() as conn:
        lead_id = conn.execute(text("SELECT id FROM lead WHERE external_id = :key OR lower(name) = lower(:key) "
                                    "ORDER BY external_id = :key DESC LIMIT 1"), {"key": lead}).scalar()
        rep_id = conn.execute(text("SELECT id FROM rep WHERE lower(name) = lower(:key) OR slack_user_id = :key OR "
                                   "whatsapp = :key OR lower(email) = lower(:key) LIMIT 1"), {"key": rep}).scalar()
    if lead_id is None:
        raise NotFoundError(f"no lead {lead!r} (give its external id or full name)")
    if rep_id is None:
        raise NotFoundError(f"no rep {rep!r}: `hotlead reps` lists them")
    return int(lead_id), int(rep_id)


@demo_session.command(name="start")
@click.argument("lead")
@click.option("--rep", required=True, help="The rep giving the demo (name, Slack id or WhatsApp number).")
@click.option("--minutes", default=45, show_default=True, type=click.IntRange(1, 24 * 60), help="How long.")
@click.option("--at", "starts_at", type=click.DateTime(), help="Start time in UTC (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@pass_app
def start(app: AppContext, lead: str, rep: str, minutes: int, starts_at: datetime | None, as_json: bool) -> None:
    """Open a demo window for LEAD (external id or name)."""
    from bot.push.demo import start_session

    lead_id, rep_id = _ids(app, lead, rep)
    begin = starts_at.replace(tzinfo=UTC) if starts_at else datetime.now(UTC)
    with app.engine().begin() as conn:
        session = start_session(conn, lead_id=lead_id, rep_id=rep_id, minutes=minutes, starts_at=begin)
    if as_json:
        emit_json({"id": session, "lead": lead, "rep": rep, "starts_at": begin.isoformat(), "minutes": minutes})
    else:
        click.echo(f"Demo session {session} open for {minutes} minutes: {rep} gets WhatsApp alerts about {lead}.")


@demo_session.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the sessions as JSON.")
@pass_app
def list_sessions(app: AppContext, as_json: bool) -> None:
    """Demo sessions, newest first (open ones marked)."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with app.engine().connect() as conn:
        rows = conn.execute(text(
            "SELECT d.id, l.external_id, l.name, r.name, d.starts_at, d.ends_at, d.source, "
            "d.starts_at <= :now AND d.ends_at > :now FROM demo_session d JOIN lead l ON l.id = d.lead_id "
            "JOIN rep r ON r.id = d.rep_id ORDER BY d.id DESC LIMIT 100"), {"now": now}).all()
    found = [dict(zip(("id", "lead", "name", "rep", "starts_at", "ends_at", "source", "open"), r, strict=True))
             for r in rows]
    if as_json:
        emit_json([{**f, "open": bool(f["open"])} for f in found])
        return
    for f in found:
        click.echo(f"{f['id']:>5} {'OPEN ' if f['open'] else '     '}{f['lead']:<10} {f['name']:<22} {f['rep']:<16} "
                   f"{f['starts_at'][:16]} → {f['ends_at'][11:16]} ({f['source']})")


@demo_session.command(name="end")
@click.argument("session", type=int)
@pass_app
def end(app: AppContext, session: int) -> None:
    """Close a demo session now."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    with app.engine().begin() as conn:
        changed = conn.execute(text("UPDATE demo_session SET ends_at = :now WHERE id = :id AND ends_at > :now"),
                               {"now": now, "id": session}).rowcount
    click.echo(f"Demo session {session} closed." if changed else f"Demo session {session} was not open.")


@demo_session.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def import_sessions(app: AppContext, file: Path) -> None:
    """Import demo sessions from a calendar CSV: columns `lead`, `rep`, `starts_at` (ISO 8601, UTC unless it says),
    and `minutes` or `ends_at`. Atomic: a bad row writes nothing and says which row and column."""
    from bot.push.demo import start_session
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
    with app.engine().begin() as conn:  # all sessions of the file, or none
        for lead_id, rep_id, minutes, begin in parsed:
            start_session(conn, lead_id=lead_id, rep_id=rep_id, minutes=minutes, starts_at=begin, source="calendar")
    click.echo(f"Imported {len(parsed)} demo sessions from {file}.")


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
