"""Hot-lead alerts: a lead that turned hot (or jumped) is posted to the alert channel and sent to its owner,
or to a suggested owner when it has none; one alert per lead and kind per cooldown; DMs wait out quiet hours.
New leads in the experiment's control arm (HOTLEAD_HOLDOUT_SHARE, scoring/experiment.py) get neither."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot.channels.slack import message
from bot.commands.common import lead_actions, score_line
from bot.config import Settings
from bot.push.outbox import enqueue
from bot.replies import Reply, Section
from scoring.experiment import held_out
from scoring.incremental import Moved
from storage import outbox as outbox_store
from storage import push as store

log = logging.getLogger(__name__)
JUMP = 20.0  # percentile points in one move that deserve an alert even below hot
JUMP_HOLD = timedelta(seconds=60)  # a jump alert waits this long: if the lead turns hot meanwhile, one alert
COOLDOWN = timedelta(hours=24)


def kind_of(moved: Moved) -> str | None:
    """"hot" when the lead crossed into the hot band, "jump" for a sharp rise, None otherwise."""
    before = moved.before
    if moved.band == "hot" and (before is None or before[2] != "hot"):
        return "hot"
    if before is not None and moved.percentile - before[1] >= JUMP:
        return "jump"
    return None


def after_quiet_hours(moment: datetime, zone: str, quiet: tuple[time, time] | None) -> datetime | None:
    """When a DM may be sent if `moment` falls in the rep's quiet hours (`quiet` = local from, until), else None."""
    if quiet is None:
        return None
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        return None
    start, until = quiet
    now = local.time()
    inside = (start <= now or now < until) if start > until else start <= now < until
    if not inside:
        return None
    day = local.date() if now < until else local.date() + timedelta(days=1)
    return datetime.combine(day, until, tzinfo=local.tzinfo).astimezone(UTC)


def suggest_owner(
    engine: Engine, band: str, routes: dict[str, tuple[str, ...]],
) -> tuple[int, str, str | None, str] | None:
    """(id, name, Slack id, time zone) of the rep with the fewest open leads among the roles that take this band
    (HOTLEAD_ROUTING), in their order."""
    with engine.connect() as conn:
        for role in routes.get(band, ("rep",)):
            found = store.least_loaded_rep(conn=conn, role=role)
            if found:
                return found
    return None


def alert_moves(engine: Engine, settings: Settings, moves: list[Moved], now: datetime | None = None) -> list[int]:
    """Queue the alerts these score moves deserve; returns the new alert ids."""
    moment = now or datetime.now(UTC)
    queued: list[int] = []
    quiet = settings.quiet_hours()
    share = settings.hotlead_holdout_share
    for moved in moves:
        kind = kind_of(moved)
        with engine.begin() as conn:
            if kind is None or store.alerted_since(conn=conn, lead_id=moved.lead_id, kind=kind,
                                                   since=moment - COOLDOWN):
                continue
            facts = store.alert_facts(conn=conn, lead_id=moved.lead_id)
            if share and held_out(conn, external_id=str(facts["lead"]), created_at=facts["created_at"], share=share,
                                  now=moment):
                continue  # the experiment's control arm: no alert or routing comes from the model
            if kind == "hot":  # a lead that turns hot while its jump alert still waits gets one alert: the hot one
                outbox_store.supersede_queued(conn, kind="jump", lead_id=moved.lead_id)
        owner = (facts["owner_id"], facts["owner"], facts["owner_slack"], facts["owner_zone"])
        suggested = None
        if facts["owner_id"] is None:
            suggested = suggest_owner(engine, moved.band, settings.routes())
            owner = suggested or owner
        reply = _reply(facts, moved, kind, suggested[1] if suggested else None)
        payload = {**message(reply), "lead": facts["lead"],
                   "probability": moved.probability, "band": moved.band}
        stamp = moment.strftime("%Y%m%d%H%M%S%f")
        held = moment + JUMP_HOLD if kind == "jump" else None
        if settings.hotlead_alert_channel:
            found = enqueue(engine, kind=kind, channel="slack", target=settings.hotlead_alert_channel,
                            dedupe_key=f"{kind}:{moved.lead_id}:channel:{stamp}", payload=payload,
                            lead_id=moved.lead_id, not_before=held, now=moment)
            queued += [found] if found else []
        rep_id, _name, slack_id, zone = owner
        if slack_id:
            quiet_until = after_quiet_hours(moment, str(zone or "UTC"), quiet)
            found = enqueue(engine, kind=kind, channel="slack", target=str(slack_id),
                            dedupe_key=f"{kind}:{moved.lead_id}:owner:{stamp}", payload=payload,
                            lead_id=moved.lead_id, rep_id=int(str(rep_id)),
                            not_before=max((t for t in (held, quiet_until) if t), default=None), now=moment)
            queued += [found] if found else []
    return queued


def _reply(facts: dict[str, object], moved: Moved, kind: str, suggested: str | None) -> Reply:
    who = f"*{facts['name']}*" + (f" ({facts['account']})" if facts["account"] else "")
    move = None if moved.before is None else moved.probability - moved.before[0]
    headline = f"🔥 {who} just turned hot" if kind == "hot" else f"📈 {who} jumped"
    lines = [score_line(moved.probability, moved.percentile, moved.band, move).replace(" this week", "")]
    if suggested:
        lines.append(f"Unassigned: suggested owner *{suggested}*.")
    elif facts["owner"]:
        lines.append(f"Owner: {facts['owner']}")
    why = tuple(("▲ " if r["contribution"] > 0 else "▼ ") + str(r["text"]) for r in moved.reasons)
    return Reply(f"{headline}\n" + "\n".join(lines), (Section("Why", why),),
                 actions=lead_actions(str(facts["lead"]), why=True))
