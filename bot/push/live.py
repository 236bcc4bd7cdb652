"""The live pipeline behind `/api/events` and `/api/messages`: read new messages, watch open demo sessions,
rescore the leads that moved, and queue the alerts, in one worker thread (so nothing races)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bot.config import Settings
from bot.push import demo
from bot.push.hot import alert_moves
from bot.push.outbox import Outbox, enqueue
from storage.history import utc
from storage.live import Stored
from storage.push import inbound_said, lead_people

log = logging.getLogger(__name__)
DEMO_GRACE = timedelta(minutes=10)  # a live-demo alert not sent 10 minutes after its demo ended is expired
RESCORE_S = 0.2  # leads touched within this long are rescored together


class LivePipeline:
    """Takes stored items from the webhooks; a worker thread turns them into signals, scores and alerts."""

    def __init__(self, engine: Engine, settings: Settings, outbox: Outbox, *,
                 clock: Callable[[], datetime] | None = None, bundle_s: float = demo.BUNDLE_S) -> None:
        self.engine = engine
        self.settings = settings
        self.outbox = outbox
        self.clock = clock or (lambda: datetime.now(UTC))
        self.bundle_s = bundle_s
        self._queue: queue.Queue[tuple[str, list[Stored], float]] = queue.Queue()
        self._bundles: dict[int, demo.Bundle] = {}
        self._joined: dict[int, set[int]] = {}  # per session: the account's people seen during it
        self._to_rescore: set[int] = set()
        self._rescore_lock = threading.Lock()
        self._rescore_wake = threading.Event()
        self._rescoring = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.idle = threading.Event()  # set whenever the worker has nothing left to do (for tests and benches)

    def accept(self, kind: str, stored: list[Stored]) -> None:
        """Hand over items just stored by a webhook ("events" or "messages")."""
        self.idle.clear()
        self._queue.put((kind, stored, time.monotonic()))

    def start(self) -> None:
        """Run the workers: one for intake and demo alerts, one for rescoring (slower, so it waits for no one)."""
        if not self._threads:
            self._threads = [threading.Thread(target=self._run, name="hotlead-live", daemon=True),
                             threading.Thread(target=self._run_rescore, name="hotlead-rescore", daemon=True)]
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        """Stop the workers."""
        self._stop.set()
        self._queue.put(("stop", [], time.monotonic()))
        self._rescore_wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step(self._timeout())
            except Exception:  # noqa: BLE001 - the worker must outlive one bad batch (it is logged)
                log.exception("live pipeline step failed")

    def _timeout(self) -> float | None:
        deadlines = [b.first_at + self.bundle_s for b in self._bundles.values()]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _step(self, timeout: float | None) -> None:
        batch = []
        try:
            batch.append(self._queue.get(timeout=timeout))
            while True:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        items = [(kind, s, received) for kind, stored, received in batch if kind != "stop" for s in stored]
        if items:
            self._take(items)
        self._flush_bundles()
        with self._rescore_lock:
            if not self._bundles and not self._to_rescore and self._queue.empty() and not self._rescoring:
                self.idle.set()

    def _take(self, items: list[tuple[str, Stored, float]]) -> None:
        if any(kind == "messages" and s.new for kind, s, _ in items):
            from scoring.signals import analyze_pending

            analyze_pending(self.engine, mode=self.settings.hotlead_nlp)
        new = [(kind, s, received) for kind, s, received in items if s.new]
        if not new:
            return
        with self._rescore_lock:
            self._to_rescore.update(s.lead_id for _, s, _ in new)
        self._rescore_wake.set()
        sessions = demo.open_sessions(self.engine, self.clock())
        if sessions:
            self._watch(sessions, new)

    def _watch(self, sessions: list[demo.Session], items: list[tuple[str, Stored, float]]) -> None:
        leads = {s.lead_id for _, s, _ in items}
        with self.engine.connect() as conn:
            people = lead_people(conn=conn, lead_ids=leads)
            said = inbound_said(conn=conn, message_ids=[s.id for kind, s, _ in items if kind == "messages"])
        for kind, stored, received in items:
            account, name, title = people.get(stored.lead_id, (None, "", None))
            for session in sessions:
                if stored.lead_id != session.lead_id and (account is None or account != session.account_id):
                    continue
                if kind == "events":
                    line = demo.describe_activity(stored.values)
                else:
                    line = demo.describe_message(*said[stored.id]) if stored.id in said else None
                if stored.lead_id != session.lead_id:
                    seen = self._joined.setdefault(session.id, set())
                    if stored.lead_id not in seen:
                        seen.add(stored.lead_id)
                        joined = f"{name}" + (f" ({title})" if title else "") + " from the account joined in"
                        line = f"{joined}: {line}" if line else joined
                    elif line:
                        line = f"{name}: {line}"
                if line:
                    self._add(session, line, {"kind": kind, "id": stored.id, "received": received})

    def _add(self, session: demo.Session, line: str, item: dict[str, Any]) -> None:
        bundle = self._bundles.get(session.id)
        if bundle is None:
            bundle = self._bundles[session.id] = demo.Bundle(session, item["received"])
        bundle.lines.append(line)
        bundle.items.append(item)

    def _flush_bundles(self) -> None:
        now = time.monotonic()
        for session_id, bundle in list(self._bundles.items()):
            if now < bundle.first_at + self.bundle_s:
                continue
            del self._bundles[session_id]
            session = bundle.session
            if not session.rep_whatsapp:
                log.warning("demo session %s: the rep has no WhatsApp number", session_id)
                continue
            first = bundle.items[0]
            payload = {"body": demo.bundle_body(bundle), "template_variables": demo.template_variables(bundle),
                       "items": [{"kind": i["kind"], "id": i["id"]} for i in bundle.items]}
            enqueue(self.engine, kind="demo", channel="whatsapp", target=session.rep_whatsapp,
                    dedupe_key=f"demo:{session_id}:{first['kind']}:{first['id']}", lead_id=session.lead_id,
                    rep_id=session.rep_id, payload=payload, expires_at=utc(session.ends_at) + DEMO_GRACE)
            self.outbox.wake()  # expired, not sent, if the demo ends before WhatsApp takes it: news for the demo

    def _run_rescore(self) -> None:
        while not self._stop.is_set():
            self._rescore_wake.wait()
            if self._stop.is_set():
                return
            self._stop.wait(RESCORE_S)  # debounce: a burst is rescored once
            with self._rescore_lock:
                self._rescore_wake.clear()
                leads, self._to_rescore = sorted(self._to_rescore), set()
                self._rescoring = True
            try:
                self._rescore(leads)
            except Exception:  # noqa: BLE001 - the worker must outlive one bad batch (it is logged)
                log.exception("rescoring %s leads failed", len(leads))
            finally:
                with self._rescore_lock:
                    self._rescoring = False
                    if not self._to_rescore and not self._bundles and self._queue.empty():
                        self.idle.set()

    def _rescore(self, leads: list[int]) -> None:
        from scoring.errors import NoModelError
        from scoring.incremental import rescore_leads

        try:
            moves = rescore_leads(self.engine, leads, self.clock())
        except NoModelError:
            return  # nothing to score with yet: the events are stored, `hotlead train` will use them
        if alert_moves(self.engine, self.settings, moves, self.clock()):
            self.outbox.wake()

