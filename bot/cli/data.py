"""Commands that build the database: init, import, demo."""

from __future__ import annotations

import csv
import resource
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.engine import make_url

from bot.cli import AppContext, cli, emit_json, pass_app
from bot.progress import progress_bar
from scoring.errors import NotEnoughOutcomesError
from storage.db import (
    create_schema,
    database_origin,
    drop_schema,
    has_tables,
    make_engine,
    repair_indexes,
    session_scope,
    set_meta,
    upgrade,
)
from storage.demo import generate
from storage.demo.load import load_demo
from storage.errors import StorageError
from storage.importers import TABLE_KINDS, ImportResult, import_table
from storage.importers.crm import NoLabelError, import_crm
from storage.importers.tables import References, spec_for
from storage.importers.transcripts import import_transcripts
from storage.migrations import HEAD

IMPORT_KINDS = (*TABLE_KINDS, "transcripts", "crm")
HISTORY_WEEKS = 8  # the demo's score history: one rescoring a week as of then, so every surface shows movement


@cli.command()
@pass_app
def init(app: AppContext) -> None:
    """Create the database schema, or upgrade an older one in place (safe to run again: nothing is dropped).

    An upgrade runs the schema's migrations (storage/migrations) in one transaction: it completes, or the
    database is left as it was."""
    engine = app.engine(check=False)
    upgraded = upgrade(engine)
    repaired = repair_indexes(engine)
    created = create_schema(engine)
    where = engine.url.render_as_string(hide_password=True)
    if repaired:
        click.echo(f"Rebuilt missing indexes: {', '.join(repaired)}")
    if upgraded is not None:
        click.echo(f"Upgraded the Hotlead schema in {where} from {upgraded} to revision {HEAD}")
        return
    click.echo(f"{'Created' if created else 'Checked'} the Hotlead schema in {where}")


def _columns_help() -> str:
    lines = []
    for kind in TABLE_KINDS:
        spec = spec_for(kind, References(None, {}))  # type: ignore[arg-type]
        cols = ", ".join(f"{c.name}{'*' if c.required else ''}" for c in spec.columns)
        lines.append(f"{kind}: {spec.summary}. Columns: {cols}")
    return "\n\n".join(lines)


@cli.command(
    name="import",
    epilog="\b\nKINDS AND COLUMNS (* = required)\n\n" + _columns_help() + "\n\n"
    "transcripts: a file or folder of call/chat transcripts: `Speaker: text` lines (optional [hh:mm:ss] or ISO "
    "times, `# lead:`, `# date:` and `# channel:` headers), WebVTT, or JSON.\n\n"
    "crm: any CSV export; --label names the stage or won/lost column (default: a Stage or Status column); "
    "usual headers (Record ID, Name, Email, Company, Owner, Amount, Created Date, Close Date…) fill the lead, its "
    "account, owner and outcome, and every other column becomes a typed lead attribute (number, category, yes/no, "
    "date or free text). Won, lost and open stages of HubSpot, Salesforce and Pipedrive are known; an open lead "
    "has no outcome (it is scored), and any other value is an error until named with --positive, --lost or "
    "--open.",
)
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--delimiter", help="CSV delimiter (default: guessed from the header among , ; tab |).")
@click.option("--label", help="crm: the stage or won/lost column (default: a Stage or Status column).")
@click.option("--id", "id_column", help="crm: the column with a unique id (default: Record ID, Id… or the row number).")
@click.option("--time", "time_column",
              help="crm: the lead's date, which orders the decisions (default: Created Date, Create Date…).")
@click.option("--ordered", is_flag=True, help="crm: the rows are in time order, oldest first (no date column).")
@click.option("--name", "name_column", help="crm: the lead's name (default: Lead Name, Name… or First + Last Name).")
@click.option("--account", "account_column", help="crm: the company, created when new (default: Company, Account…).")
@click.option("--owner", "owner_column", help="crm: the owning rep's name or email, a new rep when unknown "
              "(default: Owner, Lead Owner, Sales Rep…).")
