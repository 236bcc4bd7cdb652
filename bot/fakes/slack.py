"""A local stand-in for the Slack Web API that answers like Slack and records every request."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from bot.fakes._server import Call, FakeServer, Reply, Request, decode_params

BOT_USER_ID = "UHOTLEAD"
BOT_ID = "BHOTLEAD"
TEAM_ID = "T1"

Params = dict[str, Any]
MAX_BLOCKS = 50
MAX_TEXT = 40_000  # chat.postMessage refuses longer text with msg_too_long


class FakeSlack(FakeServer):
    """The Slack Web API at `.url`; upload URLs and response_urls live on the same server.

    As strict as Slack where Hotlead could go wrong: blocks are checked with slack_sdk's own Block Kit models
    (`invalid_blocks` with Slack's error body), text over 40,000 characters is `msg_too_long`, and a post to a
    channel (C…/G…) the bot was not invited to (`channels`, or `invite`) is `not_in_channel`; DMs (D…, a user id)
    are always open to the bot.
    """

    def __init__(self, token: str | None = None, app_token: str | None = None, socket_url: str | None = None,
                 channels: Iterable[str] = (), clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock  # message timestamps and the per-channel rate use it: inject one to simulate hours
        self.channels = set(channels)
        self.token = token
        self.app_token = app_token  # apps.connections.open takes the app-level token (xapp-…), not the bot's
        self.socket_url = socket_url  # what apps.connections.open hands out (a FakeSocketMode's url)
        self.url = f"{self.base_url}/api/"
        self.uploads: dict[str, bytes] = {}
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._filenames: dict[str, str] = {}
        self._rate_limited = 0
        self._retry_after = 1
        self.history: dict[str, list[Params]] = {}  # channel id -> messages posted there, oldest first
        self._last_ts = 0
        self._pace: tuple[float, int] | None = None  # (messages per second, burst) per channel, when enforced
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self._hang = threading.Event()  # set: answers flow; clear: posts are taken, their answers held back
        self._hang.set()
        self.held = 0  # answers held back so far
        self._methods: dict[str, Callable[[Params], Params]] = {
            "auth.test": _auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": lambda p: {"ok": True, "channel": p.get("channel"), "ts": p.get("ts")},
            "conversations.open": _conversations_open,
            "conversations.history": self._conversations_history,
            "apps.connections.open": self._connections_open,
            "users.info": _users_info,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    def rate_limit(self, times: int, retry_after: int = 1) -> None:
        """Answer the next `times` Web API requests with 429, Retry-After and error `ratelimited`."""
        with self._changed:
            self._rate_limited = times
            self._retry_after = retry_after

    def pace(self, per_second: float = 1.0, burst: int = 2) -> None:
        """Enforce Slack's pace for chat.postMessage: about `per_second` messages per channel, short bursts of
        `burst` allowed; a faster post is answered 429 `ratelimited` with the Retry-After Slack would give."""
        with self._changed:
            self._pace = (per_second, burst)
            self._buckets.clear()

    def hang(self) -> None:
        """From now on chat.postMessage is carried out (the message is in the channel) but its answer is held back
        until `answer()`: a Slack that accepted a post and answered late, or never before the client gave up."""
        self._hang.clear()

    def answer(self) -> None:
        """Send the held answers and stop holding."""
        self._hang.set()

    def stop(self) -> None:
        """Stop serving (held answers are released first)."""
        self._hang.set()
        super().stop()

    def posted(self, channel: str) -> list[Params]:
        """The messages in a channel (a user id means the bot's DM with that user), oldest first."""
        with self._changed:
            return list(self.history.get(_conversation(channel), []))

    def invite(self, *channels: str) -> None:
        """Invite the bot to these channels (it may post there from now on)."""
        with self._changed:
            self.channels.update(channels)

    def response_url(self, name: str) -> str:
        """A URL on this fake that records what is posted to it as a `response_url` call."""
        return f"{self.base_url}/response/{name}"

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `count` calls to `method` arrived and return all calls to it; AssertionError on timeout."""
        return self._wait(method, count, timeout)

    def clear(self) -> None:
        """Forget recorded calls, refusals and uploads."""
        with self._changed:
            super().clear()
            self.uploads.clear()

    def _answer(self, request: Request) -> tuple[Reply, str | None, Params]:
        if request.path.startswith("/upload/"):
            file_id = request.path.removeprefix("/upload/")
            with self._changed:
                self.uploads[file_id] = request.raw
            return Reply.text(f"OK - {len(request.raw)}"), "upload", {"file_id": file_id}
        if not request.path.startswith("/api/"):
            return Reply.json({"ok": True}), "response_url", decode_params(request, json_values=True)
        with self._changed:
            if self._rate_limited > 0:
                self._rate_limited -= 1
                headers = {"Retry-After": str(self._retry_after)}
                return Reply.json({"ok": False, "error": "ratelimited"}, 429, headers), None, {}
        method = request.path.removeprefix("/api/")
        try:
            params = decode_params(request, json_values=True)
        except ValueError:
            return Reply.json({"ok": False, "error": "invalid_json"}), method, {}
        error = self._auth_error(request, params, method)
        if error:
            return Reply.json({"ok": False, "error": error}), method, params
        if method == "chat.postMessage":
            wait = self._paced(str(params.get("channel") or ""))
            if wait:
                return Reply.json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)}), None, {}
        answer = self._methods.get(method, lambda p: {"ok": True})
        return Reply.json(answer(params)), method, params

    def _respond(self, request: Request) -> Reply:
        reply = super()._respond(request)  # recorded, and done on Slack's side
        if request.path == "/api/chat.postMessage" and not self._hang.is_set():
            with self._changed:
                self.held += 1
                self._changed.notify_all()
            self._hang.wait(timeout=60)  # the answer comes late (the client may have given up by then)
        return reply

    def _paced(self, channel: str) -> int:
        """Seconds to wait (Retry-After) when this post comes too fast for its channel, else 0 (and it counts)."""
        with self._changed:
            if self._pace is None:
                return 0
            rate, burst = self._pace
            now = self.clock()
            tokens, at = self._buckets.get(_conversation(channel), (float(burst), now))
            tokens = min(float(burst), tokens + (now - at) * rate)
            if tokens < 1.0:
                self._buckets[_conversation(channel)] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / rate))
            self._buckets[_conversation(channel)] = (tokens - 1.0, now)
            return 0

    def _auth_error(self, request: Request, params: Params, method: str) -> str | None:
        expected = self.app_token if method == "apps.connections.open" else self.token
        if expected is None:
            return None
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or params.get("token")
        if not given:
            return "not_authed"
        return None if given == expected else "invalid_auth"

    def _connections_open(self, params: Params) -> Params:
        if self.socket_url is None:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_url}

    def _next_ts(self) -> str:
        with self._changed:  # unique and increasing, like Slack's
            micros = max(int(self.clock() * 1_000_000), self._last_ts + 1)
            self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _conversations_history(self, params: Params) -> Params:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel[0] in "CG" and channel not in self.channels:
            return {"ok": False, "error": "not_in_channel"}
        oldest = float(params.get("oldest") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 999))
        start = int(params.get("cursor") or 0)
        with self._changed:
            messages = [m for m in reversed(self.history.get(channel, [])) if float(m["ts"]) > oldest]
        page = messages[start:start + limit]
        if not _truthy(params.get("include_all_metadata")):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(messages)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _refusal(self, params: Params, channel_key: str = "channel") -> Params | None:
        """Slack's error body for a message it would not post, else None."""
        channel = str(params.get(channel_key) or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel[0] in "CG" and channel not in self.channels:
            return {"ok": False, "error": "not_in_channel"}
        if "blocks" in params:
            problem = block_errors(params["blocks"])
            if problem is not None:
                return problem
        if len(str(params.get("text") or "")) > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        return None

    def _post_ephemeral(self, params: Params) -> Params:
        refused = self._refusal(params)
        return refused or {"ok": True, "message_ts": self._next_ts()}

    def _post_message(self, params: Params) -> Params:
        refused = self._refusal(params)
        if refused:
            return refused
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        channel = _conversation(str(params["channel"]))
        message = _message(params, ts)
        with self._changed:
            self.history.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": {k: v for k, v in message.items()
                                                                          if k != "metadata"}}

    def _update(self, params: Params) -> Params:
        ts = params.get("ts")
        message = _message(params, ts)
        return {"ok": True, "channel": params.get("channel"), "ts": ts, "text": message["text"], "message": message}

    def _upload_url(self, params: Params) -> Params:
        file_id = f"F{next(self._file_ids):04d}"
        self._filenames[file_id] = str(params.get("filename", ""))
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: Params) -> Params:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channel = str(params.get("channel_id") or "")
        if channel and channel[0] in "CG" and channel not in self.channels:
            return {"ok": False, "error": "not_in_channel"}
        described = []
        for file in files:
            name = self._filenames.get(file.get("id"), "")
            described.append({"id": file.get("id"), "name": name, "title": file.get("title") or name})
        return {"ok": True, "files": described}


