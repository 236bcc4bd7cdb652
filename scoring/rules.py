"""The classic points model that marketing-automation tools ship, kept as the baseline the ML scorer must beat.

HubSpot, Marketo and Pardot score leads by hand-written rules: "+10 for a whitepaper download, +15 for a
demo request, -20 when they unsubscribe". `RULES` is such a table written against Hotlead's feature names:
each row gives `points` per unit of a column, counting at most `cap` units, so one obsessive visitor cannot
outscore a buyer. A unit is one event, one matching category value (`equals`), or `per` days for the decay.
Every count uses the 90-day window, as those tools do by default. Columns a data set lacks score 0, so a CRM
export with only `attr.*` columns scores 0 everywhere (AUC 0.5): the rules have nothing to go on there.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd


class Rule(NamedTuple):
    """One row of the points table: `points` per unit of `column`, at most `cap` units."""

    column: str
    points: float
    cap: float
    equals: str | None = None
    per: float = 1.0


# fmt: off
RULES: tuple[Rule, ...] = (
    #    column                        points  cap
    Rule("beh.page_pricing_90d",          10,   5),
    Rule("beh.page_demo_90d",              8,   3),
    Rule("beh.demo_request_90d",           8,   2),
    Rule("beh.email_open_90d",             3,  10),
    Rule("beh.email_click_90d",            5,   5),
    Rule("beh.email_reply_90d",           10,   3),
    Rule("beh.form_submit_90d",           15,   3),
    Rule("beh.webinar_90d",               10,   2),
    Rule("beh.trial_event_90d",            5,  10),
    Rule("beh.meeting_90d",               10,   3),
    Rule("beh.email_bounce_90d",         -10,   3),
    Rule("beh.unsubscribe_90d",          -20,   1),
    Rule("firm.seniority",                15,   1, equals="c_level"),
    Rule("firm.seniority",                10,   1, equals="vp"),
    Rule("firm.seniority",                 5,   1, equals="director"),
    Rule("time.days_since_activity",      -1,   9, per=10),
)
# fmt: on
"""The points table, in the order a sales team would read it."""


def _units(column: pd.Series, rule: Rule) -> np.ndarray:
    """How many units of `rule` each row earns, before the cap."""
    if rule.equals is not None:
        return (column.astype(object) == rule.equals).to_numpy(dtype=float)
    values = pd.to_numeric(column, errors="coerce").fillna(0.0).to_numpy(dtype=float)
    return np.floor(np.maximum(values, 0.0) / rule.per)


def rule_points(features: pd.DataFrame) -> np.ndarray:
    """Points per row from `RULES`, using only the columns present (a missing column scores 0)."""
    points = np.zeros(len(features), dtype=float)
    for rule in RULES:
        if rule.column in features.columns:
            points += rule.points * np.minimum(_units(features[rule.column], rule), rule.cap)
    return points