@click.option("--amount", "amount_column", help="crm: the deal value, kept on the outcome and as an attribute "
              "(default: Amount, Deal Value…).")
@click.option("--closed-at", "closed_column", help="crm: when the deal was decided (default: Close Date…).")
@click.option("--positive", multiple=True,
              help="crm: a label value that means won; only these do then (default: won, Closed Won, yes, 1…).")
@click.option("--lost", "lost_values", multiple=True,
              help="crm: a label value that means lost, besides the known ones.")
@click.option("--open", "open_values", multiple=True,
              help="crm: a label value that means still open (no outcome), besides the known ones.")
@click.option("--date-format", help="crm: how 31/12/2025-shaped dates read, e.g. %d/%m/%Y (default: per column, "
              "from a day or month above 12).")
@click.option("--drop", multiple=True, help="crm: a column to leave out, e.g. one only known after the outcome.")
@click.option("--lead", help="transcripts: the lead's external id when the files do not say.")
@click.option("--at", "started_at", type=click.DateTime(), help="transcripts: when the call started.")
@click.option("--channel", default="call", show_default=True, help="transcripts: call, chat, whatsapp…")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def import_(
    app: AppContext, kind: str, file: Path, delimiter: str | None, label: str | None, id_column: str | None,
    time_column: str | None, ordered: bool, name_column: str | None, account_column: str | None,
    owner_column: str | None, amount_column: str | None, closed_column: str | None, positive: tuple[str, ...],
    lost_values: tuple[str, ...], open_values: tuple[str, ...], date_format: str | None, drop: tuple[str, ...],
    lead: str | None, started_at: object, channel: str, as_json: bool,
) -> None:
    """Import a CSV or JSON Lines FILE of KIND: all of it, or nothing when any row is bad.

    Importing the same file again changes nothing; changed rows are updated. Bad rows are listed as
    FILE:ROW: column COL: what is wrong.
    """
    if ordered and time_column:
        raise click.UsageError("--ordered and --time say two different things: give one of them")
    if not file.exists():
        raise _NoSuchFile(f"{file}: does not exist (no such file or folder)")
    engine = app.engine(check=False)
    create_schema(engine)
    try:
        with progress_bar(f"importing {file.name}") as tick:
            if kind == "crm":
                result = import_crm(engine, file, label=label, id_column=id_column, time_column=time_column,
                                    positive=positive, delimiter=delimiter, drop=drop, progress=tick,
                                    ordered=ordered, name=name_column, account=account_column,
                                    owner=owner_column, amount=amount_column, closed_at=closed_column,
                                    lost_values=lost_values, open_values=open_values, date_format=date_format)
            elif kind == "transcripts":
                result = import_transcripts(engine, file, lead=lead, at=started_at,  # type: ignore[arg-type]
                                            channel=channel, progress=tick)
            else:
                result = import_table(engine, kind, file, progress=tick, delimiter=delimiter)
    except NoLabelError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:  # a folder, a file that vanished or may not be read: one line, never a traceback
        _refuse(file, f"cannot be read: {exc.strerror or exc}")
    except (UnicodeError, csv.Error, OverflowError, RecursionError) as exc:  # backstop: the reader and the cell
        _refuse(file, f"cannot be imported: {exc}")  # parsers report these by row; nothing was written
    _report(result, as_json)
    if kind in ("messages", "transcripts"):
        from bot.cli.nlp import analyze_messages

        analyze_messages(app)


class _NoSuchFile(click.ClickException):
    """FILE does not exist: a usage error (exit 2), as click reports for a wrong KIND."""

    exit_code = 2


def _refuse(file: Path, problem: str) -> NoReturn:
    """Print `FILE: problem` and exit 1: the import's transaction was rolled back, so nothing was written."""
    click.echo(f"{file}: {problem}", err=True)
    click.get_current_context().exit(1)


def _report(result: ImportResult, as_json: bool) -> None:
    if as_json:
        c = result.counts
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
        emit_json({"kind": result.kind, "file": result.file, "rows": c.rows, "inserted": c.inserted,
                   "updated": c.updated, "unchanged": c.unchanged, "seconds": round(result.seconds, 3),
                   "created": c.created, "peak_rss_mb": round(peak_kb / 1024, 1)})
    else:
        click.echo(result.summary())


