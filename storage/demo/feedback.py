"""What the demo's reps say about the leads they talked to: right more often than not, never certain.

A rep's feedback is drawn against what actually happened (the simulated outcome; for a lead still open, an outcome
drawn from its true probability, the one it is heading for), so it carries knowledge the activity data does not:
`--truth`'s probability is no longer all there is to know about a lead a rep judged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FEEDBACK_SHARE = 0.35  # of the leads a rep talked to, those the owner gives one piece of feedback on
RIGHT = 0.75  # how often that feedback agrees with what happens
NO_BUDGET_SHARE = 0.6  # of the cold verdicts, "talked: no budget" (the rest: "not a fit")
PIN_DAYS = {"hotter": 14.0, "no_budget": 30.0}  # how long a verdict pins the band; "not a fit" is a stop
HEADER = ["lead", "rep", "action", "created_at", "until", "note"]
NOTES = {
    "hotter": ("spoke today: very keen", "wants a proposal this week", "their CFO joined the call",
               "ready to start a trial"),
    "no_budget": ("no budget this year", "budget frozen until next quarter", "likes it, cannot pay yet"),
    "not_fit": ("student project", "too small for us", "just researching, no project", "wrong region"),
}


@dataclass(frozen=True)
class Feedback:
    """One verdict (storage.history.VERDICTS) given `at` days from the anchor, pinning the band for `pin` days
    (None: no pin)."""

    action: str
    at: float
    pin: float | None
    note: str


def give_feedback(rng: random.Random, *, converts: bool, after: float, before: float) -> Feedback:
    """The owner's verdict on a lead that `converts` (or not), given strictly between `after` (the end of the
    conversation) and `before` (the decision, or today for an open lead)."""
    hot = converts == (rng.random() < RIGHT)  # right about a lead that converts, or wrong about one that does not
    action = "hotter" if hot else "no_budget" if rng.random() < NO_BUDGET_SHARE else "not_fit"
    # somewhere in the middle 90% of the gap: at least minutes away from either end, whole seconds apart
    at = after + (before - after) * rng.uniform(0.05, 0.95)
    return Feedback(action, at, PIN_DAYS.get(action), rng.choice(NOTES[action]))
