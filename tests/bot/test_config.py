from datetime import time

import pytest

from bot.config import MissingSettingError, SettingError, Settings


def test_defaults_apply_when_the_environment_is_empty() -> None:
    settings = Settings.from_env({})
    assert settings.hotlead_database_url == "sqlite:///hotlead.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.hotlead_timezone == "UTC"


def test_values_come_from_upper_case_variables_and_blanks_are_unset() -> None:
    settings = Settings.from_env({"HOTLEAD_TIMEZONE": "Europe/Berlin", "SLACK_BOT_TOKEN": "  "})
    assert settings.hotlead_timezone == "Europe/Berlin" and settings.slack_bot_token is None


def test_a_missing_secret_names_its_variable() -> None:
    with pytest.raises(MissingSettingError, match="SLACK_SIGNING_SECRET is not set"):
        Settings.from_env({}).require("SLACK_SIGNING_SECRET", "Slack request verification")


def test_secrets_never_show_in_the_repr() -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-secret-value", "TWILIO_AUTH_TOKEN": "tw-secret"})
    assert "xoxb-secret-value" not in repr(settings) and "tw-secret" not in repr(settings)


def test_a_setting_with_an_unusable_value_is_one_clear_cli_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from bot.cli import cli

    result = CliRunner().invoke(cli, ["reps"], env={"HOTLEAD_SHARE": "everyone",
                                                    "HOTLEAD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert result.exit_code != 0 and "HOTLEAD_SHARE must be one of all, reps, owned" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value, expected", [
    ("20:00-08:00", (time(20, 0), time(8, 0))), ("7:30 - 9:00", (time(7, 30), time(9, 0))), ("off", None)])
def test_quiet_hours_read_as_a_window_or_off(value: str, expected: tuple[time, time] | None) -> None:
    assert Settings.from_env({"HOTLEAD_QUIET_HOURS": value}).quiet_hours() == expected
    assert Settings.from_env({}).quiet_hours() is None  # off unless the team sets them


@pytest.mark.parametrize("value", ["nights", "20:00", "25:00-08:00", "08:00-08:00"])
def test_unusable_quiet_hours_fail_at_start_up_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingError, match="HOTLEAD_QUIET_HOURS must"):
        Settings.from_env({"HOTLEAD_QUIET_HOURS": value})


@pytest.mark.parametrize("value", ["hot=ninja", "lukewarm=rep", "hot=", "hot senior"])
def test_unusable_routing_fails_at_start_up_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingError, match="HOTLEAD_ROUTING must look like"):
        Settings.from_env({"HOTLEAD_ROUTING": value})


def test_the_settings_repr_shows_no_database_password() -> None:
    shown = repr(Settings(hotlead_database_url="postgresql+psycopg://hotlead:s3cr3t-pw@db.internal:5432/hotlead",
                          slack_bot_token="xoxb-very-secret"))
    assert "s3cr3t-pw" not in shown and "xoxb-very-secret" not in shown
    assert "postgresql+psycopg://hotlead:***@db.internal:5432/hotlead" in shown
    assert "s3cr3t" not in repr(Settings(hotlead_database_url="not a url but s3cr3t"))
