"""Scheduled work: the weekly manager digest and retraining, kept by APScheduler in the Hotlead database so that
a restart loses nothing (a run missed while the bot was down runs once when it is back, within a grace time).

Every `hotlead serve` process keeps the schedule; a run first claims its slot in the database (`job_run`), so that
however many processes share the database, each scheduled run happens once. Jobs are module-level functions
without arguments: what is stored is a reference to them, and they read the settings of the process that runs
them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from bot.config import Settings
from storage.db import make_engine
from storage.seen import claim_job_run

log = logging.getLogger(__name__)
WEEKLY_DIGEST = "weekly-digest"
RETRAIN = "retrain"
CRM_SYNC = "crm-sync"
CRM_FULL_SYNC = "crm-full-sync"  # not scheduled of its own: the first CRM sync of each day claims it
FULL_SYNC_GAP = timedelta(hours=23)  # a full read once a day (a day less an hour: the sync's times drift)
DIGEST_DAY, DIGEST_HOUR = "mon", 8
MISFIRE_GRACE = timedelta(hours=6)  # a run missed by less than this (bot down, busy) still happens, once


class ScheduleError(ValueError):
    """A schedule setting that cannot be used (an unknown time zone)."""


def weekly_digest() -> None:
    """Job: send the weekly digest to the managers, then queue a decay alert if the model needs attention."""
    from bot.clients import slack_client
    from bot.push.digest import send_digest
    from bot.push.health import queue_decay_alerts

    settings = Settings.from_env()
    engine = make_engine(settings.hotlead_database_url)
    try:
        now = datetime.now(UTC)
        if not claimed(engine, WEEKLY_DIGEST, now, timedelta(days=3)):
            return
        digest, sent = send_digest(settings, engine, slack_client(settings), now)
        queue_decay_alerts(engine, digest.health, now)
        log.info("weekly digest sent to %d of %d recipients", sum(d.error is None for d in sent), len(sent))
    finally:
        engine.dispose()


def retrain() -> None:
    """Job: retrain (promoted only when better), rescore when promoted, then check the model for decay."""
    from bot.push.health import retrain as retrain_model

    settings = Settings.from_env()
    engine = make_engine(settings.hotlead_database_url)
    try:
        now = datetime.now(UTC)
        if not claimed(engine, RETRAIN, now, timedelta(days=settings.hotlead_retrain_days / 2)):
            return
        result = retrain_model(engine, now, nlp_mode=settings.hotlead_nlp)
        log.info("retrained %s (promoted: %s, %d scores moved); %d decay alerts queued", result.version,
                 result.promoted, result.rescored, len(result.alerts))
    finally:
        engine.dispose()


def crm_sync() -> None:
    """Job: pull what changed in the connected CRM and queue the moved scores for write-back (the server's outbox
    sends them). The day's first run reads every record again (`sync --full`): a change the CRM dates nowhere (a
    contact associated with a HubSpot deal later) is found within a day."""
    from bot.crm.sync import Stages, connected, connector_for, sync
    from bot.crm.writeback import queue_moved

    settings = Settings.from_env()
    engine = make_engine(settings.hotlead_database_url)
    try:
        now = datetime.now(UTC)
        crm = connected(engine)
        if crm is None or not claimed(engine, CRM_SYNC, now, timedelta(minutes=settings.hotlead_sync_minutes / 2)):
            return
        connector = connector_for(crm, settings)
        full = claimed(engine, CRM_FULL_SYNC, now, FULL_SYNC_GAP)
        report = sync(engine, connector, Stages.from_settings(settings),
                      lookback=timedelta(minutes=settings.hotlead_crm_lookback_minutes), full=full)
        queued = queue_moved(engine, connector)
        log.info("synced %s%s in %.1f s (%s); %d moved scores queued for write-back", crm, " (full)" if full else "",
                 report["seconds"], ", ".join(f"{k} {v['read']}" for k, v in report["objects"].items()), queued)
    finally:
        engine.dispose()


def claimed(engine: Engine, job: str, now: datetime, gap: timedelta) -> bool:
    """Whether this process runs this job now: no process ran it within `gap` (half its period), and this one
    claimed the run first."""
    with engine.begin() as conn:
        if claim_job_run(conn=conn, job=job, now=now, not_since=now - gap):
            return True
    log.info("%s already ran in another process: not running it again", job)
    return False


@dataclass(frozen=True)
class JobSpec:
    """A job as the settings define it; `name` describes the schedule, so a changed setting is noticed."""

    id: str
    name: str
    func: Callable[[], None]
    trigger: BaseTrigger


def time_zone(settings: Settings) -> ZoneInfo:
    """HOTLEAD_TIMEZONE as a time zone, or ScheduleError."""
    try:
        return ZoneInfo(settings.hotlead_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"HOTLEAD_TIMEZONE {settings.hotlead_timezone!r} is not a time zone "
                            "(use an IANA name such as Europe/Berlin)") from None


def weekly_trigger(settings: Settings) -> CronTrigger:
    """Mondays at 08:00 in HOTLEAD_TIMEZONE."""
    return CronTrigger(day_of_week=DIGEST_DAY, hour=DIGEST_HOUR, minute=0, timezone=time_zone(settings))


def job_specs(settings: Settings) -> list[JobSpec]:
    """The jobs the settings ask for."""
    days = settings.hotlead_retrain_days
    return [
        JobSpec(WEEKLY_DIGEST, f"weekly digest, Mondays 08:00 {settings.hotlead_timezone}", weekly_digest,
                weekly_trigger(settings)),
        JobSpec(RETRAIN, f"retrain every {days} days", retrain,
                IntervalTrigger(days=days, timezone=time_zone(settings))),
    ] + ([JobSpec(CRM_SYNC, f"CRM sync every {settings.hotlead_sync_minutes} minutes", crm_sync,
                  IntervalTrigger(minutes=settings.hotlead_sync_minutes, timezone=time_zone(settings)))]
         if settings.hotlead_sync_minutes else [])


def _store(settings: Settings) -> SQLAlchemyJobStore:
    return SQLAlchemyJobStore(engine=make_engine(settings.hotlead_database_url))


def start_scheduler(settings: Settings) -> BackgroundScheduler:
    """Start the scheduler on the Hotlead database; jobs already stored with the same schedule keep their next
    run time (an interval must not restart with every restart of the bot); changed ones are replaced."""
    scheduler = BackgroundScheduler(
        jobstores={"default": _store(settings)},
        executors={"default": ThreadPoolExecutor(max_workers=1)},  # a digest never competes with a retraining
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": int(MISFIRE_GRACE.total_seconds())},
        timezone=time_zone(settings),
    )
    scheduler.start(paused=True)
    try:
        for spec in job_specs(settings):
            stored = scheduler.get_job(spec.id)
            if stored is None or stored.name != spec.name:
                scheduler.add_job(spec.func, trigger=spec.trigger, id=spec.id, name=spec.name,
                                  replace_existing=True)
    except BaseException:
        scheduler.shutdown(wait=False)
        raise
    scheduler.resume()
    return scheduler


def next_runs(settings: Settings, now: datetime | None = None) -> dict[str, datetime | None]:
    """When each job runs next: as stored by a scheduler that ran on this database, else as it would be
    scheduled when one starts now. Reads the job store without starting a scheduler."""
    moment = now or datetime.now(UTC)
    store = _store(settings)
    store.start(BackgroundScheduler(timezone=time_zone(settings)), "default")
    try:
        stored = {job.id: job for job in store.get_all_jobs()}
    finally:
        store.shutdown()
    runs: dict[str, datetime | None] = {}
    for spec in job_specs(settings):
        job = stored.get(spec.id)
        if job is not None and job.name == spec.name:
            runs[spec.id] = job.next_run_time
        else:
            runs[spec.id] = spec.trigger.get_next_fire_time(None, moment.astimezone(time_zone(settings)))
    return runs
