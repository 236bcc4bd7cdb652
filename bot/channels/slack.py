"""Slack adapter: mentions, DMs, `/hotlead` and buttons in; Block Kit out. Bolt acks, then the router works."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse, Respond
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.channels.mrkdwn import escape, from_slack, shorten
from bot.clients import slack_client
from bot.config import Settings
from bot.replies import ACTION_QUESTIONS, MORE, Action, Reply, clip, split_message
from bot.router import Deps, IncomingMessage, dispatch
from storage.history import RepRow, find_rep
from storage.seen import first_sighting, forget_sightings

log = logging.getLogger(__name__)
SECTION_LIMIT = 3000  # Slack refuses section text over 3,000 characters
FALLBACK_LIMIT = 3000  # the notification text beside the blocks
MAX_BLOCKS = 50  # Slack refuses a message with more
BUTTON_LIMIT = 75
REMEMBERED = timedelta(days=1)  # Slack retries within minutes; a signed request is good for five
PRUNE_EVERY = timedelta(minutes=10)
REFUSAL = "Sorry, I only answer registered reps. Ask your Hotlead admin to add you (`hotlead import reps`)."
QUESTION_SUBTYPES = {None, "file_share", "thread_broadcast"}  # a DM with a file attached is still a question


def sections(text: str) -> list[dict[str, Any]]:
    """Hotlead text (its own markup, data inside) as mrkdwn section blocks: escaped, then cut to Slack's limit
    between lines or words, never inside markup."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": piece or " "}}
            for piece in split_message(escape(text), SECTION_LIMIT)]


def _button(label: str, action_id: str, value: str, primary: bool = False) -> dict[str, Any]:
    button = {"type": "button", "text": {"type": "plain_text", "text": shorten(escape(label), BUTTON_LIMIT),
                                         "emoji": True},
              "action_id": action_id, "value": value[:2000]}
    return {**button, "style": "primary"} if primary else button


