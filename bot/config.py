"""One Settings object, read once from the environment (the only place that reads os.environ)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


class SettingError(RuntimeError):
    """A setting is missing or has a value Hotlead cannot use; the message names the variable."""


class MissingSettingError(SettingError):
    """A setting the requested feature needs is not set."""

    def __init__(self, name: str, purpose: str) -> None:
        super().__init__(f"{name} is not set: it is needed for {purpose}")
        self.name = name


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

    def __post_init__(self) -> None:
        # from_env passes text; a number that is not one must fail at start-up, naming its variable
        days = str(self.hotlead_retrain_days).strip()
        if not days.isdecimal() or int(days) < 1:
            raise SettingError(f"HOTLEAD_RETRAIN_DAYS must be a whole number of days (1 or more), not {days!r}")
        object.__setattr__(self, "hotlead_retrain_days", int(days))
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

    def require(self, name: str, purpose: str) -> str:
        """Return a secret or setting that must be present, or raise naming the variable."""
        value = getattr(self, name.lower())
        if not value:
            raise MissingSettingError(name.upper(), purpose)
        return str(value)

    def __repr__(self) -> str:
        shown = {
            f.name: ("***" if _is_secret(f.name) and getattr(self, f.name) else getattr(self, f.name))
            for f in fields(self)
        }
        return f"Settings({shown})"


def _is_secret(name: str) -> bool:
    return any(part in name for part in ("token", "secret", "auth"))
