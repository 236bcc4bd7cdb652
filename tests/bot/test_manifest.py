"""The Slack app manifest asks for exactly the scopes and events the code uses: no more, no fewer."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from slack_sdk import WebClient

ROOT = Path(__file__).resolve().parents[2]
# Web API methods the code calls, with the bot scope each needs (api.slack.com/methods); a method called that is
# missing here fails the test, so that a new call cannot reach Slack without its scope in the manifest.
METHOD_SCOPES = {
    "chat_postMessage": {"chat:write"},
    "conversations_open": {"im:write"},
    # the outbox reads back an alert whose answer was lost (in the alert channel, public or private, or a DM)
    "conversations_history": {"channels:history", "groups:history", "im:history"},
    "files_upload_v2": {"files:write"},
}
EVENT_SCOPES = {  # Bolt listeners -> (subscribed bot events, scopes)
    "app_mention": ({"app_mention"}, {"app_mentions:read"}),
    "message": ({"message.im"}, {"im:history"}),  # DMs only: the adapter ignores other channel types
}
NOT_WEB_API = {"auth_test", "apps_connections_open"}  # Bolt's own start-up calls, app-level or scope-free


def source() -> str:
    return "\n".join(path.read_text() for path in (ROOT / "bot").rglob("*.py") if "fakes" not in path.parts
                     and "bench" not in path.parts)


def manifest() -> dict:
    return yaml.safe_load((ROOT / "slack-manifest.yml").read_text())


def test_every_web_api_method_the_code_calls_has_a_known_scope() -> None:
    methods = {name for name in dir(WebClient) if not name.startswith("_")}
    called = set(re.findall(r"\.(\w+)\(", source())) & methods - NOT_WEB_API
    called -= {"api_call", "close", "copy", "headers", "options"}  # client plumbing, not Web API methods
    assert called == set(METHOD_SCOPES), "update METHOD_SCOPES and slack-manifest.yml"


def test_the_manifest_asks_for_exactly_the_scopes_the_code_uses() -> None:
    code = source()
    listened = set(re.findall(r'app\.event\("(\w+)"\)', code))
    assert listened == set(EVENT_SCOPES)
    needed = set().union(*METHOD_SCOPES.values(), *(scopes for _, scopes in EVENT_SCOPES.values()))
    if re.search(r'app\.command\("/hotlead"\)', code):
        needed.add("commands")
    app = manifest()
    assert set(app["oauth_config"]["scopes"]["bot"]) == needed
    events = set().union(*(subscribed for subscribed, _ in EVENT_SCOPES.values()))
    assert set(app["settings"]["event_subscriptions"]["bot_events"]) == events
    assert [c["command"] for c in app["features"]["slash_commands"]] == ["/hotlead"]
