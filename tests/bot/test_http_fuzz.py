"""Fuzzed requests over real HTTP, authenticated or signed so that they reach the parsing behind the checks:
/api/* bodies of any JSON (and not-quite-JSON), signed Slack bodies, signed Twilio forms. None is a 5xx."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from bot.config import Settings
from bot.fakes import FakeSlack, slack_headers, twilio_signature
from bot.push.schemas import MODELS
from bot.server import BackgroundServer
from storage.db import make_engine
from storage.importers.tables import References, spec_for
from tests.conftest import Snapshots

API, TOKEN, SECRET, AUTH = "api-token-fuzz", "xoxb-fuzz", "fuzz-signing-secret", "fuzz-twilio-auth"
PUBLIC = "https://hotlead.example.com"
FUZZ = settings(max_examples=500, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
STATUSES: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, snapshots: Snapshots, demo_snapshot: str,
           request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    engine = make_engine(snapshots.copy(demo_snapshot, tmp_path_factory.mktemp("fuzz"), request))
    with FakeSlack(token=TOKEN, channels=["C1"]) as slack:
        config = Settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=slack.url,
                          twilio_auth_token=AUTH, hotlead_public_url=PUBLIC, hotlead_api_token=API,
                          hotlead_nlp="rules")
        with BackgroundServer(create_app(config, engine=engine)) as server, \
                httpx.Client(base_url=server.url, timeout=30) as http:
            yield http
    engine.dispose()
    total = sum(STATUSES.values())
    by_status = Counter()
    for (_, status), n in STATUSES.items():
        by_status[status] += n
    print(f"\nfuzzed {total} requests: by status {dict(sorted(by_status.items()))}; "
          f"by route {dict(sorted(STATUSES.items()))}")


def sent(route: str, response: httpx.Response) -> None:
    STATUSES[(route, response.status_code)] += 1
    assert response.status_code < 500, (route, response.status_code, response.text[:300])


scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
           | st.integers(min_value=-10**300, max_value=10**300))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
hostile = st.sampled_from([
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01", "9999-12-31T23:59:59Z",
    "2026-11-23T10:00:00Z", "2026-02-30", "\ud800", "", "n/a", " NULL ", "L000001", "page_view", "chat",
    "inbound", "PRICING", "x" * 5000,
]) | json_values
leads = st.sampled_from(["L000001", "L000002", "NOBODY", " L000003 "]) | hostile


VALID = {"events": {"lead": "L000001", "kind": "page_view", "occurred_at": "2026-11-23T10:00:00Z",
                    "detail": {"page_type": "pricing"}},
         "messages": {"lead": "L000001", "channel": "chat", "text": "what does it cost?",
                      "occurred_at": "2026-11-23T10:00:00Z"}}


def items(kind: str) -> st.SearchStrategy[dict]:
    """Items close to valid: a valid item with a few fields replaced by plausible or hostile values (or left
    out), or any mix of the kind's fields."""
    fields = list(MODELS[kind].model_fields)
    changes = st.dictionaries(st.sampled_from([*fields, "extra"]), hostile | leads, max_size=2)
    near = st.tuples(changes, st.sets(st.sampled_from(fields), max_size=1)).map(
        lambda c: {k: v for k, v in {**VALID[kind], **c[0]}.items() if k not in c[1]})
    return near | st.dictionaries(st.sampled_from([*fields, "extra"]), hostile, max_size=8)


def bodies(kind: str) -> st.SearchStrategy[object]:
    item = items(kind)
    return item | st.lists(item, min_size=0, max_size=4) | json_values


@pytest.mark.parametrize("kind", ["events", "messages"])
@FUZZ
@given(data=st.data())
def test_any_json_body_to_the_api_is_answered_below_500(client: httpx.Client, kind: str, data: st.DataObject
                                                        ) -> None:
    body = data.draw(bodies(kind))
    raw = json.dumps(body, ensure_ascii=True).encode()  # NaN and infinities as Python writes them
    sent(f"/api/{kind}", client.post(f"/api/{kind}", content=raw, headers={
        "Authorization": f"Bearer {API}", "Content-Type": "application/json"}))


