"""What a user waits for in `hotlead sync` against HubSpot: a whole portal's first sync and a second sync of a
hundred changes, each through the real CLI in a fresh process (imports included), timed from outside, against the
local HubSpot fake (real HTTP on 127.0.0.1, HubSpot's limit of 5 searches a second unless unpaced)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.bench import fresh_engine
from bot.fakes import FakeHubSpot
from bot.fakes.hubspot import READ_SCOPES
from bot.fakes.hubspot_portal import Portal, fill, iso
from storage.db import session_scope, set_meta

TOKEN = "pat-na1-hotlead-bench"
SCOPES = READ_SCOPES | {"crm.objects.contacts.write", "crm.schemas.contacts.write"}
CONTACTS, COMPANIES, DEALS, ENGAGEMENTS = 2_000, 400, 600, 10_000  # a fifth of the Done-when
CHANGES = 100  # as the Done-when: four in five contacts (touched or reassigned), one in five open deals won
# Unpaced, the connector's own pace (HubSpot's 5 searches a second) is lifted in the child too: the same CLI, with
# no wait but Hotlead's own work and the local HTTP.
UNPACED = "import bot.crm.hubspot as h; h.SEARCHES_PER_SECOND = 10**9; from bot.cli import main; main()"


def run(contacts: int = CONTACTS, companies: int = COMPANIES, deals: int = DEALS, engagements: int = ENGAGEMENTS,
        paced: bool = True, url: str | None = None, changes: int = CHANGES) -> dict[str, Any]:
    """Fill a HubSpot fake with a generated portal of these sizes, then `hotlead init`, `connect hubspot` and
    `sync --json` in a fresh process each, into a temporary SQLite file or the database at `url` (its Hotlead
    tables replaced, if a bench or a demo made them); change `changes` records and time a second `sync --json`."""
    with tempfile.TemporaryDirectory(prefix="hotlead-bench-crm-") as tmp:
        database = url or f"sqlite:///{Path(tmp) / 'crm.db'}"
        engine = fresh_engine(database)
        with FakeHubSpot(TOKEN, scopes=SCOPES, clock=time.monotonic,
                         searches_per_second=5 if paced else None) as fake:
            portal = fill(fake, datetime.now(UTC), contacts=contacts, companies=companies, deals=deals,
                          engagements=engagements)
            env = dict(os.environ, HOTLEAD_DATABASE_URL=database, HOTLEAD_NLP="rules",
                       HUBSPOT_ACCESS_TOKEN=TOKEN, HUBSPOT_API_URL=fake.url)
            _hotlead(["init"], env)
            with session_scope(engine) as session:
                set_meta(session=session, key="origin", value="bench")
            _hotlead(["connect", "hubspot", "--json"], env)
            first = _timed_sync(fake, env, paced)
            changed = _change(fake, portal, changes)
            second = _timed_sync(fake, env, paced)
        engine.dispose()
    records = {kind: counts["read"] for kind, counts in first["report"]["objects"].items()}
    read_again = {kind: counts["read"] for kind, counts in second["report"]["objects"].items() if counts["read"]}
    return {
        "engine": engine.dialect.name, "paced": paced,
        "sizes": {"contacts": contacts, "companies": companies, "deals": deals, "engagements": engagements},
        "records": records, "first": _figures(first, sum(records.values())),
        "changed": changed, "second": {**_figures(second, sum(read_again.values())), "read": read_again},
    }


def _hotlead(args: list[str], env: dict[str, str], paced: bool = True) -> str:
    """`hotlead ARGS` in a fresh process; what it printed."""
    start = [sys.executable, "-m", "bot.cli"] if paced else [sys.executable, "-c", UNPACED]
    done = subprocess.run([*start, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark `hotlead {' '.join(args)}` failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def _timed_sync(fake: FakeHubSpot, env: dict[str, str], paced: bool) -> dict[str, Any]:
    """`hotlead sync --json` timed as a user waits for it (process start to exit), and the requests it made."""
    before = len(fake.calls)
    started = time.perf_counter()
    printed = _hotlead(["sync", "--json"], env, paced)
    wall = time.perf_counter() - started
    calls = fake.calls[before:]
    return {"report": json.loads(printed), "wall": wall, "calls": calls}


def _figures(sync: dict[str, Any], read: int) -> dict[str, Any]:
    calls = sync["calls"]
    searches = sum(call.method.endswith(".search") for call in calls)
    return {
        "seconds": round(sync["wall"], 2), "sync_seconds": round(sync["report"]["seconds"], 2),  # inside the CLI
        "records_per_s": round(read / sync["wall"]), "searches": searches, "other_requests": len(calls) - searches,
        "answered_429": sum(call.status == 429 for call in calls),
        "rechecked": sum(c["rechecked"] for c in sync["report"]["objects"].values()),
        "refused": sum(c["refused"] for c in sync["report"]["objects"].values()),
    }


def _change(fake: FakeHubSpot, portal: Portal, changes: int) -> dict[str, int]:
    """As the Done-when changes them: open deals won (a fifth), contacts touched and contacts given another owner."""
    won = portal.open_deals[:changes // 5]
    people = portal.contacts[:changes - len(won)]
    reassigned = people[len(people) * 5 // 8:]  # 50 touched, 30 reassigned of 80
    for crm_id in people:
        if crm_id in reassigned:
            owner = fake.records["contacts"][crm_id].properties["hubspot_owner_id"]
            fake.change("contacts", crm_id, hubspot_owner_id=next(o for o in portal.owners if o != owner))
        else:
            fake.change("contacts", crm_id)
    for deal in won:
        fake.change("deals", deal, dealstage="closedwon", amount="25000",
                    closedate=iso(datetime.now(UTC) - timedelta(hours=2)))
    return {"contacts": len(people), "deals": len(won)}
