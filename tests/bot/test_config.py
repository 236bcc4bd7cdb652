import pytest

from bot.config import MissingSettingError, Settings


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
