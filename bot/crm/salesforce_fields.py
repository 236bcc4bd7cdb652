"""The custom fields Salesforce write-back fills, and the write-back's request bodies and answers.

Write-back puts each moved score into four custom fields of its Lead or Contact (the Id's key prefix says which):
Hotlead_Score__c (Number 3,0), Hotlead_Band__c (Text 10), Hotlead_Reasons__c (Long Text Area) and
Hotlead_Scored_At__c (Date/Time). The connector's `ensure_fields` (run by `hotlead connect`) creates the missing ones
with the Tooling API, or says how to create them in Setup when the user lacks Customize Application. A new field is
invisible to the API user until field-level security grants it (Salesforce grants none to a field the API creates):
that step is the admin's, and `field_line` says where. A record Salesforce refuses (deleted, converted) fails alone;
a refused score field is the org's setup, not the record's: SalesforceRefused (the connector's refusals as a whole
too), and the write-back waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.crm.errors import CrmError
from bot.crm.records import ScoreUpdate, instant

Row = dict[str, Any]

REFUSED_WAIT_S = 3600.0  # a refused write-back waits this long: the API limit is a rolling 24 hours, a missing
# field waits for an admin; meanwhile the outbox paces the target instead of probing it every few seconds
WRITTEN = {"00Q": "Lead", "003": "Contact"}  # Id key prefix -> the sObject written back (and given fields)
SETUP_CODES = frozenset({"INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE"})  # the score fields, not the record
PASSING_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})  # a record another transaction holds: worth another try


@dataclass(frozen=True)
class ScoreField:
    """A custom field write-back fills: API name, label, its Tooling API metadata and how Setup's wizard says it."""

    name: str
    label: str
    metadata: dict[str, Any]
    in_setup: str


SCORE_FIELDS = (
    ScoreField("Hotlead_Score__c", "Hotlead score", {"type": "Number", "precision": 3, "scale": 0},
               "Number, Length 3, Decimal Places 0"),
    ScoreField("Hotlead_Band__c", "Hotlead band", {"type": "Text", "length": 10}, "Text, Length 10"),
    ScoreField("Hotlead_Reasons__c", "Hotlead reasons", {"type": "LongTextArea", "length": 32_768,
                                                          "visibleLines": 3},
               "Text Area (Long), Length 32768, 3 visible lines"),
    ScoreField("Hotlead_Scored_At__c", "Hotlead scored at", {"type": "DateTime"}, "Date/Time"),
)
LENGTHS = {field.name: field.metadata.get("length") for field in SCORE_FIELDS}  # of the text fields


class SalesforceRefused(CrmError):
    """Salesforce refused a request as a whole (not an outage); a write-back waits `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float = REFUSED_WAIT_S) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def score_record(sobject: str, update: ScoreUpdate) -> Row:
    """An update as an sObject Collections record (text cut to its field's length: too long fails the record)."""
    return {"attributes": {"type": sobject}, "id": update.crm_id, "Hotlead_Score__c": update.score,
            "Hotlead_Band__c": update.band[:LENGTHS["Hotlead_Band__c"]],
            "Hotlead_Reasons__c": update.reasons[:LENGTHS["Hotlead_Reasons__c"]],
            "Hotlead_Scored_At__c": instant(update.scored_at)}


def outcomes(chunk: list[tuple[str, ScoreUpdate]], results: Any) -> dict[str, str | None]:
    """Per Id: None when written, else Salesforce's reasons ("ENTITY_IS_DELETED: entity is deleted"). Matched by
    position, not by id: a failed record's result may carry none. A refused score field is the org's setup, not
    the record's: SalesforceRefused, so the write-back waits for an admin instead of failing for good; a locked
    record is a CrmError, so the request is tried again (rewriting the others changes nothing)."""
    if not isinstance(results, list) or len(results) != len(chunk):
        raise CrmError(f"Salesforce answered the score write-back of {len(chunk)} records with "
                       f"{len(results) if isinstance(results, list) else 'no'} results: it is tried again later")
    answers: dict[str, str | None] = {}
    for (_sobject, update), result in zip(chunk, results, strict=True):
        if result.get("success"):
            answers[update.crm_id] = None
            continue
        errors = [(str(e.get("statusCode")), " ".join(str(e.get("message", "")).split()))
                  for e in result.get("errors") or []]
        for code, message in errors:
            if code in SETUP_CODES:
                raise SalesforceRefused(setup_problem(code, message))
            if code in PASSING_CODES:
                raise CrmError(f"Salesforce could not write {update.crm_id} now ({code}: {message}): the write-back "
                               "is tried again later")
        answers[update.crm_id] = "; ".join(f"{code}: {message}" for code, message in errors) or \
            "refused without a reason"
    return answers


def setup_problem(code: str, message: str) -> str:
    """Why the score fields were refused, and what an admin does about it."""
    return (f"Salesforce refused the score fields ({code}: {message}): run `hotlead connect salesforce` to create "
            "them, and give the integration user Edit access to them (field-level security); the scores wait, "
            f"tried again every {REFUSED_WAIT_S / 3600:.0f} hour")


def field_line(sobject: str, field: ScoreField, state: str, refusal: str = "") -> str:
    """What `hotlead connect` says of a field: exists, created, there but hidden or read-only (the field-level
    security to grant), or how to create it by hand."""
    name, fields = f"{sobject}.{field.name}", f"Setup > Object Manager > {sobject} > Fields & Relationships"
    security = (f"{fields} > {field.label} > Set Field-Level Security: Visible, not Read-Only, for the integration "
                "user's profile")
    if state == "exists":
        return f"{name}: exists"
    if state == "created":
        return f"{name}: created; Hotlead writes it once the integration user may see it: {security}"
    if state in ("hidden", "read-only"):
        may = "cannot see it" if state == "hidden" else "may only read it"
        return f"{name}: exists, but the integration user {may}: {security}"
    return (f"{name}: create it by hand ({refusal}; creating fields takes Customize Application): {fields} > New > "
            f"{field.in_setup}, Field Label '{field.label}', Field Name {field.name.removesuffix('__c')}; at Establish "
            "field-level security make it Visible for the integration user's profile")
