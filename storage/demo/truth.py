"""The known conversion model behind the demo data, written over what a model can observe.

The probability depends only on facts visible in the data as of the decision time (cutoff), so the
best possible model is this function and a trained model can be compared with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TARGET_VERTICALS = frozenset({"fintech", "software", "healthcare"})
SMALL_COMPANY = 200
READERS = "heavy readers who never talk to sales"  # the hidden segment: no single feature defines it
READER_CONTENT = 6  # docs, case-study and blog views in 30 days, with no reply and no conversation


@dataclass(frozen=True)
class TruthInputs:
    """Observable facts about one lead as of its cutoff."""

    pricing_30d: int
    demo_30d: int
    replies_90d: int
    small_target: bool
    days_since_activity: float
    count_7d: int
    count_28d: int
    bounced: bool
    no_reply_21d: bool
    seniority: str
    source: str
    urgency_said: bool
    budget_said: bool
    strong_objection: bool
    content_30d: int = 0  # docs, case-study and blog page views
    talked: bool = False  # any conversation (chat, WhatsApp, call) before the cutoff


def hidden_segment(x: TruthInputs) -> str:
    """READERS for a lead who reads a lot and never talks to sales (no reply, no conversation), else ""."""
    return READERS if x.content_30d >= READER_CONTENT and x.replies_90d == 0 and not x.talked else ""


_SENIORITY = {"c_level": 0.35, "vp": 0.3, "director": 0.15, "manager": 0.0, "individual": -0.25}
_SOURCE = {"referral": 0.45, "event": 0.2, "webinar": 0.1, "organic": 0.0, "partner": 0.15,
           "paid_search": -0.15, "outbound": -0.3}


def logit(x: TruthInputs) -> float:
    """The log-odds of converting."""
    replied = x.replies_90d >= 1
    value = -3.0
    value += 0.42 * min(x.pricing_30d, 4)
    value += 0.5 * replied + 0.2 * min(x.replies_90d, 3)
    value += 0.55 * x.small_target
    # The interaction rule-based points miss: pricing interest + a conversation + the ideal customer.
    value += 1.25 * (x.pricing_30d >= 2 and replied and x.small_target)
    value += 0.35 * min(x.demo_30d, 2)
    value -= 0.05 * min(x.days_since_activity, 45.0)
    velocity = x.count_7d - x.count_28d / 4.0
    value += 0.22 * max(-3.0, min(3.0, velocity))
    value -= 0.9 * x.bounced + 0.75 * x.no_reply_21d
    value += _SENIORITY.get(x.seniority, 0.0) + _SOURCE.get(x.source, 0.0)
    value += 0.9 * x.urgency_said + 0.7 * x.budget_said - 1.2 * x.strong_objection
    # The segment rule-based points and a single feature miss: they read everything, never reply, and still buy.
    value += 2.6 * bool(hidden_segment(x))
    return value


def true_probability(x: TruthInputs) -> float:
    """The probability of converting."""
    return 1.0 / (1.0 + math.exp(-logit(x)))


# A won deal's size: employees × a price per employee × its plan's factor. Senior buyers take bigger plans (the
# scorer's own features see seniority, so a value model can learn it); the plan itself is known only once won.
PLANS = {"starter": 0.5, "growth": 1.0, "enterprise": 2.5}
PLAN_ODDS = {"c_level": (0.2, 0.4, 0.4), "vp": (0.2, 0.4, 0.4), "director": (0.3, 0.5, 0.2),
             "manager": (0.3, 0.5, 0.2), "individual": (0.6, 0.35, 0.05)}


def plan_factor(seniority: str) -> float:
    """The mean plan factor of a deal with a buyer of this seniority."""
    return sum(odds * factor for odds, factor in zip(PLAN_ODDS[seniority], PLANS.values(), strict=True))

