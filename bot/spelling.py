"""Typos in the words questions are made of ("hwo should i cal tody?"): each word that is not one of them but is
one slip away (a letter added, dropped, changed, or two swapped) is read as that word. Names are never touched:
the router tries the mended question only when the question as typed matched nothing, and takes what a pattern
found (a name, a country) from the question as typed (`Mended.original`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import DamerauLevenshtein

WORDS = frozenset("""
who whom what which why should could can do does did is are was were call ring phone contact reach follow today
now first next top best hottest leads lead accounts account companies prospects deals hot warm cold changed change
moved happened new lately recently this last week month compare versus and with snooze contacted demo help show list
give me my the for in from about explain score scored any went turned cooled going between difference better hotter
movers digest summary opportunities promising highest attention start tell doing status remind called emailed
spoke talked not fit after
""".split())  # noqa: SIM905  (a word list reads best as prose)
SHORTHAND = {"wy": "why", "hw": "how", "u": "you", "ur": "your", "r": "are", "pls": "please", "2day": "today",
             "tmrw": "tomorrow", "wk": "week", "thx": "thanks"}
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Mended:
    """A question with its typos mended, and where each of its characters came from in the question as typed."""

    text: str
    typed: str
    _starts: tuple[int, ...]  # for each position of `text` (and its end), the position in `typed` it came from
    _ends: tuple[int, ...]

    def original(self, start: int, end: int) -> str:
        """The part of the question as typed that text[start:end] stands for (a name is given back unmended)."""
        return self.typed[self._starts[start]:self._ends[end]]


def _nearest(word: str) -> str:
    if word in WORDS or word.isdigit():
        return word
    if word in SHORTHAND:
        return SHORTHAND[word]
    if len(word) < 3:
        return word
    slips = 1 if len(word) <= 6 else 2
    close = [w for w in WORDS if abs(len(w) - len(word)) <= slips and DamerauLevenshtein.distance(word, w) <= slips]
    # the nearest; between equals the longer (a dropped letter is the commonest slip: "wat" is "what")
    return min(close, key=lambda w: (DamerauLevenshtein.distance(word, w), -len(w), w)) if close else word


def mend(typed: str) -> Mended:
    """The question in lower case with each near-miss of a question word replaced by it; other words as typed."""
    lower = typed.lower()
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    at = 0
    for match in _WORD.finditer(lower):
        between = lower[at:match.start()]
        pieces.append(between)
        starts.extend(range(at, match.start()))
        ends.extend(range(at, match.start()))
        word = _nearest(match.group(0))
        if word == match.group(0):
            starts.extend(range(match.start(), match.end()))
            ends.extend(range(match.start(), match.end()))
        else:  # a mended word stands for the whole word typed
            starts.extend([match.start()] * len(word))
            ends.extend([match.start()] + [match.end()] * (len(word) - 1))
        pieces.append(word)
        at = match.end()
    pieces.append(lower[at:])
    starts.extend(range(at, len(lower) + 1))
    ends.extend(range(at, len(lower) + 1))
    return Mended("".join(pieces), typed, tuple(starts), tuple(ends))


def corrected(text: str) -> str:
    """The text with each near-miss of a question word replaced by it (lower case); other words as they were."""
    return mend(text).text
