"""The outside world on local ports: Slack and Twilio fakes for tests and benchmarks, and request signing."""

from bot.fakes._server import Call
from bot.fakes.hubspot import FakeHubSpot
from bot.fakes.salesforce import FakeSalesforce
from bot.fakes.signing import interaction_body, slack_event_body, slack_headers, slash_command_body, twilio_signature
from bot.fakes.slack import FakeSlack
from bot.fakes.socket_mode import FakeSocketMode
from bot.fakes.twilio import FakeTwilio

__all__ = [
    "Call",
    "FakeHubSpot",
    "FakeSalesforce",
    "FakeSlack",
    "FakeSocketMode",
    "FakeTwilio",
    "interaction_body",
    "slack_event_body",
    "slack_headers",
    "slash_command_body",
    "twilio_signature",
]
