"""Fault injection for the outbox: Slack at its real pace, 429s with Retry-After, a 12-minute outage (an injected
clock, so it takes no real minutes), a Slack that hangs, and a restart mid-outage. Each asserts zero loss and
zero duplicates: every alert is in its channel exactly once, or expired by the stated rule."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.config import Settings
from bot.fakes.slack import FakeSlack
from bot.fakes.twilio import FakeTwilio
from bot.push.outbox import LEASE_S, Channel, Outbox, enqueue
from bot.push.senders import slack_sender, whatsapp_sender
from storage import outbox as store
from tests.conftest import run_sql

TOKEN, SID, AUTH, FROM = "xoxb-faults", "AC" + "f" * 32, "twilio-auth", "whatsapp:+15550009999"
CHANNEL, OTHER = "C0SALES", "C0EMEA"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    """The time the outbox and the fakes see; tests move it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def slack_channel(slack: FakeSlack, timeout: int = 5) -> Channel:
    client = WebClient(token=TOKEN, base_url=slack.url, timeout=timeout, retry_handlers=[])
    return slack_sender(client)


def run(outbox: Outbox, clock: Clock, seconds: float, step: float = 0.25) -> None:
    """Let `seconds` of the injected clock pass, with a delivery pass every `step`."""
    for _ in range(int(seconds / step)):
        outbox.deliver_due()
        clock.advance(step)


def queue(engine: Engine, clock: Clock, count: int, target: str = CHANNEL, channel: str = "slack",
          prefix: str = "a", **extra: object) -> list[int]:
    ids = []
    for i in range(count):
        found = enqueue(engine, kind="hot", channel=channel, target=target, dedupe_key=f"{prefix}:{target}:{i}",
                        payload={"text": f"{prefix} alert {i}", "body": f"{prefix} alert {i}"}, now=clock(),
                        **extra)  # type: ignore[arg-type]
        assert found is not None
        ids.append(found)
    return ids