@cli.command()
@click.option("--leads", default=2000, show_default=True, type=click.IntRange(50, 1_000_000),
              help="How many leads to generate.")
@click.option("--seed", default=7, show_default=True, help="Random seed: the same seed gives the same pipeline.")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path),
              help="Write each lead's true conversion probability, hidden segment and expected value here (CSV: "
                   "external_id,probability,segment,expected_value).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="The demo's 'today' (default: today).")
@click.option("--keep-files", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the generated CSV files and transcripts in this folder.")
@click.option("--force", is_flag=True, help="Replace the database even when it holds data that is not a demo.")
@click.option("--train/--no-train", default=True, show_default=True,
              help="Train a model, score the open leads and show the hottest ones.")
@click.option("--history-weeks", default=HISTORY_WEEKS, show_default=True, type=click.IntRange(0, 26),
              help="Weeks of score history to write (a rescoring a week as of then), so the digest, 'what changed' "
                   "and the chart show movement at once; 0 for none.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def demo(
    app: AppContext, leads: int, seed: int, truth: Path | None, today: object, keep_files: Path | None,
    force: bool, train: bool, history_weeks: int, as_json: bool,
) -> None:
    """Build a fresh demo database: a realistic B2B pipeline, imported like your own data would be.

    Generates accounts, leads, reps and a manager, 90 days of activity, chat, WhatsApp and call
    transcripts, and won/lost outcomes, then imports them with `hotlead import`.
    """
    url = app.settings.hotlead_database_url
    _reset_demo_database(url, force)
    engine = app.engine(check=False)
    create_schema(engine)
    with session_scope(engine) as session:
        set_meta(session=session, key="origin", value="demo")
    workdir = keep_files or Path(tempfile.mkdtemp(prefix="hotlead-demo-"))
    try:
        with progress_bar("generating the pipeline") as tick:
            pipeline = generate(workdir, leads=leads, seed=seed, progress=tick,
                                today=today.date() if today else None)  # type: ignore[attr-defined]
        results = list(load_demo(engine, pipeline, lambda label: progress_bar(label)))
        from bot.cli.nlp import analyze_messages

        analyze_messages(app)
    finally:
        if keep_files is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if truth:
        with truth.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["external_id", "probability", "segment", "expected_value"])
            writer.writerows((lead_id, f"{p:.6f}", pipeline.segments[lead_id], f"{pipeline.values[lead_id]:.2f}")
                             for lead_id, p in pipeline.truth)
    model = _train(app, quiet=as_json, history_weeks=history_weeks) if train else None
    _demo_summary(app, results, pipeline.counts, truth, keep_files, as_json, model)
    if model and not as_json:
        _show_top(app, model)


def _train(app: AppContext, quiet: bool, history_weeks: int = HISTORY_WEEKS) -> dict[str, Any] | None:
    """Train and score, so that the demo answers questions at once; None when there are too few outcomes."""
    from scoring.rescore import rescore, rescore_past
    from scoring.training import train as train_model

    engine = app.engine()
    try:
        with progress_bar("training the model"):
            report = train_model(engine)
    except NotEnoughOutcomesError as exc:
        if not quiet:
            click.echo(f"\nNot training a model: {exc}. Build a bigger demo with --leads 2000 or more.")
        return None
    m = report.metrics
    if not report.promoted:
        if not quiet:
            click.echo(f"\nThe model was not promoted: {m['refused']}. Build a bigger demo with --leads 2000 or "
                       "more.")
        return None
    now = datetime.now(UTC)
    with progress_bar(f"scoring the last {history_weeks} weeks") as tick:  # digest and "what changed" move
        for weeks in range(history_weeks, 0, -1):
            rescore_past(engine, now - timedelta(weeks=weeks))
            tick(history_weeks - weeks + 1, history_weeks)
    return {"version": report.version, "auc": m["auc"], "rules_auc": m["rules_auc"],
            "quartile_ratio": m["quartile_ratio"], "scored": rescore(engine).leads}


