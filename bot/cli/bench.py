"""`hotlead bench`: measured performance and quality, as numbers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bot.cli import cli, emit_json


@cli.group()
def bench() -> None:
    """Measure Hotlead on this machine (each subcommand prints figures; --json for machines)."""


def _show(result: dict[str, Any], as_json: bool, summary: Callable[[dict[str, Any]], str]) -> None:
    """Print a benchmark's figures: one JSON object, or a summary for people."""
    if as_json:
        emit_json(result)
    else:
        click.echo(summary(result))


@bench.command(name="import")
@click.option("--rows", default=1_000_000, show_default=True, type=click.IntRange(1000),
              help="Activity rows in the generated export.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to put the temporary files (default: the system temp folder).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_import(rows: int, workdir: Path | None, as_json: bool) -> None:
    """Import speed (rows/s) and peak memory for a large activity CSV, in a fresh process each: into an empty
    table, at a quarter of the rows (memory stays flat), and a quarter more into the table that holds all the
    rows already (`into_full_rows_per_s`: the next export of a team whose tables are big)."""
    from bot.bench import imports

    _show(imports.run(rows, workdir), as_json, lambda r: (
        f"{r['rows']:,} activity rows in {r['seconds']:.1f} s: {r['rows_per_s']:,} rows/s, peak memory "
        f"{r['peak_rss_mb']:.0f} MB ({r['quarter_peak_rss_mb']:.0f} MB at a quarter of the rows); "
        f"{r['into_full_rows']:,} more into the table holding {r['rows']:,}: {r['into_full_rows_per_s']:,} rows/s"))


@bench.command(name="quality")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 10), help="Cross-validation folds.")
@click.option("--data", "home", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the data sets (default: ../shared/data beside the checkout or this folder).")
@click.option("--export", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Measure on this CRM export instead (its rows oldest first), with --label.")
@click.option("--label", help="With --export: the won/lost column.")
@click.option("--drop", multiple=True, help="With --export: a column to leave out (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_quality(folds: int, home: Path | None, export: Path | None, label: str | None, drop: tuple[str, ...],
                  as_json: bool) -> None:
    """AUC on the public data sets in ../shared/data, imported with `hotlead import crm`: as used first (the newest
    20% of the file's rows imported as open leads, then `train` and `score`, their scores against their real
    outcomes); forward in time (the same newest 20% held out, LeadScorer fitted on the rest) with a logistic
    regression and a plain XGBoost on the same split and their fit times; then shuffled cross-validation.

    Bank marketing is imported without `duration` (known only after the call); no code is specific to either
    data set. `--export FILE --label COL [--drop COL]` runs the same three protocols on your own export, its rows
    in time order: `hotlead bench quality --export deals.csv --label Stage`."""
    from bot.bench import quality

    def summary(result: dict[str, Any]) -> str:
        return "\n".join(
            f"{name}: skipped ({f['skipped']})" if "skipped" in f else
            f"{name}: as used (newest 20% imported as open leads, trained, scored) "
            + (f"AUC {f['as_used']['auc']:.3f} ({f['as_used']['winner']}, train {f['as_used']['train_seconds']} s); "
               if "auc" in f["as_used"] else f"not promoted ({f['as_used']['refused']}); ")
            + f"forward in time (newest 20% held out) AUC {f['forward']['auc']:.3f} "
            f"(logistic regression {f['forward']['baseline_auc']:.3f}, "
            f"plain XGBoost {f['forward']['xgboost_auc']:.3f}; "
            f"fit {f['forward']['train_seconds']} s vs XGBoost's {f['forward']['xgboost_train_seconds']} s); "
            f"shuffled {folds}-fold AUC {f['shuffled']['auc']:.3f} ± {f['shuffled']['std']:.3f}; {f['rows']:,} rows, "
            f"{f['features']} features" + (f"; published: {f['published']}" if f['published'] else "")
            for name, f in result.items()
        )

    own = None
    if export is not None:
        if not label:
            raise click.UsageError("--export needs --label COLUMN (the won/lost column)")
        own = quality.DataSet(export.stem, export, label, drop, "")
    elif label or drop:
        raise click.UsageError("--label and --drop go with --export FILE")
    _show(quality.run(folds, home, own), as_json, summary)


@bench.command(name="speed")
@click.option("--leads", default=100_000, show_default=True, type=click.IntRange(1000), help="Demo leads to build.")
@click.option("--database", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Measure on this existing SQLite file instead (its models and score history change).")
@click.option("--db", "url", metavar="URL",
              help="Build the demo in this database instead of a temporary SQLite file (SQLite or PostgreSQL, e.g. "
                   "postgresql+psycopg://…): its Hotlead tables are replaced, so give it a database of its own.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_speed(leads: int, database: Path | None, url: str | None, as_json: bool) -> None:
    """Import, rescore, explain-all and `why` speed on a demo database, and training time; `engine` says which
    database engine the figures are for. The database is built as `hotlead demo` builds it: its files imported,
    its conversations read with HOTLEAD_NLP (`nlp_s`), so the model timed is the one users get."""
    from bot.bench import speed
    from bot.config import Settings

    if database is not None and url is not None:
        raise click.UsageError("--database and --db name the same thing: give one")
    nlp = Settings.from_env().hotlead_nlp
    _show(speed.run(leads, database=database, url=url, nlp=nlp), as_json, lambda r: (
        f"{r['engine']}: {r['leads']:,} leads ({r['active_leads']:,} active): "
        f"rescore {r['rescore_leads_per_s']:,} leads/s, "
        f"reasons {r['explain_leads_per_s']:,} leads/s, why p99 {r['why_p99_ms']} ms, training {r['train_s']} s"))


@bench.command(name="nlp")
@click.option("--messages", default=2000, show_default=True, type=click.IntRange(100), help="Messages to time.")
@click.option("--data", "home", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the public data sets (default: ../shared/data beside the checkout or this folder).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_nlp(messages: int, home: Path | None, as_json: bool) -> None:
    """Messages per second with the transformer and with the rules; `load_s`, a fresh process's wait for its first
    message from its start (imports included); held-out quality on our sentences and on each public set found,
    beside VADER on the same texts."""
    from bot.bench import nlp_speed
    from bot.bench.quality import data_home

    def said(r: dict[str, Any]) -> str:
        lines = [f"transformer ({r['backend']}) {r['messages_per_s']:,} msg/s, first message {r['load_s']} s after "
                 f"start; rules {r['rules_messages_per_s']:,} msg/s"]
        for name, scores in r["held_out"].items():
            metric = "macro_f1" if "macro_f1" in scores else "auc"
            lines.append(f"  {name:<28} {metric} {scores[metric]:.3f} (VADER {scores['vader_' + metric]:.3f})")
        return "\n".join(lines)

    folder = data_home(home)
    _show(nlp_speed.run(messages, folder if folder.is_dir() else None), as_json, said)


@bench.command(name="chat")
@click.option("--leads", default=2000, show_default=True, type=click.IntRange(500), help="Demo leads to build.")
@click.option("--questions", default=300, show_default=True, type=click.IntRange(20), help="Questions to time.")
@click.option("--concurrency", default=10, show_default=True, type=click.IntRange(1, 100),
              help="Askers at once; each waits for its answer before asking again.")
@click.option("--database", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Measure on this existing, trained SQLite file instead of a fresh demo.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_chat(leads: int, questions: int, concurrency: int, database: Path | None, as_json: bool) -> None:
    """Slack question to reply: signed mentions to a local `hotlead serve`, timed until the answer reaches a
    local fake of the Slack Web API (p50, p99, questions per second)."""
    from bot.bench import chat

    _show(chat.run(leads, questions, concurrency, database), as_json, lambda r: (
        f"{r['questions']} questions from {r['concurrency']} askers on {r['leads']:,} leads: p50 {r['p50_ms']} ms, "
        f"p99 {r['p99_ms']} ms, {r['questions_per_s']} questions/s"))


@bench.command(name="push")
@click.option("--leads", default=2000, show_default=True, type=click.IntRange(500), help="Demo leads to build.")
@click.option("--rate", default=50.0, show_default=True, type=click.FloatRange(1, 1000), help="Events per second.")
@click.option("--seconds", default=60.0, show_default=True, type=click.FloatRange(1, 3600), help="How long.")
@click.option("--database", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Measure on this existing, trained SQLite file (demo sessions and events are added to it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_push(leads: int, rate: float, seconds: float, database: Path | None, as_json: bool) -> None:
    """Event to WhatsApp alert: pricing-page events posted to a local `hotlead serve` at a steady rate during open
    demo sessions, timed until the alert reaching a local fake of the Twilio API reports them (p50, p99, lost)."""
    from bot.bench import push

    _show(push.run(leads, rate, seconds, database), as_json, lambda r: (
        f"{r['events']:,} events at {r['events_per_s']}/s into {r['sessions']} demo sessions: p50 {r['p50_ms']} ms, "
        f"p99 {r['p99_ms']} ms to the WhatsApp alert, {r['lost']} lost, {r['messages']} messages"))


@bench.command(name="busy")
@click.option("--leads", default=2000, show_default=True, type=click.IntRange(500), help="Demo leads to build.")
@click.option("--rows", default=200_000, show_default=True, type=click.IntRange(1000),
              help="Activity rows the import loads meanwhile.")
@click.option("--rate", default=20.0, show_default=True, type=click.FloatRange(1, 1000), help="Events per second.")
@click.option("--askers", default=2, show_default=True, type=click.IntRange(0, 32), help="Slack askers at once.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_busy(leads: int, rows: int, rate: float, askers: int, as_json: bool) -> None:
    """The server during a bulk import: a local `hotlead serve` takes /api/events at a steady rate and Slack
    questions while `hotlead import activities` loads ROWS rows into the same SQLite file; reports 5xx, latency
    (p50, p99), events spooled and lost, and questions unanswered."""
    from bot.bench import busy

    def summary(r: dict[str, Any]) -> str:
        e, q = r["events"], r["questions"]
        return (f"import of {r['import_rows']:,} rows took {r['import_s']} s (exit {r['import_exit']}); meanwhile "
                f"{e['posted']:,} /api/events: {e['5xx']} 5xx, {e['unanswered']} unanswered, {e['spooled']} spooled, "
                f"{e['lost']} lost, p50 {e['p50_ms']} ms, p99 {e['p99_ms']} ms; {q['asked']} questions: "
                f"{q['unanswered']} unanswered, p50 {q['p50_ms']} ms, p99 {q['p99_ms']} ms")

    _show(busy.run(leads, rows, rate, askers), as_json, summary)


@bench.command(name="crm")
@click.option("--contacts", default=2000, show_default=True, type=click.IntRange(10), help="Contacts in the portal.")
@click.option("--companies", default=400, show_default=True, type=click.IntRange(1), help="Companies.")
@click.option("--deals", default=600, show_default=True, type=click.IntRange(1), help="Deals (one contact each).")
@click.option("--engagements", default=10_000, show_default=True, type=click.IntRange(1),
              help="Emails, meetings, calls and notes.")
@click.option("--no-pace", "unpaced", is_flag=True,
              help="Lift HubSpot's 5 searches a second, in the fake and in Hotlead's connector: Hotlead's own side.")
@click.option("--db", "url", metavar="URL",
              help="Sync into this database instead of a temporary SQLite file (SQLite or PostgreSQL, e.g. "
                   "postgresql+psycopg://…): its Hotlead tables are replaced, so give it a database of its own.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_crm(contacts: int, companies: int, deals: int, engagements: int, unpaced: bool, url: str | None,
              as_json: bool) -> None:
    """What `hotlead sync` costs a user against HubSpot: a whole portal's first sync, then a second sync after 100
    changes (80 contacts touched or reassigned, 20 open deals won), each `hotlead sync --json` run in a fresh
    process and timed from its start to its exit (imports included), as a user waits for it.

    A local fake stands where HubSpot would be (real HTTP on 127.0.0.1, a generated portal with owners, companies,
    contacts, deals and engagements), with HubSpot's documented limits: 5 searches a second (Hotlead paces itself
    under it), 200 results a search page, 100 ids an association read. The figures are Hotlead's side and the
    pace; HubSpot's own latency over the internet comes on top. Reported: records per kind, `seconds` and
    `records_per_s` (wall clock) beside `sync_seconds` (inside the CLI), the searches and other requests made,
    429 answers received, what the second sync read, and the database `engine`."""
    from bot.bench import crm

    if deals > contacts:
        raise click.UsageError(f"--deals {deals} is more than --contacts {contacts}: each deal has a contact of its "
                               "own")

    def summary(r: dict[str, Any]) -> str:
        first, second = r["first"], r["second"]
        return (f"{r['engine']}, {'paced at 5 searches/s' if r['paced'] else 'unpaced'}: "
                f"{sum(r['records'].values()):,} records in {first['seconds']} s ({first['records_per_s']:,}/s, "
                f"{first['searches']} searches, {first['other_requests']} other requests, {first['answered_429']} "
                f"429s); {sum(second['read'].values())} changed records in {second['seconds']} s")

    _show(crm.run(contacts, companies, deals, engagements, paced=not unpaced, url=url), as_json, summary)