def statuses(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(row[0] for row in run_sql(conn, "SELECT status FROM alert"))


def alert_ids_posted(slack: FakeSlack, channel: str) -> list[int]:
    """The alert id in each message's metadata, in the order Slack has them."""
    return [int(m["metadata"]["event_payload"]["alert"]) for m in slack.posted(channel)]


def test_a_burst_goes_out_at_slacks_pace_without_a_single_429(engine: Engine) -> None:
    clock = Clock()
    with FakeSlack(token=TOKEN, channels=[CHANNEL, OTHER], clock=clock.epoch) as slack:
        slack.pace(per_second=1.0, burst=2)  # Slack: about one message a second per channel
        outbox = Outbox(engine, {"slack": slack_channel(slack)}, clock=clock)
        sales = queue(engine, clock, 52)
        emea = queue(engine, clock, 5, target=OTHER)
        run(outbox, clock, 6)
        assert len(slack.posted(OTHER)) == 5  # another channel is not held up by #sales' queue
        run(outbox, clock, 60)
        assert slack.refused == 0  # paced before sending: Slack never had to refuse
        assert alert_ids_posted(slack, CHANNEL) == sales and alert_ids_posted(slack, OTHER) == emea
    assert statuses(engine) == {"sent": 57}


def test_429_with_retry_after_is_pacing_not_failure(engine: Engine) -> None:
    clock = Clock()
    with FakeSlack(token=TOKEN, channels=[CHANNEL], clock=clock.epoch) as slack:
        outbox = Outbox(engine, {"slack": slack_channel(slack)}, clock=clock)
        ids = queue(engine, clock, 52)
        slack.rate_limit(20, retry_after=2)  # 40 s of 429s at one try every Retry-After
        run(outbox, clock, 100)
        assert slack.refused == 20
        assert sorted(alert_ids_posted(slack, CHANNEL)) == ids  # each exactly once
    with engine.connect() as conn:
        attempts = {row[0] for row in run_sql(conn, "SELECT attempts FROM alert")}
    assert statuses(engine) == {"sent": 52} and attempts == {1}  # a 429 spends no attempt


def test_a_twelve_minute_outage_loses_nothing_and_whatsapp_never_waits(engine: Engine) -> None:
    clock = Clock()
    with FakeSlack(token=TOKEN, channels=[CHANNEL], clock=clock.epoch) as slack, FakeTwilio(SID, AUTH) as twilio:
        settings = Settings(twilio_account_sid=SID, twilio_auth_token=AUTH, twilio_whatsapp_from=FROM,
                            twilio_api_url=twilio.url)
        from bot.clients import twilio_client

        outbox = Outbox(engine, {"slack": slack_channel(slack),
                                 "whatsapp": whatsapp_sender(settings, twilio_client(settings), engine)}, clock=clock)
        slack.down = True
        slack_ids, whatsapp_ids = [], []
        for minute in range(12):  # alerts keep coming during the outage
            slack_ids += queue(engine, clock, 8, prefix=f"m{minute}")
            before = len(twilio.calls_to("messages"))
            whatsapp_ids += queue(engine, clock, 1, target="+15550100001", channel="whatsapp", prefix=f"w{minute}")
            run(outbox, clock, 1)
            assert len(twilio.calls_to("messages")) == before + 1  # sent within a second, Slack or not
            run(outbox, clock, 59)
        assert statuses(engine)["queued"] == 96 and slack.refused > 12
        slack.down = False
        run(outbox, clock, 5 + 96 + 5)  # the next probe finds Slack back; then one a second
        assert sorted(alert_ids_posted(slack, CHANNEL)) == slack_ids
    assert statuses(engine) == {"sent": 108}


def test_an_alert_that_cannot_be_sent_before_it_expires_is_expired_not_sent_late(engine: Engine) -> None:
    clock = Clock()
    with FakeSlack(token=TOKEN, channels=[CHANNEL], clock=clock.epoch) as slack:
        outbox = Outbox(engine, {"slack": slack_channel(slack)}, clock=clock)
        slack.down = True
        [soon] = queue(engine, clock, 1, prefix="demo", expires_at=START + timedelta(minutes=5))
        [later] = queue(engine, clock, 1, prefix="hot")  # the default: a week
        run(outbox, clock, 10 * 60)
        slack.down = False
        run(outbox, clock, 20)
        assert alert_ids_posted(slack, CHANNEL) == [later]
    with engine.connect() as conn:
        assert run_sql(conn, "SELECT status FROM alert WHERE id = ?", (soon,)).scalar_one() == "expired"


def test_a_post_slack_took_but_answered_late_is_not_sent_again_and_whatsapp_goes_on(engine: Engine) -> None:
    from bot.clients import twilio_client

    with FakeSlack(token=TOKEN, channels=[CHANNEL]) as slack, FakeTwilio(SID, AUTH) as twilio:
        settings = Settings(twilio_account_sid=SID, twilio_auth_token=AUTH, twilio_whatsapp_from=FROM,
                            twilio_api_url=twilio.url)
        outbox = Outbox(engine, {"slack": slack_channel(slack, timeout=1),
                                 "whatsapp": whatsapp_sender(settings, twilio_client(settings), engine)},
                        backoff_s=lambda attempts: 0.0)
        slack.hang()  # Slack posts the message and holds its answer: the client gives up after its timeout
        [posted] = queue(engine, Clock(), 1)
        outbox.start()
        try:
            slack.wait_for("chat.postMessage")
            queue(engine, Clock(), 1, target="+15550100001", channel="whatsapp", prefix="w")
            outbox.wake()
            twilio.wait_for(count=1)  # while Slack still hangs
            assert slack.held == 1 and len(slack.calls_to("chat.postMessage")) == 1
            slack.first("conversations.history", lambda call: True, timeout=10)  # the retry looked first
            slack.answer()
            outbox.wake()
            wait_until_settled(engine)
        finally:
            outbox.stop()
        assert len(slack.calls_to("chat.postMessage")) == 1 and alert_ids_posted(slack, CHANNEL) == [posted]
    with engine.connect() as conn:
        ref = run_sql(conn, "SELECT external_ref FROM alert WHERE id = ?", (posted,)).scalar_one()
    assert statuses(engine) == {"sent": 2} and ref == slack.posted(CHANNEL)[0]["ts"]


def wait_until_settled(engine: Engine) -> None:
    import threading

    changed = threading.Event()
    for _ in range(200):  # bounded: up to 200 looks, 50 ms apart, for the worker threads to finish
        if statuses(engine).keys() <= {"sent", "failed", "expired"}:
            return
        changed.wait(0.05)
    raise AssertionError(f"alerts still pending: {statuses(engine)}")


def test_a_restart_mid_outage_sends_each_alert_once(engine: Engine) -> None:
    clock = Clock()
    with FakeSlack(token=TOKEN, channels=[CHANNEL], clock=clock.epoch) as slack:
        first = Outbox(engine, {"slack": slack_channel(slack)}, clock=clock)
        slack.down = True
        ids = queue(engine, clock, 6)
        run(first, clock, 30)
        slack.down = False
        clock.advance(3600)  # every alert due again
        with engine.begin() as conn:  # a process claims two alerts, posts one, and is killed before recording
            claimed = store.claim_due(conn, channel="slack", now=clock(), busy=set())
        assert len(claimed) == 1
        WebClient(token=TOKEN, base_url=slack.url).chat_postMessage(
            channel=CHANNEL, text="a alert 0",
            metadata={"event_type": "hotlead_alert", "event_payload": {"alert": claimed[0]["id"]}})
        second = Outbox(engine, {"slack": slack_channel(slack)}, clock=clock)
        clock.advance(LEASE_S - 1)
        assert second.recover() == 0  # the claim may still be a live process's: its lease has not run out
        clock.advance(2)
        assert second.recover() == 1  # back in the queue, unsure: the channel is checked before re-posting
        clock.advance(600)
        run(second, clock, 20)
        assert sorted(alert_ids_posted(slack, CHANNEL)) == ids  # each exactly once
    assert statuses(engine) == {"sent": 6}
    assert json.loads(json.dumps(sorted(ids))) == ids


def test_two_processes_on_one_database_send_each_alert_once_and_in_order(engine: Engine) -> None:
    """Two outboxes, each with its own engine (as two `hotlead serve` processes behind a load balancer), pass
    over one queue at the same moments: every alert is posted once, each channel's in the order queued."""
    from concurrent.futures import ThreadPoolExecutor

    from storage.db import make_engine

    clock = Clock()
    channels = [CHANNEL, OTHER, "C0APAC", "C0AMER"]
    url = engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url), make_engine(url)]
    with FakeSlack(token=TOKEN, channels=channels, clock=clock.epoch) as slack:
        slack.pace(per_second=1.0, burst=2)
        queued = {channel: queue(engine, clock, 12, target=channel) for channel in channels}
        outboxes = [Outbox(own, {"slack": slack_channel(slack)}, clock=clock) for own in engines]
        with ThreadPoolExecutor(2) as pool:
            for _ in range(int(60 / 0.25)):  # a minute of the injected clock, both passing at each step
                sent = list(pool.map(lambda outbox: outbox.deliver_due(), outboxes))
                assert all(count >= 0 for count in sent)
                clock.advance(0.25)
        for channel in channels:
            assert alert_ids_posted(slack, channel) == queued[channel]  # once each, in order
    for own in engines:
        own.dispose()
    assert statuses(engine) == {"sent": 48}