def block_errors(blocks: Any) -> Params | None:
    """Slack's `invalid_blocks` answer for blocks its schema refuses (checked with slack_sdk's models), else
    None."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return {"ok": False, "error": "invalid_blocks_format"}
    if not isinstance(blocks, list):
        return {"ok": False, "error": "invalid_blocks_format"}
    errors = [] if len(blocks) <= MAX_BLOCKS else [f"must be at most {MAX_BLOCKS} items [json-pointer:/blocks]"]
    for i, raw in enumerate(blocks):
        try:
            parsed = Block.parse(raw) if isinstance(raw, dict) else None
            if parsed is None:
                raise SlackObjectFormationError("unsupported block type")
            parsed.to_dict()  # runs the block's own and its elements' validators
        except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as exc:
            errors.append(f"{exc} [json-pointer:/blocks/{i}]")
    if not errors:
        return None
    return {"ok": False, "error": "invalid_blocks", "errors": errors,
            "response_metadata": {"messages": [f"[ERROR] {error}" for error in errors]}}


def _message(params: Params, ts: Any) -> Params:
    message: Params = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": params.get("text", ""),
        "ts": ts,
    }
    for key in ("blocks", "attachments", "thread_ts", "metadata"):
        if key in params:
            message[key] = params[key]
    return message


def _conversation(channel: str) -> str:
    """The conversation a post to `channel` lands in: a user id (U…/W…) means the bot's DM with that user."""
    return "D" + channel if channel[:1] in ("U", "W") else channel


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _auth_test(params: Params) -> Params:
    return {
        "ok": True,
        "url": "https://hotlead.slack.com/",
        "team": "Hotlead",
        "user": "hotlead",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def _conversations_open(params: Params) -> Params:
    if params.get("channel"):
        return {"ok": True, "channel": {"id": params["channel"]}}
    users = params.get("users")
    first = (users.split(",") if isinstance(users, str) else users or [""])[0].strip()
    if not first:
        return {"ok": False, "error": "users_list_not_supplied"}
    return {"ok": True, "channel": {"id": "D" + first}}


def _users_info(params: Params) -> Params:
    user = params.get("user")
    if not user:
        return {"ok": False, "error": "user_not_found"}
    name = f"User {user}"
    profile = {"real_name": name, "display_name": name, "email": f"{str(user).lower()}@example.com"}
    return {
        "ok": True,
        "user": {
            "id": user,
            "team_id": TEAM_ID,
            "name": str(user).lower(),
            "real_name": name,
            "tz": "UTC",
            "tz_offset": 0,
            "is_bot": user == BOT_USER_ID,
            "profile": profile,
        },
    }
