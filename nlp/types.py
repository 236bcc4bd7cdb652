"""What reading one message produces: scores, and spans that point back into the text."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SPAN_KINDS = ("budget", "timeline", "competitors", "decision_roles", "objections", "next_steps")


@dataclass(frozen=True)
class Span:
    """A piece of the text: `text == source[start:end]`; `negated` when the text denies it ("no budget")."""

    text: str
    start: int
    end: int
    label: str = ""  # finer kind: objections price/timing/authority/need; timeline asap/date/quarter…
    negated: bool = False


@dataclass
class Signals:
    """Everything Hotlead reads out of one message."""

    sentiment: float = 0.0  # -1 (very negative) .. 1 (very positive)
    sentiment_label: str = "neutral"  # negative | neutral | positive
    urgency: float = 0.0  # 0 (calm) .. 1 (urgent)
    # where the urgency came from: log-odds from the words (the transformer's vector and VADER) and from the rules
    # (urgency cues, deadlines), the base, and the rule spans that fired ("by Friday", "ASAP")
    urgency_parts: dict[str, Any] = field(default_factory=dict)
    budget: list[Span] = field(default_factory=list)
    timeline: list[Span] = field(default_factory=list)
    competitors: list[Span] = field(default_factory=list)
    decision_roles: list[Span] = field(default_factory=list)
    objections: list[Span] = field(default_factory=list)
    next_steps: list[Span] = field(default_factory=list)
    question: bool = False
    engine: str = "rules"  # which reader produced the scores: transformer | rules
    error: str | None = None  # set when this text could not be fully read (the others are unaffected)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)
