"""`hotlead bench`: measured performance and quality, as numbers."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import cli, emit_json


@cli.group()
def bench() -> None:
    """Measure Hotlead on this machine (each subcommand prints figures; --json for machines)."""


@bench.command(name="import")
@click.option("--rows", default=1_000_000, show_default=True, type=click.IntRange(1000),
              help="Activity rows in the generated export.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to put the temporary files (default: the system temp folder).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_import(rows: int, workdir: Path | None, as_json: bool) -> None:
    """Import speed (rows/s) and peak memory for a large activity CSV, in a fresh process."""
    from bot.bench import imports

    result = imports.run(rows, workdir)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result['rows']:,} activity rows in {result['seconds']:.1f} s: {result['rows_per_s']:,} rows/s, "
               f"peak memory {result['peak_rss_mb']:.0f} MB "
               f"({result['quarter_peak_rss_mb']:.0f} MB at a quarter of the rows)")


@bench.command(name="quality")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 10), help="Cross-validation folds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_quality(folds: int, as_json: bool) -> None:
    """Cross-validated AUC on the public data sets in ../shared/data, imported with `hotlead import crm`."""
    from bot.bench import quality

    result = quality.run(folds)
    if as_json:
        emit_json(result)
        return
    for name, figures in result.items():
        if "skipped" in figures:
            click.echo(f"{name}: skipped ({figures['skipped']})")
        else:
            click.echo(f"{name}: AUC {figures['auc']:.3f} ± {figures['std']:.3f} over {folds} folds, "
                       f"{figures['rows']:,} rows, {figures['features']} features; published: {figures['published']}")


@bench.command(name="speed")
@click.option("--leads", default=100_000, show_default=True, type=click.IntRange(1000), help="Demo leads to build.")
@click.option("--database", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Measure on this existing SQLite file instead (its models and score history change).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_speed(leads: int, database: Path | None, as_json: bool) -> None:
    """Rescore, explain-all and `why` speed on a demo database, and training time."""
    from bot.bench import speed

    result = speed.run(leads, database=database)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result['leads']:,} leads ({result['active_leads']:,} active): rescore "
               f"{result['rescore_leads_per_s']:,} leads/s, reasons {result['explain_leads_per_s']:,} leads/s, "
               f"why p99 {result['why_p99_ms']} ms, training {result['train_s']} s")


@bench.command(name="nlp")
@click.option("--messages", default=2000, show_default=True, type=click.IntRange(100), help="Messages to time.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_nlp(messages: int, as_json: bool) -> None:
    """Messages per second with the transformer and with the rules, model load time, and held-out quality."""
    from bot.bench import nlp_speed

    result = nlp_speed.run(messages)
    if as_json:
        emit_json(result)
        return
    click.echo(f"transformer {result['messages_per_s']:,} msg/s (load {result['load_s']} s), rules "
               f"{result['rules_messages_per_s']:,} msg/s; sentiment macro-F1 {result['sentiment_macro_f1']} "
               f"(VADER {result['vader_sentiment_macro_f1']}), urgency AUC {result['urgency_auc']} "
               f"(VADER {result['vader_negative_urgency_auc']})")
