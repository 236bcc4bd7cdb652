"""CRM commands: `hotlead connect hubspot|salesforce` sets the connection up, `hotlead sync` pulls what changed and
writes the moved scores back."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from bot.cli import AppContext, cli, emit_json, pass_app
from bot.config import MissingSettingError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.crm.sync import Crm

CRMS = ("hubspot", "salesforce")


def _connector(app: AppContext, crm: str) -> tuple[Crm, str]:
    """The CRM's connector, its credentials checked, and what it said about the account."""
    from bot.crm.errors import CrmError
    from bot.crm.sync import connector_for

    connector = connector_for(crm, app.settings)
    try:
        return connector, connector.check()
    except (MissingSettingError, CrmError) as exc:
        raise click.ClickException(str(exc)) from exc


def _connected(engine: Engine, given: str | None) -> str:
    from bot.crm.sync import connected

    crm = given or connected(engine)
    if crm is None:
        raise click.ClickException("no CRM connected: run `hotlead connect hubspot` or `hotlead connect salesforce`")
    return crm


@cli.command()
@click.argument("crm", type=click.Choice(CRMS))
@click.option("--json", "as_json", is_flag=True, help="Print what was checked and set up as JSON.")
@pass_app
def connect(app: AppContext, crm: str, as_json: bool) -> None:
    """Connect Hotlead to HubSpot or Salesforce: check the credentials (settings HUBSPOT_* or SALESFORCE_*),
    create the score fields in the CRM when they are missing (or say how, where the API cannot), and remember
    the CRM for `hotlead sync`, `hotlead score` and `hotlead serve`."""
    from bot.crm.errors import CrmError
    from storage.crm_sync import connect_crm

    engine = app.engine()
    connector, about = _connector(app, crm)
    try:
        fields = connector.ensure_fields()
    except CrmError as exc:
        raise click.ClickException(str(exc)) from exc
    with engine.begin() as conn:
        connect_crm(conn=conn, crm=crm)
    if as_json:
        emit_json({"crm": crm, "account": about, "fields": fields})
        return
    click.echo(f"Connected to {about}.")
    for line in fields:
        click.echo(f"  {line}")
    click.echo("Next: `hotlead sync` pulls your records; `hotlead serve` does it every HOTLEAD_SYNC_MINUTES.")


@cli.command()
@click.option("--crm", type=click.Choice(CRMS), help="The CRM to pull from (default: the one `connect` set up).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {crm, objects: {name: {read, created, updated, unchanged, refused, rechecked}}, seconds} "
                   "as JSON (rechecked: read again in the look-back window, as they were).")
@click.option("--full", is_flag=True, help="Read every record again, not only those modified since the last sync: "
              "finds changes the CRM does not date (a contact associated with a deal later); only what differs is "
              "written, the rest counted rechecked.")
@pass_app
def sync(app: AppContext, crm: str | None, as_json: bool, full: bool) -> None:
    """Pull what changed in the CRM since the last sync (owners, companies, contacts, deals and engagements, by
    last-modified time), then write back every score that moved since the last write-back."""
    from bot.crm.errors import CrmError
    from bot.crm.sync import Counts, Stages
    from bot.crm.sync import sync as pull
    from bot.progress import progress_bar

    engine = app.engine()
    name = _connected(engine, crm)
    connector, _about = _connector(app, name)
    read: dict[str, int] = {}
    try:
        with progress_bar(f"pulling from {name}") as tick:
            def progress(kind: str, counts: Counts) -> None:
                read[kind] = counts.read + counts.rechecked
                tick(sum(read.values()), 0)  # how many there are, the CRM does not say up front

            report = pull(engine, connector, Stages.from_settings(app.settings),
                          lookback=timedelta(minutes=app.settings.hotlead_crm_lookback_minutes), full=full,
                          progress=progress)
    except CrmError as exc:
        raise click.ClickException(f"{exc} (every page written before it is kept: run `hotlead sync` again)") from exc
    report["written_back"] = write_back(engine, connector)
    if as_json:
        emit_json(report)
        return
    for kind, counts in report["objects"].items():
        click.echo(f"{kind:<12} read {counts['read']:>7,}  created {counts['created']:>7,}  updated "
                   f"{counts['updated']:>7,}  unchanged {counts['unchanged']:>7,}  refused {counts['refused']:>5,}"
                   + (f"  (rechecked {counts['rechecked']:,})" if counts["rechecked"] else ""))
        for refusal in counts["refusals"]:
            click.echo(f"  refused {refusal['crm_id']}: {refusal['why']}")
    click.echo(f"{report['seconds']:.1f} s; {report['written_back']['sent']:,} scores written back to {name}"
               + (f", {report['written_back']['waiting']:,} waiting (retried by `hotlead serve` or the next sync)"
                  if report["written_back"]["waiting"] else ""))


def write_back(engine: Engine, connector: Crm) -> dict[str, int]:
    """Queue the moved scores for the CRM and send what is due now; what could not go stays queued."""
    from bot.crm.writeback import KIND, channel, queue_moved
    from bot.push.outbox import Outbox
    from storage.crm_sync import waiting_writebacks

    queued = queue_moved(engine, connector)
    outbox = Outbox(engine, {connector.name: channel(connector)})
    sent = 0
    while done := outbox.deliver_due(connector.name):  # a batch a pass, until nothing more goes (or the CRM fails)
        sent += done
    with engine.connect() as conn:
        waiting = waiting_writebacks(conn=conn, crm=connector.name, kind=KIND)
    return {"queued": queued, "sent": sent, "waiting": waiting}


def write_back_connected(app: AppContext) -> dict[str, Any] | None:
    """With a CRM connected (`hotlead connect`), write the moved scores back to it; None without one."""
    from bot.crm.errors import CrmError
    from bot.crm.sync import connected, connector_for

    engine = app.engine()
    crm = connected(engine)
    if crm is None:
        return None
    try:
        return write_back(engine, connector_for(crm, app.settings))
    except (MissingSettingError, CrmError) as exc:
        click.echo(f"Scores not written back to {crm}: {exc}", err=True)
        return {"queued": 0, "sent": 0, "waiting": 0, "error": str(exc)}
