"""A local stand-in for the Slack Web API that answers like Slack and records every request."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from bot.fakes._server import Call, FakeServer, Reply, Request, decode_params

BOT_USER_ID = "UHOTLEAD"
BOT_ID = "BHOTLEAD"
TEAM_ID = "T1"

Params = dict[str, Any]


class FakeSlack(FakeServer):
    """The Slack Web API at `.url`; upload URLs and response_urls live on the same server."""

    def __init__(self, token: str | None = None, app_token: str | None = None, socket_url: str | None = None) -> None:
        super().__init__()
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
        self._methods: dict[str, Callable[[Params], Params]] = {
            "auth.test": _auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": lambda p: {"ok": True, "message_ts": self._next_ts()},
            "chat.update": self._update,
            "chat.delete": lambda p: {"ok": True, "channel": p.get("channel"), "ts": p.get("ts")},
            "conversations.open": _conversations_open,
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
        answer = self._methods.get(method, lambda p: {"ok": True})
        return Reply.json(answer(params)), method, params

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
        micros = 1_700_000_000_000_000 + 100 * next(self._ts)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _post_message(self, params: Params) -> Params:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        return {"ok": True, "channel": params["channel"], "ts": ts, "message": _message(params, ts)}

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
        described = []
        for file in files:
            name = self._filenames.get(file.get("id"), "")
            described.append({"id": file.get("id"), "name": name, "title": file.get("title") or name})
        return {"ok": True, "files": described}


def _message(params: Params, ts: Any) -> Params:
    message: Params = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": params.get("text", ""),
        "ts": ts,
    }
    for key in ("blocks", "attachments", "thread_ts"):
        if key in params:
            message[key] = params[key]
    return message


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
