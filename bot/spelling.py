"""Typos in the words questions are made of ("hwo should i cal tody?"): each word that is not one of them but is
one slip away (a letter added, dropped, changed, or two swapped) is read as that word. Names are never touched:
the router tries the corrected question only when the question as typed matched nothing."""

from __future__ import annotations

import re

from rapidfuzz.distance import DamerauLevenshtein

WORDS = frozenset("""
who whom what which why should could can do does did is are was were call ring contact reach follow today
now first next top best hottest leads lead accounts account companies prospects deals hot warm cold changed change
moved happened new lately recently this last week month compare versus and with snooze contacted demo help show list
give me my the for in from about explain score scored any went turned cooled going
""".split())  # noqa: SIM905  (a word list reads best as prose)
_WORD = re.compile(r"[a-z]+")


def corrected(text: str) -> str:
    """The text with each near-miss of a question word replaced by it (lower case); other words as they were."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        if word in WORDS or len(word) < 3:
            return word
        slips = 1 if len(word) <= 6 else 2
        close = [w for w in WORDS if abs(len(w) - len(word)) <= slips
                 and DamerauLevenshtein.distance(word, w) <= slips]
        # the nearest; between equals the longer (a dropped letter is the commonest slip: "wat" is "what")
        return min(close, key=lambda w: (DamerauLevenshtein.distance(word, w), -len(w), w)) if close else word

    return _WORD.sub(fix, text.lower())
