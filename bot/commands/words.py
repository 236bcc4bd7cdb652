"""The words questions share, as pattern pieces: the commands' patterns are built from them so that a synonym
learnt once ("prospects", "opportunities", "ring", "phone") works in every command that takes that word."""

from __future__ import annotations

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
           "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
NUMBER = r"(?:\d+|" + "|".join(NUMBERS[1:]) + ")"
SOME = rf"(?:{NUMBER}|an?)"  # "a week", "an hour"
SPAN = rf"(?:(?P<days>{SOME})\s*d(?:ays?)?|(?P<weeks>{SOME})\s*w(?:ee)?ks?)"  # "7 days", "2 weeks" (see span_days)
LEADS = r"(?:leads?|prospects?|opportunit(?:y|ies)|opps?|contacts?|deals?|people|ones)"
ACCOUNTS = r"(?:accounts?|companies|company|customers?|organi[sz]ations?|orgs?)"
BAND = r"(?:hot|warm|cold)"
BEST = (r"(?:top|best|hottest|warmest|strongest|most\s+promising|most\s+likely(?:\s+to\s+(?:buy|convert|close))?|"
        r"highest(?:[-\s]+(?:scor(?:ing|ed)|rated|ranked))?|highest)")
CALL = (r"(?:call|phone|ring|dial|contact|email|reach\s+out\s+to|reach|follow\s+up\s+(?:with|on)|"
        r"get\s+in\s+touch\s+with|talk\s+to|speak\s+to|focus\s+on|work\s+on|chase)")
NOW = (r"(?:\s+(?:today|now|right\s+now|first|next|this\s+morning|this\s+afternoon|this\s+week|at\s+the\s+moment|"
       r"currently|first\s+thing|asap))*")
WEEK = (r"(?:\s+(?:in\s+|over\s+|during\s+)?(?:this|last|the\s+past|the\s+last|past)\s+(?:week|7\s+days|few\s+days)|"
        r"\s+lately|\s+recently|\s+since\s+(?:last\s+week|monday|yesterday)|\s+today|\s+so\s+far)?")
SEGMENT = r"(?:\s+(?:in|from|for|of|at|owned\s+by|assigned\s+to|belonging\s+to)\s+(?P<segment>.+?))?"
WHAT_IS = r"(?:what's|what’s|whats|what\s+is|what\s+are)"


def number(text: str | None, default: int) -> int:
    """A count as typed ("5", "five"); `default` when there is none."""
    if not text:
        return default
    text = text.strip().lower()
    if text in ("a", "an"):
        return 1
    return int(text) if text.isdigit() else NUMBERS.index(text)


def span_days(parts: dict[str, str | None]) -> int:
    """The days a matched SPAN says ("2 weeks": 14); 0 when none was said."""
    return number(parts.get("days"), 0) + 7 * number(parts.get("weeks"), 0)