def blocks(reply: Reply) -> list[dict[str, Any]]:
    """The reply as Block Kit: sections, then choice buttons, then lead buttons; everything that came from data
    or from the asker is escaped, and a reply longer than a message says how much it left out."""
    found = sections(reply.text)
    for section in reply.sections:
        found += sections("\n".join(([f"*{section.title}*"] if section.title else []) + list(section.lines)))
    buttons = []
    if reply.choices:
        buttons.append({"type": "actions", "elements": [
            _button(c.label, f"hl_choose_{i}", c.question) for i, c in enumerate(reply.choices[:25])]})
    if reply.actions:
        buttons.append({"type": "actions", "elements": [
            _button(a.label, f"hl_{a.name}", a.lead, primary=a.name == "why") for a in reply.actions]})
    room = MAX_BLOCKS - len(buttons)
    if len(found) > room:
        left_out = sum(block["text"]["text"].count("\n") + 1 for block in found[room - 1:])
        found = found[: room - 1] + [{"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"{MORE} and {left_out} more lines that do not fit in one message: ask for fewer (e.g. `top 10`).")}]}]
    return found + buttons


def fallback(text: str) -> str:
    """The notification text beside blocks (escaped like them, cut between lines)."""
    return clip(escape(text), FALLBACK_LIMIT, MORE)


def message(reply: Reply) -> dict[str, Any]:
    """What chat.postMessage, a response_url and the outbox get for a reply: `text` and `blocks`."""
    return {"text": fallback(reply.plain(numbered=False)), "blocks": blocks(reply)}


class SeenEvents:
    """Requests already handled, kept in the database so that every server process shares them: Slack retries a
    slow ack (X-Slack-Retry-Num) and a load balancer may hand the retry to another process."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))
        self._pruned_at: datetime | None = None

    def first_time(self, key: str) -> bool:
        """True the first time a key is seen, by any process."""
        now = self.clock()
        with self.engine.begin() as conn:
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                forget_sightings(conn=conn, before=now - REMEMBERED)
                self._pruned_at = now
            # stored as a digest: an id is the sender's text (a lone surrogate, a NUL byte), a digest always fits
            digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
            return first_sighting(conn=conn, key=digest, now=now)


def _rep(deps: Deps, user: str | None) -> RepRow | None:
    """Who asks, read for every question (one index lookup): a rep added, or a role changed, by any process
    counts at once."""
    if not user:
        return None
    with deps.engine.connect() as conn:
        return find_rep(conn=conn, key="slack_user_id", value=user)


def _answer(deps: Deps, text: str, user: str | None) -> Reply:
    rep = _rep(deps, user)
    if rep is None and deps.settings.hotlead_share != "all":
        return Reply(REFUSAL)
    return dispatch(IncomingMessage(from_slack(text), "slack", user or "", rep), deps)


def post(client: WebClient, channel: str, reply: Reply, thread_ts: str | None = None) -> None:
    """Post a reply (Block Kit with a plain-text fallback)."""
    client.chat_postMessage(channel=channel, **message(reply), thread_ts=thread_ts, unfurl_links=False)


def malformed(body: Any) -> str | None:
    """What is wrong with a signed body's shape, or None: Bolt assumes objects where Slack sends them."""
    if not isinstance(body, dict):
        return "the body is not an object"
    for key, kind in (("event", dict), ("actions", list), ("user", (dict, str)), ("channel", (dict, str)),
                      ("text", str), ("event_id", str), ("trigger_id", str)):
        if key in body and not isinstance(body[key], kind):
            return f"`{key}` has the wrong type"
    if body.get("type") == "block_actions" and not (body.get("actions") and all(
            isinstance(action, dict) and isinstance(action.get("action_id"), str) for action in body["actions"])):
        return "a block_actions request without actions"
    event = body.get("event") or {}
    if "type" in event and not isinstance(event["type"], str):
        return "`event.type` is not a string"
    if event.get("type") in ("app_mention", "message"):  # the events Hotlead reads (others may hold objects)
        for key in ("text", "user", "channel", "ts", "thread_ts", "subtype", "channel_type"):
            if key in event and event[key] is not None and not isinstance(event[key], str):
                return f"`event.{key}` is not a string"
    return None


class HotleadBolt(App):
    """Bolt's App, except that a signed request no listener takes (Slack's `app_rate_limited`, an event type
    added later) is acknowledged and logged instead of answered 404 or left unacked over Socket Mode: Slack
    turns event subscriptions off when too many deliveries fail."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        """Bolt's dispatch; a body of a shape Slack never sends is refused before Bolt reads it (400 over HTTP,
        acknowledged and dropped over Socket Mode), and an unhandled request gets 200."""
        problem = malformed(req.body)
        if problem:
            log.warning("Slack request refused: %s", problem)
            return BoltResponse(status=200 if req.mode == "socket_mode" else 400, body=problem)
        response = super().dispatch(req)
        if response.status == 404:
            body = req.body if isinstance(req.body, dict) else {}
            kind = (body.get("event") or {}).get("type") or body.get("type") or "unknown"
            if kind == "app_rate_limited":  # events were dropped: worth a warning, not just a note
                log.warning("Slack held back this app's events for the minute starting %s (app_rate_limited)",
                            body.get("minute_rate_limited"))
            else:
                log.info("Slack sent a %s request that Hotlead does not handle: acknowledged", kind)
            return BoltResponse(status=200, body="")
        return response


def slack_app(settings: Settings, deps: Deps) -> App:
    """The Bolt app: requests arrive signature-checked (`starlette_endpoint`) or over Socket Mode; events are
    de-duplicated; work is done after the ack."""
    settings.require("SLACK_BOT_TOKEN", "answering in Slack")  # the client carries it (Bolt warns if given twice)
    app = HotleadBolt(
        signing_secret=settings.require("SLACK_SIGNING_SECRET", "checking that requests come from Slack"),
        client=slack_client(settings), token_verification_enabled=False,
        request_verification_enabled=False,  # starlette_endpoint checks it first; Socket Mode needs none
        raise_error_for_unhandled_request=False)
    seen = SeenEvents(deps.engine)

    @app.middleware
    def once(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
        # events by their id (Slack retries a slow ack); commands and clicks by their trigger id (each is unique,
        # so a signed request replayed within the signature's five minutes runs once)
        key = body.get("event_id") or body.get("trigger_id")
        if isinstance(key, str) and not seen.first_time(key):
            log.info("Slack request %s came again: already answered", key)
            return BoltResponse(status=200, body="")
        return next()

    @app.event("app_mention")
    def mention(event: dict[str, Any], client: WebClient) -> None:
        reply = _answer(deps, event.get("text", ""), event.get("user"))
        post(client, event["channel"], reply, thread_ts=event.get("thread_ts") or event.get("ts"))

    @app.event("message")
    def direct(event: dict[str, Any], client: WebClient) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype") not in QUESTION_SUBTYPES:
            return  # only people's own words in a DM; the bot's posts and edits are not questions
        reply = _answer(deps, event.get("text", ""), event.get("user"))
        post(client, event["channel"], reply, thread_ts=event.get("thread_ts"))  # a DM thread is answered in it

    def ack_command(ack: Ack) -> None:
        ack()

    def run_command(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        reply = _answer(deps, body.get("text") or "help", body.get("user_id"))
        _deliver(client, respond, body.get("channel_id"), reply)

    app.command("/hotlead")(ack=ack_command, lazy=[run_command])

    def run_action(body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext) -> None:
        action = body["actions"][0]
        name = action["action_id"].removeprefix("hl_")
        question = action["value"] if name.startswith("choose") else Action("", name, action["value"]).question
        reply = _answer(deps, question, (body.get("user") or {}).get("id"))
        channel = (body.get("channel") or {}).get("id") or context.channel_id
        _deliver(client, respond, channel, reply)

    app.action(re.compile(r"^hl_(choose_\d+|" + "|".join(ACTION_QUESTIONS) + ")$"))(ack=ack_command, lazy=[run_action])
    return app


def _deliver(client: WebClient, respond: Respond, channel: str | None, reply: Reply) -> None:
    """Post to the channel; where the bot may not post (not a member), answer through the response URL."""
    if channel:
        try:
            post(client, channel, reply)
            return
        except SlackApiError as exc:
            log.info("could not post to %s (%s): answering privately", channel, exc.response.get("error"))
    respond(**message(reply), response_type="ephemeral")


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def connect_socket_mode(app: App, settings: Settings) -> SocketModeHandler:
    """Reach Slack over Socket Mode with SLACK_APP_TOKEN (no public URL needed): the same Bolt app answers
    what arrives on the WebSocket, acknowledged there. Close it with `.close()`."""
    handler = SocketModeHandler(app, settings.require("SLACK_APP_TOKEN", "connecting to Slack over Socket Mode"))
    handler.connect()
    return handler


def starlette_endpoint(app: App, signing_secret: str, clock: Callable[[], float] = time.time
                       ) -> Callable[[Request], Any]:
    """POST /slack/events: the signature checked (by slack_sdk's verifier, 5 minutes either side of `clock`)
    before the body is read, so that an unsigned body of any shape is a 401, never a parse error; then Bolt's
    dispatch, off the event loop."""
    verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        try:
            signed = verifier.is_valid_request(body, request.headers)
        except ValueError:  # a timestamp that is not a number
            signed = False
        if not signed:
            log.warning("Slack request with a bad, stale or missing signature: refused")
            return Response("invalid request signature", status_code=401)
        try:
            bolt_request = to_bolt_request(request, body)
        except (ValueError, AttributeError, KeyError, TypeError, IndexError):  # signed, yet not the JSON or form
            # object its content type says, or of a shape Bolt cannot read (`"user": false`)
            return Response("malformed request body", status_code=400)
        response = await run_in_threadpool(app.dispatch, bolt_request)
        return to_starlette_response(response)

    return endpoint