raw_bodies = st.binary(max_size=200) | st.sampled_from([
    b"[" * 100_000, b'{"a":' * 50_000, b"1" * 5_000, b'{"lead": ' + b"9" * 5_000 + b"}", b"", b"null", b'"x"',
    b"[]", b"[1, 2]", b"NaN", b'{"lead": "L000001", "kind": "call", "occurred_at": "2026-11-23"}' * 2,
    b"\xef\xbb\xbf{}", b'{"detail": ' + b"[" * 900 + b"]" * 900 + b"}",
])


@FUZZ
@given(raw=raw_bodies)
def test_bytes_that_are_not_quite_json_are_answered_below_500(client: httpx.Client, raw: bytes) -> None:
    sent("/api/events", client.post("/api/events", content=raw, headers={"Authorization": f"Bearer {API}"}))


slack_json = st.fixed_dictionaries({"type": st.sampled_from(["event_callback", "url_verification", "block_actions",
                                                              "view_submission", "shortcut", "app_rate_limited"])
                                    | hostile}, optional={
    "event": json_values | st.fixed_dictionaries({"type": st.sampled_from(["message", "app_mention",
                                                                           "app_home_opened"]) | hostile},
                                                 optional={"text": hostile, "user": hostile, "channel": hostile,
                                                           "ts": hostile, "bot_id": hostile}),
    "event_id": hostile, "team_id": hostile, "challenge": hostile, "actions": json_values, "user": json_values,
    "authorizations": json_values, "token": hostile, "api_app_id": hostile})
slack_form = st.dictionaries(st.sampled_from(["command", "text", "user_id", "channel_id", "team_id", "payload",
                                              "trigger_id", "response_url", "ssl_check"]),
                             st.text(max_size=30) | json_values.map(json.dumps), max_size=8)


@FUZZ
@given(body=slack_json.map(lambda b: json.dumps(b).encode()) | slack_form.map(lambda f: urlencode(f).encode())
       | st.text(max_size=100).map(str.encode),  # Slack signs text (its verifier decodes the body as UTF-8)
       content_type=st.sampled_from([None, "application/json", "application/x-www-form-urlencoded", "text/plain"]))
def test_signed_slack_bodies_are_answered_below_500(client: httpx.Client, body: bytes, content_type: str | None
                                                    ) -> None:
    sent("/slack/events", client.post("/slack/events", content=body,
                                      headers=slack_headers(SECRET, body, content_type=content_type)))


forms = st.dictionaries(st.sampled_from(["MessageSid", "MessageStatus", "ErrorCode", "From", "Body", "To",
                                         "AccountSid", "NumMedia"]) | st.text(max_size=8),
                        st.text(max_size=40) | st.sampled_from(["delivered", "failed", "whatsapp:+15550100001"]),
                        max_size=6)


@settings(FUZZ, max_examples=300)
@given(path=st.sampled_from(["/twilio/status", "/twilio/whatsapp"]), form=forms,
       query=st.sampled_from(["", "?alert=1", "?alert=%C2%B2", "?alert=99999999999999999999", "?alert="]),
       as_json=st.booleans())
def test_signed_twilio_forms_are_answered_below_500(client: httpx.Client, path: str, form: dict[str, str],
                                                    query: str, as_json: bool) -> None:
    if as_json:  # Twilio signs a JSON body by a hash in the URL it calls
        raw = json.dumps(form).encode()
        query = f"{query}{'&' if query else '?'}bodySHA256={hashlib.sha256(raw).hexdigest()}"
        signature = twilio_signature(AUTH, f"{PUBLIC}{path}{query}", {})
        content_type = "application/json"
    else:
        raw = urlencode(form).encode()
        signature = twilio_signature(AUTH, f"{PUBLIC}{path}{query}", form)
        content_type = "application/x-www-form-urlencoded"
    sent(path, client.post(f"{path}{query}", content=raw, headers={"X-Twilio-Signature": signature,
                                                                    "Content-Type": content_type}))


@pytest.mark.parametrize(("kind", "spec"), [("events", "activities"), ("messages", "messages")])
def test_the_schemas_have_the_store_s_columns(kind: str, spec: str) -> None:
    columns = spec_for(spec, References(None, {})).columns  # type: ignore[arg-type]
    model = MODELS[kind]
    assert set(model.model_fields) == {c.name for c in columns} | {"detail"}
    assert {name for name, (_, required) in model.CELLS.items() if required} == {c.name for c in columns
                                                                                 if c.required}
