"""One Settings object, read once from the environment (the only place that reads os.environ)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import time
from typing import Any

from storage.roles import REP_ROLES


class SettingError(RuntimeError):
    """A setting is missing or has a value Hotlead cannot use; the message names the variable."""


class MissingSettingError(SettingError):
    """Settings the requested features need are not set (one or several, each with what it is for)."""

    def __init__(self, name: str, purpose: str, *more: tuple[str, str]) -> None:
        missing = [(name, purpose), *more]
        if len(missing) == 1:
            super().__init__(f"{name} is not set: it is needed for {purpose}")
        else:
            super().__init__(f"{len(missing)} settings are not set: "
                             + "; ".join(f"{n} (for {p})" for n, p in missing))
        self.name = name
        self.names = [n for n, _ in missing]


QUIET_OFF = ("off", "none", "no", "")
QUIET_PATTERN = re.compile(r"(\d{1,2}):([0-5]\d)\s*-\s*(\d{1,2}):([0-5]\d)")
BANDS = ("hot", "warm", "cold")
DEFAULT_ROUTING = "hot=senior,rep; warm=bdr,rep; cold=bdr,rep"
CHOICES = {"hotlead_nlp": ("transformer", "rules"), "hotlead_share": ("all", "reps", "owned")}


@dataclass(frozen=True)
class Settings:
    """Every setting Hotlead reads; the field name in upper case is the environment variable."""

    hotlead_database_url: str = "sqlite:///hotlead.db"
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    hotlead_public_url: str | None = None
    hotlead_api_token: str | None = None
    hotlead_alert_channel: str | None = None
    hotlead_digest_channel: str | None = None
    hotlead_timezone: str = "UTC"
    hotlead_nlp: str = "transformer"
    hotlead_whatsapp_template: str | None = None  # approved template (Content SID) outside the 24-hour window
    hotlead_share: str = "all"  # all | reps (registered reps only, also in Slack) | owned (own + unassigned)
    hotlead_retrain_days: int = 30  # days between scheduled retrainings
    hotlead_outbox_lease_s: int = 300  # an alert claimed longer ago by a process that died is sent by another
    hotlead_quiet_hours: str = "off"  # e.g. 20:00-08:00: owner DMs wait until the end, in each rep's time zone
    hotlead_routing: str = DEFAULT_ROUTING  # who is suggested for an unassigned lead, by band: roles in order
    hotlead_holdout_share: float = 0.0  # a random, stable share of new leads whose alerts ignore the model
    # CRM connectors (`hotlead connect`, `hotlead sync`): a HubSpot private app's token; Salesforce OAuth (a
    # connected app's client id and secret, with a username + password + security token, or alone for the
    # client-credentials flow)
    hubspot_access_token: str | None = None
    hubspot_api_url: str = "https://api.hubapi.com"
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_client_id: str | None = None
    salesforce_client_secret: str | None = None
    salesforce_username: str | None = None
    salesforce_password: str | None = None
    salesforce_security_token: str | None = None
    hotlead_crm_won_stages: str = "closedwon,Closed Won"  # deal stages that are a won outcome (comma-separated)
    hotlead_crm_lost_stages: str = "closedlost,Closed Lost"  # and a lost one; any other stage stays open
    hotlead_sync_minutes: int = 15  # `serve` pulls from the connected CRM this often (0: never)
    hotlead_crm_lookback_minutes: int = 10  # each sync reads again this long before its cursor (late commits)

    def __post_init__(self) -> None:
        # from_env passes text; a number that is not one must fail at start-up, naming its variable
        days = str(self.hotlead_retrain_days).strip()
        if not days.isdecimal() or int(days) < 1:
            raise SettingError(f"HOTLEAD_RETRAIN_DAYS must be a whole number of days (1 or more), not {days!r}")
        object.__setattr__(self, "hotlead_retrain_days", int(days))
        lease = str(self.hotlead_outbox_lease_s).strip()
        if not lease.isdecimal() or int(lease) < 1:
            raise SettingError(f"HOTLEAD_OUTBOX_LEASE_S must be a whole number of seconds (1 or more), not {lease!r}")
        object.__setattr__(self, "hotlead_outbox_lease_s", int(lease))
        minutes = str(self.hotlead_sync_minutes).strip()
        if not minutes.isdecimal():
            raise SettingError(f"HOTLEAD_SYNC_MINUTES must be a whole number of minutes (0: never), not {minutes!r}")
        object.__setattr__(self, "hotlead_sync_minutes", int(minutes))
        lookback = str(self.hotlead_crm_lookback_minutes).strip()
        if not lookback.isdecimal():
            raise SettingError(f"HOTLEAD_CRM_LOOKBACK_MINUTES must be a whole number of minutes (0: none), not "
                               f"{lookback!r}")
        object.__setattr__(self, "hotlead_crm_lookback_minutes", int(lookback))
        share = str(self.hotlead_holdout_share).strip()
        try:
            holdout = float(share)
        except ValueError:
            holdout = -1.0
        if not 0.0 <= holdout <= 0.5:
            raise SettingError(f"HOTLEAD_HOLDOUT_SHARE must be a share from 0 (off) to 0.5, such as 0.2, not {share!r}")
        object.__setattr__(self, "hotlead_holdout_share", holdout)
        self.quiet_hours()  # these two refuse an unusable value at start-up
        self.routes()
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise SettingError(f"{name.upper()} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment; empty values count as unset."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(field.name.upper(), "").strip()
            if raw:
                values[field.name] = raw
        return cls(**values)

    @classmethod
    def variable_names(cls) -> list[str]:
        """The environment variable names, in declaration order."""
        return [field.name.upper() for field in fields(cls)]

    def quiet_hours(self) -> tuple[time, time] | None:
        """(from, until) of the reps' quiet hours in their own time zones, or None when they are off."""
        value = self.hotlead_quiet_hours.strip().lower()
        if value in QUIET_OFF:
            return None
        found = QUIET_PATTERN.fullmatch(value)
        if found is None:
            raise SettingError(f"HOTLEAD_QUIET_HOURS must look like 20:00-08:00 (or be off), not {value!r}")
        start_hour, start_minute, end_hour, end_minute = (int(part) for part in found.groups())
        if max(start_hour, end_hour) > 23 or (start_hour, start_minute) == (end_hour, end_minute):
            raise SettingError("HOTLEAD_QUIET_HOURS must be two different times of day (00:00 to 23:59), "
                               f"not {value!r}")
        return time(start_hour, start_minute), time(end_hour, end_minute)

    def routes(self) -> dict[str, tuple[str, ...]]:
        """For each band, the rep roles an unassigned lead is suggested to, first choice first."""
        found: dict[str, tuple[str, ...]] = {}
        for rule in filter(None, (part.strip() for part in self.hotlead_routing.split(";"))):
            band, _, roles = (text.strip().lower() for text in rule.partition("="))
            chosen = tuple(filter(None, (role.strip() for role in roles.split(","))))
            if band not in BANDS or not chosen or any(role not in REP_ROLES for role in chosen):
                raise SettingError(f"HOTLEAD_ROUTING must look like {DEFAULT_ROUTING!r} (bands {', '.join(BANDS)}; "
                                   f"roles {', '.join(REP_ROLES)}), not {self.hotlead_routing!r}")
            found[band] = chosen
        return found

    def require_all(self, needs: list[tuple[str, str]]) -> None:
        """Raise one MissingSettingError naming every one of `needs` (name, purpose) that is not set, so that a
        server is not restarted once per missing variable."""
        missing = [(name.upper(), purpose) for name, purpose in needs if not getattr(self, name.lower())]
        if missing:
            raise MissingSettingError(*missing[0], *missing[1:])

    def require(self, name: str, purpose: str) -> str:
        """Return a secret or setting that must be present, or raise naming the variable."""
        value = getattr(self, name.lower())
        if not value:
            raise MissingSettingError(name.upper(), purpose)
        return str(value)

    def __repr__(self) -> str:
        shown = {f.name: _shown(f.name, getattr(self, f.name)) for f in fields(self)}
        return f"Settings({shown})"


def _shown(name: str, value: object) -> object:
    """A setting as logs may show it: secrets masked, a database URL without its password."""
    if _is_secret(name) and value:
        return "***"
    if name == "hotlead_database_url" and isinstance(value, str):
        from sqlalchemy.engine import make_url  # here: reading settings must not load SQLAlchemy
        from sqlalchemy.exc import ArgumentError

        try:
            return make_url(value).render_as_string(hide_password=True)
        except ArgumentError:  # not a URL at all: it may still hold a password
            return "***"
    return value


def _is_secret(name: str) -> bool:
    return any(part in name for part in ("token", "secret", "auth", "password"))
