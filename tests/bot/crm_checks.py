"""What the CRM tests read back, shared by the HubSpot and Salesforce end-to-end tests and the sync's own tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from click.testing import Result
from sqlalchemy import Engine

from tests.conftest import run_sql


def cli_json(run: Callable[..., Result], *args: str, env: dict[str, str]) -> dict[str, Any]:
    """A command's --json report (it must succeed)."""
    result = run(*args, "--json", env=env)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def counts(report: dict[str, Any], kind: str) -> tuple[int, ...]:
    """(read, created, updated, unchanged, refused) of one object kind in a sync's report."""
    c = report["objects"][kind]
    return c["read"], c["created"], c["updated"], c["unchanged"], c["refused"]


def won_and_owned(engine: Engine, crm: str) -> tuple[dict[str, int], dict[str, str]]:
    """The won leads' outcome (external id -> converted), and each lead's owner as the CRM's owner id."""
    with engine.connect() as conn:
        outcomes = {str(k): int(v) for k, v in run_sql(
            conn, "SELECT l.external_id, o.converted FROM outcome o JOIN lead l ON l.id = o.lead_id AND "
                  "l.status = 'won'").all()}
        owners = {str(k): str(v) for k, v in run_sql(
            conn, "SELECT l.external_id, k.crm_id FROM lead l JOIN crm_link k ON k.crm = ? AND k.kind = 'owners' AND "
                  "k.local_id = l.owner_id", (crm,)).all()}
    return outcomes, owners