def _show_top(app: AppContext, m: dict[str, Any]) -> None:
    """The top hot leads with the reasons for the first one."""
    from scoring.leads import explain_lead, top_leads

    engine = app.engine()
    click.echo(f"\nModel {m['version']}: holdout AUC {m['auc']:.3f} vs {m['rules_auc']:.3f} for rule-based points; "
               f"the top quartile converts {m['quartile_ratio']:.1f}× the bottom quartile.")
    click.echo(f"Scored {m['scored']:,} open leads.\n\nTop hot leads:")
    hot = top_leads(engine, band="hot", limit=10)
    for rank, row in enumerate(hot, start=1):
        click.echo(f"{rank:>3}. {row['name']:<20} {row['account'] or '':<24} {row['probability']:>4.0%}  "
                   f"{row['top_reason']}")
    if hot:
        why = explain_lead(engine, hot[0]["lead"])
        click.echo(f"\nWhy {why['name']} ({why['lead']}) is hot:")
        for reason in why["for"]:
            click.echo(f"  + {reason['text']}")
        for reason in why["against"][:2]:
            click.echo(f"  - {reason['text']}")
        steps = ((f"hotlead why {hot[0]['lead']}", "the reasons, with what was said"),
                 ('hotlead ask "who should I call today?"', "chat, as in Slack or WhatsApp"),
                 ("hotlead digest --now --dry-run --chart movers.png", "this week's risers and fallers"))
        click.echo("\nNext, try:\n" + "\n".join(f"  {command:<50} {what}" for command, what in steps)
                   + '\nand Slack and WhatsApp on this machine: the README\'s "Try Slack and WhatsApp locally".')


def _reset_demo_database(url: str, force: bool) -> None:
    """Clear the way for a new demo: a SQLite file is deleted, a server database loses Hotlead's tables (and
    nothing else); refused when it holds data that is not a demo, unless `force`."""
    parsed = make_url(url)
    sqlite = parsed.drivername.startswith("sqlite")
    if sqlite and (not parsed.database or parsed.database == ":memory:"):
        raise click.UsageError("hotlead demo builds a database file: set HOTLEAD_DATABASE_URL=sqlite:///FILE "
                               "(or a PostgreSQL URL)")
    path = Path(parsed.database or "")
    if sqlite and not path.exists():
        return
    engine = make_engine(url)
    try:
        empty = not has_tables(engine)  # nothing in it to lose: an empty file, a new server database
        if not empty and not force and database_origin(engine) != "demo":
            where = path if sqlite else parsed.render_as_string(hide_password=True)
            raise StorageError(f"{where} holds data that is not a demo: pass --force to replace it, or point "
                               "HOTLEAD_DATABASE_URL at another database")
        if not sqlite and not empty:
            drop_schema(engine)
    finally:
        engine.dispose()
    if sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _demo_summary(
    app: AppContext, results: list[ImportResult], counts: dict[str, int], truth: Path | None,
    keep_files: Path | None, as_json: bool, model: dict[str, Any] | None,
) -> None:
    url = app.settings.hotlead_database_url
    if as_json:
        emit_json({"database": url, "counts": counts, "truth": str(truth) if truth else None,
                   "imports": {r.kind: r.counts.inserted for r in results}, "model": model})
        return
    click.echo(f"Demo database ready: {url}")
    for result in results:
        click.echo(f"  {result.kind:<12} {result.counts.rows:>9,} rows imported in {result.seconds:5.1f} s")
    if truth:
        click.echo(f"True probabilities written to {truth} (never stored in the database).")
    if keep_files:
        click.echo(f"Generated files kept in {keep_files}/ (import them yourself with `hotlead import`).")
    click.echo("\nTry next:\n"
               "  hotlead import leads my-leads.csv      bring your own data (see `hotlead import --help`)\n"
               "  hotlead import crm export.csv --label won   any CRM export, typed automatically\n"
               "  hotlead bench import --json            measure import speed")
    if sys.stdout.isatty():
        click.echo("")
