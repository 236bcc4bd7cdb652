"""Commands for scheduled pushes: the weekly digest on demand, and when the scheduled jobs run next."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli import AppContext, cli, emit_json, pass_app

# The digest needs the scoring stack and matplotlib: imported inside the command, as in bot/cli/scoring.py.


@cli.command()
@click.option("--now", "send_now", is_flag=True,
              help="Build this week's digest now and send it to every manager and HOTLEAD_DIGEST_CHANNEL.")
@click.option("--dry-run", is_flag=True, help="Build the digest now and print it; nothing is sent.")
@click.option("--chart", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="With --dry-run: also write the chart (PNG) to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the digest (or the next run times) as JSON.")
@pass_app
def digest(app: AppContext, send_now: bool, dry_run: bool, chart: Path | None, as_json: bool) -> None:
    """The weekly manager digest: risers and fallers with the reason that moved most, new hot leads, hot leads
    gone quiet, model health, and a chart of score movements.

    It is sent on Mondays at 08:00 in HOTLEAD_TIMEZONE while `hotlead serve` runs; without --now or
    --dry-run this command says when it runs next.
    """
    from bot.jobs import ScheduleError, next_runs

    if not (send_now or dry_run):
        try:
            runs = next_runs(app.settings)
        except ScheduleError as exc:
            raise click.ClickException(str(exc)) from exc
        if as_json:
            emit_json({job: run.isoformat() if run else None for job, run in runs.items()})
            return
        for job, run in runs.items():
            click.echo(f"{job}: {f'{run:%A %d %B %Y, %H:%M %Z}' if run else 'paused'}")
        return
    if chart is not None and not dry_run:
        raise click.UsageError("--chart goes with --dry-run (a sent digest carries its chart)")
    now = datetime.now(UTC)
    if dry_run:
        from bot.push.digest import build_digest

        built = build_digest(app.engine(), now, app.settings.hotlead_holdout_share)
        if chart is not None:
            chart.write_bytes(built.chart)
        if as_json:
            emit_json({**built.as_dict(), "sent": [], "chart": str(chart) if chart else None})
        else:
            click.echo(built.text)
            if chart is not None:
                click.echo(f"\nWrote the chart to {chart}")
        return
    _send(app, now, as_json)


def _send(app: AppContext, now: datetime, as_json: bool) -> None:
    from bot.clients import slack_client
    from bot.push.digest import recipients, send_digest
    from bot.push.health import queue_decay_alerts

    engine = app.engine()
    client = slack_client(app.settings)
    if not recipients(engine, app.settings):
        raise click.ClickException("nobody to send the digest to: no rep with role manager has a Slack id, and "
                                   "HOTLEAD_DIGEST_CHANNEL is not set")
    built, sent = send_digest(app.settings, engine, client, now)
    alerts = queue_decay_alerts(engine, built.health, now)
    failed = [d for d in sent if d.error]
    if as_json:
        emit_json({**built.as_dict(), "sent": [asdict(d) for d in sent], "decay_alerts": len(alerts)})
    else:
        for d in sent:
            click.echo(f"Digest for {d.target}: " + (f"not sent ({d.error})" if d.error else
                                                       f"posted to {d.channel} with its chart ({d.file_id})"))
        if alerts:
            click.echo(f"The model needs attention: {len(alerts)} decay alert(s) queued for the managers.")
    if failed:
        raise click.ClickException(f"the digest could not be sent to {len(failed)} of {len(sent)} recipients")
