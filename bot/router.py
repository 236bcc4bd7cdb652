"""The chat core: one question in, one Reply out, whatever the channel it came from."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from bot.config import Settings
from bot.replies import Choice, Reply
from bot.spelling import mend
from scoring.errors import ScoringError
from storage.errors import StorageError
from storage.history import LeadName, RepRow

if TYPE_CHECKING:  # bot.commands imports this module
    from bot.commands import Command

log = logging.getLogger(__name__)
_MENTION = re.compile(r"<@[A-Z0-9]+>|^\s*@?hotlead\b[:,]?", re.IGNORECASE)
_POLITE = re.compile(r"^(?:hey|hi|hello|ok|okay|so|please|pls)\b[,!]?\s*|\s*\b(?:please|pls|thanks|thank you)\W*$",
                     re.IGNORECASE)
CHOICES_KEPT_S = 15 * 60
NAMES = frozenset({"who", "a", "b", "segment", "note"})  # names and a rep's words: taken as typed, never mended


@dataclass(frozen=True)
class IncomingMessage:
    """A question from someone: `user` is their Slack id, WhatsApp number or "console"; `rep` who that is."""

    text: str
    channel: str  # slack | whatsapp | console
    user: str
    rep: RepRow | None = None


class Memory:
    """The choices last offered to each asker, so that "2" answers "which one did you mean?"."""

    def __init__(self) -> None:
        self._offered: dict[tuple[str, str], tuple[float, tuple[Choice, ...]]] = {}
        self._lock = threading.Lock()

    def offer(self, message: IncomingMessage, choices: tuple[Choice, ...]) -> None:
        """Remember what this asker was offered (an empty tuple forgets)."""
        with self._lock:
            self._offered[(message.channel, message.user)] = (time.monotonic(), choices)

    def pick(self, message: IncomingMessage, number: int) -> Choice | None:
        """The choice numbered `number` (from 1) offered to this asker recently, if any."""
        with self._lock:
            offered_at, choices = self._offered.get((message.channel, message.user), (0.0, ()))
        if time.monotonic() - offered_at > CHOICES_KEPT_S or not 1 <= number <= len(choices):
            return None
        return choices[number - 1]


@dataclass
class Deps:
    """What commands need: the store, the settings, the clock and the conversation memory."""

    engine: Engine
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    memory: Memory = field(default_factory=Memory)
    pool: Executor | None = None  # worker processes that answer (see `start_worker`); None: in this thread


@dataclass(frozen=True)
class Query:
    """A recognised question: the message, the command's named parts, and the deps."""

    message: IncomingMessage
    parts: dict[str, Any]
    deps: Deps

    def visible(self, lead: LeadName) -> bool:
        """Whether the asker may see this lead (HOTLEAD_SHARE=owned limits reps to their own and unassigned)."""
        rep = self.message.rep
        if self.deps.settings.hotlead_share != "owned" or rep is None or rep.role == "manager":
            return True
        return lead.owner_id in (None, rep.id)


def normalise(text: str) -> str:
    """The question without mentions, greetings, "please", extra spaces and NUL bytes (never part of a question,
    and refused by PostgreSQL in any text)."""
    text = text.replace("\x00", " ")
    previous = None
    while previous != text:
        previous, text = text, _POLITE.sub("", " ".join(_MENTION.sub(" ", text).split())).strip()
    return text


def dispatch(message: IncomingMessage, deps: Deps) -> Reply:
    """Answer one question; never raises: unknown questions get help, failures a polite apology. A bare
    number picks from the choices this asker was offered last; the reply's choices are remembered."""
    message = recall(message, deps.memory)
    reply = deps.pool.submit(answer_in_worker, message).result() if deps.pool else answer(message, deps)
    deps.memory.offer(message, reply.choices)
    return reply


def recall(message: IncomingMessage, memory: Memory) -> IncomingMessage:
    """The message with a bare number replaced by the question of the choice it picks."""
    text = normalise(message.text)
    if text.isdigit() and (choice := memory.pick(message, int(text))):
        text = choice.question
    return replace(message, text=text)


def recognise(text: str) -> tuple[Command, dict[str, Any]] | None:
    """The command that recognises the (normalised) question and what its pattern found: as typed first, then
    with its typos mended (bot/spelling.py), what was found taken from the question as typed; None when none does."""
    from bot.commands import COMMANDS

    mended = mend(text)
    for attempt in dict.fromkeys((text, mended.text)):
        for command in COMMANDS:
            for pattern in command.patterns:
                found = pattern.match(attempt)
                if found is None:
                    continue
                if attempt == text:
                    return command, found.groupdict()
                return command, {name: mended.original(*found.span(name)) if name in NAMES and value else value
                                 for name, value in found.groupdict().items()}
    return None


def answer(message: IncomingMessage, deps: Deps) -> Reply:
    """The reply of the command that recognises the question (help when none does)."""
    from bot.commands import fallback

    text = normalise(message.text)
    try:
        found = recognise(text)
        if found is not None:
            command, parts = found
            return command.handle(Query(message, parts, deps))
        return fallback(Query(message, {"text": text}, deps))
    except (ScoringError, StorageError) as exc:
        return Reply(str(exc).rstrip(".") + ".")
    except Exception:
        log.exception("could not answer a %s question", message.channel)
        return Reply("Sorry, something went wrong while answering that. Try again in a moment, or ask `help`.")


# Chat answers can run in worker processes, so that model work in one does not hold up the server's others.
_worker_deps: Deps | None = None


def start_worker(settings: Settings) -> None:
    """Initialise a worker process: its own engine on the same database."""
    global _worker_deps  # one Deps per worker process, made once at its start
    from storage.db import make_engine

    _worker_deps = Deps(make_engine(settings.hotlead_database_url), settings)
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), name="hotlead-orphan-watch", daemon=True).start()
    warm(_worker_deps)


def _exit_with(parent: int) -> None:
    """End this worker when the server that started it is gone (killed, not shut down)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def warm(deps: Deps) -> None:
    """Load what the first question would otherwise wait for: the name index and the active model."""
    from bot.names import name_index
    from scoring import registry

    name_index(deps.engine)
    version = registry.active_version_id(deps.engine)
    if version is not None:
        registry.cached_scorer(deps.engine, version)


def answer_in_worker(message: IncomingMessage) -> Reply:
    """`answer` in a worker process started with `start_worker`."""
    assert _worker_deps is not None, "start_worker was not run in this process"
    return answer(message, _worker_deps)
