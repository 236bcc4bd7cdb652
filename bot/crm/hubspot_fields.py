"""The contact properties HubSpot write-back fills, and what write-back and `ensure_fields` make of HubSpot's
answers (bot/crm/hubspot.py sends the requests).

Each moved score goes into four contact properties of the group "Hotlead" (`FIELDS`): hotlead_score (number 0-100),
hotlead_band (hot, warm, cold), hotlead_reasons (the top three, a line each) and hotlead_scored_at (a datetime
property: epoch milliseconds). `ensure_fields` creates them, or, when the private app may not, says how to by hand
(`by_hand`). A batch update's answer names the contacts HubSpot refused, in its errors' `context.ids` or their
message (`refused_ids`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from hubspot.crm.properties import OptionInput, PropertyCreate

from bot.crm.hubspot_records import Json, milliseconds
from bot.crm.records import ScoreUpdate, utc

log = logging.getLogger(__name__)

SCHEMA_SCOPE = "crm.schemas.contacts.write"
GROUP, GROUP_LABEL = "hotlead", "Hotlead"


@dataclass(frozen=True)
class Field:
    """A contact property Hotlead writes, as the properties API creates it and as HubSpot's settings name it."""

    name: str
    label: str
    type: str
    field_type: str
    description: str
    by_hand: str  # its field type in Settings → Properties → Create property
    options: tuple[str, ...] = ()

    def create(self) -> PropertyCreate:
        options = [OptionInput(label=option, value=option, display_order=n, hidden=False)
                   for n, option in enumerate(self.options)]
        return PropertyCreate(name=self.name, label=self.label, type=self.type, field_type=self.field_type,
                              group_name=GROUP, description=self.description, options=options or None,
                              form_field=False)


FIELDS = (
    Field("hotlead_score", "Hotlead score", "number", "number", "How likely Hotlead thinks the lead is to buy, 0-100.",
          "Number"),
    Field("hotlead_band", "Hotlead band", "enumeration", "select", "Hot, warm or cold, as Hotlead bands the score.",
          "Dropdown select, with the options hot, warm and cold", ("hot", "warm", "cold")),
    Field("hotlead_reasons", "Hotlead reasons", "string", "textarea", "The top three reasons for the score, a line "
          "each.", "Multi-line text"),
    Field("hotlead_scored_at", "Hotlead scored at", "datetime", "date", "When Hotlead scored the lead.",
          "Date and time picker"),
)


def score_properties(update: ScoreUpdate) -> dict[str, str]:
    """A score as the contact's properties (a datetime property takes epoch milliseconds)."""
    return {"hotlead_score": str(update.score), "hotlead_band": update.band, "hotlead_reasons": update.reasons,
            "hotlead_scored_at": str(milliseconds(utc(update.scored_at)))}


def refused_ids(answer: Json, sent: dict[str, ScoreUpdate], *, whole: bool = False) -> dict[str, str | None]:
    """The contacts of `sent` an answer's errors name (in their `context.ids`, else in the message), with why: a
    207's errors, or (`whole`) the error that failed a whole batch because of them."""
    refused: dict[str, str | None] = {}
    for error in [answer, *(answer.get("errors") or [])]:
        if not isinstance(error, dict) or not error.get("message"):
            continue
        message = str(error["message"])
        ids = [str(crm_id) for crm_id in (error.get("context") or {}).get("ids") or []]
        if not ids and "propert" not in message.lower():  # a property's error names no contact (but a portal id)
            ids = re.findall(r"\b\d+\b", message)
        named = [crm_id for crm_id in ids if crm_id in sent]
        why = f"HubSpot refused the contact ({error.get('category') or 'error'}): {message}"
        refused |= dict.fromkeys(named, why)
        if error is not answer and not named and not whole:
            log.warning("HubSpot's answer to a batch update holds an error naming none of its contacts: %s", error)
    return refused


def field_line(field: Field, found: Json | None) -> str:
    """How `ensure_fields` found a score property: created, or as HubSpot has it (`found`)."""
    if found is None:
        return f"contacts.{field.name}: created"
    if found.get("type") != field.type:
        return (f"contacts.{field.name}: exists, but as a {found.get('type')} property (Hotlead writes a {field.type}:"
                " change its type in HubSpot's settings)")
    return f"contacts.{field.name}: exists"


def by_hand(missing: list[Field], groups: dict[str, Json]) -> list[str]:
    """A line per property, and the steps to create the missing ones in HubSpot's settings (the private app may not
    create properties)."""
    lines = [f"contacts.{field.name}: missing: the private app lacks the scope {SCHEMA_SCOPE} (add it and run "
             "`hotlead connect hubspot` again, or create the property by hand as below)" if field in missing else
             f"contacts.{field.name}: exists" for field in FIELDS]
    group = f'the group "{GROUP_LABEL}"' + ("" if GROUP in groups else " (Create group, the first time)")
    lines.append(f"By hand, in HubSpot: Settings → Data Management → Properties → Contact properties → Create "
                 f"property, once for each below, in {group}, with the internal name given (the </> button beside "
                 "the label shows it):")
    lines += [f"  {field.label}: field type {field.by_hand}; internal name {field.name}" for field in missing]
    return lines
