"""Buying signals read by rules: a blank spaCy pipeline, PhraseMatchers + Matchers, and a look-back for negation.

This is the HOTLEAD_NLP=rules reader: no model files, no network, thousands of short messages per second. Word lists
and token patterns live in `nlp/lexicon.py`; every span's `text` is `source[start:end]` of the text it came from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cache, partial
from typing import Any, NamedTuple, cast

import spacy
from spacy.attrs import FLAG19, FLAG63
from spacy.lang.lex_attrs import word_shape
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_infix_regex, compile_suffix_regex
from spacy.vocab import Vocab

from nlp import lexicon
from nlp.lexicon import Pattern
from nlp.types import Span

log = logging.getLogger(__name__)

KINDS = ("budget", "timeline", "competitors", "decision_roles", "objections", "next_steps", "urgency_cues")
MAX_CHARS = 100_000  # longer texts are read in pieces of at most this size, cut at a line break or space
BATCH_SIZE = 256  # measured: bigger batches were slower here (cache misses)

_SIGNALS = "hotlead_signals"  # doc.user_data key: (kind, label, start_char, end_char, negated) tuples
_SENTENCE_ENDS = frozenset((".", "!", "?", "…", "..."))
# "40k", "2bn" and "$40k-$50k" become number, multiplier and dash tokens, so amount patterns need no regex.
_SUFFIXES = (r"(?<=[0-9])(?:k|bn)", r"(?<=[0-9][kKmMbB])\.", r"(?<=[0-9]bn)\.")
_INFIXES = (r"(?<=[0-9])[kK](?=[-–][0-9$€£])", r"(?<=[0-9][kK])[-–](?=[0-9$€£])", r"(?<=[0-9])[-–](?=[$€£])",
            r"(?<=[-–])[$€£](?=[0-9])")

Targets = tuple[tuple[str, str], ...]  # the (kind, label) pairs one match feeds
Found = tuple[Targets, int, int]  # targets, first token, end token
Signal = tuple[str, str, int, int, bool]  # kind, label, start char, end char, negated
_FREE_FLAGS = range(FLAG19, FLAG63 + 1)  # lexeme flag ids spaCy leaves to applications
_DEADLINE: Targets = (("timeline", "deadline"),)
_NEAR_DEADLINE: Targets = (("timeline", "deadline"), ("urgency_cues", "by_date"))


class Rule(NamedTuple):
    """How to read one lexicon rule name (see the lexicon docstring)."""

    targets: Targets
    cased: bool  # "?": a capitalised ordinary word, kept only mid-sentence and in unshouted text
    needs_by: bool  # "^": counts only after "by"/"before" …
    timed: bool  # a date or time frame that "by" turns into a deadline
    near: bool  # days rather than months away: "by <it>" is an urgency cue
    objection: bool  # may start with a clitic "n't" to pull its verb in: "is|n't the right time"

    @classmethod
    def parse(cls, name: str) -> Rule:
        """'?competitors:Close' or 'timeline:date+urgency_cues:today' -> Rule."""
        targets = tuple((kind, label) for kind, _, label in (t.partition(":") for t in name.lstrip("?^").split("+")))
        timeline = [label for kind, label in targets if kind == "timeline"]
        timed = bool(timeline) and timeline[0] != "asap"
        near = timed and (timeline[0] == "date" or any(kind == "urgency_cues" for kind, _ in targets))
        objection = targets[0][0] == "objections"
        return cls(targets, name.startswith("?"), name.startswith("^"), timed, near, objection)


class Group(NamedTuple):
    """Token patterns whose Matcher runs only near their anchor words, and only if each anchor list is present."""

    anchors: tuple[int, ...]  # one anchor-rule id per anchor list
    matcher: Matcher
    reach: int  # longest possible match in tokens: the Matcher only reads this far around an anchor


@Language.factory("hotlead_signals")
def make_signal_matcher(nlp: Language, name: str) -> SignalMatcher:
    """spaCy factory for the `SignalMatcher` component."""
    return SignalMatcher(nlp)


class SignalMatcher:
    """Pipeline component: finds the lexicon's signals and stores them in `doc.user_data` as `Signal` tuples."""

    def __init__(self, nlp: Language) -> None:
        strings = nlp.vocab.strings
        groups = list(lexicon.GROUPS.items())
        anchors = {f"@{group}#{i}": words for group, (lists, _) in groups for i, words in enumerate(lists)}
        self.phrases = _phrase_matcher(nlp, "NORM", {**lexicon.PHRASES, **anchors})
        self.cased = _phrase_matcher(nlp, "ORTH", lexicon.CASED_PHRASES)
        self.shapes = _phrase_matcher(nlp, "SHAPE", lexicon.SHAPE_PHRASES)
        self.anchor_ids = frozenset(strings.add(anchor) for anchor in anchors)
        self.groups: list[Group] = []
        names = [*lexicon.PHRASES, *lexicon.CASED_PHRASES, *lexicon.SHAPE_PHRASES]
        flags = _flags(nlp.vocab, [p for _, (_, rules) in groups for ps in rules.values() for p in ps])
        for group, (lists, rules) in groups:
            matcher = Matcher(nlp.vocab, validate=False)  # flag attributes are not in the pattern schema
            for name, patterns in rules.items():
                matcher.add(name, [[_flagged(spec, flags) for spec in p] for p in patterns])
                names.append(name)
            reach = max(_max_length(p) for ps in rules.values() for p in ps)
            self.groups.append(Group(tuple(strings.add(f"@{group}#{i}") for i in range(len(lists))), matcher, reach))
        self.rules = {strings.add(name): Rule.parse(name) for name in names}
        self.cues = frozenset(strings.add(word) for word in (*lexicon.NEGATION_CUES, *lexicon.HEDGE_CUES))
        self.after_cues = frozenset(strings.add(word) for word in lexicon.NEGATION_CUES)
        self.auxiliaries = frozenset(strings.add(word) for word in lexicon.AUXILIARIES)
        self.greetings = frozenset(strings.add(word) for word in lexicon.GREETINGS)
        self.breaks = frozenset(strings.add(word) for word in lexicon.CLAUSE_BREAKS)
        self.by_words = frozenset(strings.add(word) for word in lexicon.BY_WORDS)
        self.no_later_than = tuple(strings.add(word) for word in ("no", "later", "than"))
        self.not_ = strings.add("not")
        self.the = strings.add("the")
        self.not_days = frozenset(strings.add(word) for word in lexicon.NOT_DAYS_AFTER_ORDINAL)

    def __call__(self, doc: Doc) -> Doc:
        """Annotate one doc."""
        found = self.find(doc)
        doc.user_data[_SIGNALS] = self.signals(doc, found) if found else []
        return doc

    def find(self, doc: Doc) -> list[Found]:
        """Rule matches, less misfits, plus "by …" deadlines."""
        matches = [*self.phrases(doc), *self.cased(doc), *self.shapes(doc)]
        anchors: dict[int, list[int]] = {}
        for match_id, start, _ in matches:
            if match_id in self.anchor_ids:
                anchors.setdefault(match_id, []).append(start)
        for group in self.groups:
            if all(anchor in anchors for anchor in group.anchors):
                matches.extend(_run_near(doc, group, min((anchors[a] for a in group.anchors), key=len)))
        found: list[Found] = []
        for rule_id, start, end in matches:
            rule = self.rules.get(rule_id)
            if rule is None or (rule.cased and not _stands_out(doc, start, end)) or self.ordinal_thing(doc, start, end):
                continue
            if rule.timed and start and doc[start - 1].norm in self.greetings:
                continue  # "Happy Monday!", "have a great Friday": a greeting, not a date
            if rule.objection and start and doc[start].norm == self.not_ and not doc[start - 1].whitespace_:
                start -= 1  # "is|n't the right time" reads as "isn't the right time"
            by = self.by_start(doc, start) if rule.timed else -1
            if by >= 0:
                found.append((_NEAR_DEADLINE if rule.near else _DEADLINE, by, end))
            if by >= 0 or not rule.needs_by:
                found.append((rule.targets, start, end))
        return found

    def signals(self, doc: Doc, found: list[Found]) -> list[Signal]:
        """Found matches as signals in text order, negation marked, and none inside a longer one of its kind."""
        owners = _owners(found) if len(found) > 1 else {}
        ordered = sorted(found, key=lambda f: (f[1], -f[2]))
        reach: dict[str, int] = {}
        signals: list[Signal] = []
        for targets, start, end in ordered:
            negated: bool | None = None
            for kind, label in targets:
                if end > reach.get(kind, -1):
                    reach[kind] = end
                    if negated is None:
                        negated = self.negated(doc, start, owners) or self.denied_after(doc, end)
                    last = doc[end - 1]
                    signals.append((kind, label, doc[start].idx, last.idx + len(last), negated))
        return _without_objections_inside_urgency(signals)

    def ordinal_thing(self, doc: Doc, start: int, end: int) -> bool:
        """ "the 2nd" followed by a word that makes it the 2nd of something else (floor, time), not a day."""
        return (end - start == 2 and end < len(doc) and doc[start].norm == self.the
                and doc[end].norm in self.not_days and doc[start + 1].text[:1].isdigit())

    def by_start(self, doc: Doc, start: int) -> int:
        """Where "by", "before" … "no later than" begins right before `start`, or -1."""
        if start and doc[start - 1].norm in self.by_words:
            return start - 1
        if start >= 3 and tuple(doc[i].norm for i in range(start - 3, start)) == self.no_later_than:
            return start - 3
        return -1

    def negated(self, doc: Doc, start: int, owners: dict[int, int]) -> bool:
        """Whether a negation cue is among the 3 words before `start` in the same clause ("no budget").

        The look-back stops at another signal, so "no budget this year" negates the budget, not the year.
        """
        seen, i = 0, start - 1
        while i >= 0 and seen < 3:
            token = doc[i]
            if token.is_space:
                if "\n" in token.text:
                    return False
            elif owners.get(i, start + 1) <= start or token.norm in self.breaks:
                return False
            elif token.norm in self.cues:
                return True
            else:
                seen += 1
            i -= 1
        return False


    def denied_after(self, doc: Doc, end: int) -> bool:
        """Whether the clause goes on to deny the signal: only auxiliaries, then a negation cue ("budget is not
        approved", "HubSpot isn't an option", "the timeline has not been set")."""
        i = end
        while i < len(doc) and i < end + 4:
            token = doc[i]
            if token.norm in self.after_cues:
                return True
            if token.norm not in self.auxiliaries:
                return False
            i += 1
        return False


def _without_objections_inside_urgency(signals: list[Signal]) -> list[Signal]:
    """An urgency cue made of an objection's words is urgency only: "can't afford to wait" is no price objection."""
    urgent = [(start, end) for kind, _, start, end, _ in signals if kind == "urgency_cues"]
    if not urgent:
        return signals
    return [signal for signal in signals if signal[0] != "objections"
            or not any(start <= signal[2] and signal[3] <= end for start, end in urgent)]


def _run_near(doc: Doc, group: Group, starts: list[int]) -> Iterator[tuple[int, int, int]]:
    """Run a group's Matcher on the stretches of `doc` within its reach of an anchor (a match must hold one)."""
    windows: list[list[int]] = []
    for start in sorted(starts):
        low, high = max(0, start - group.reach + 1), min(len(doc), start + group.reach)
        if windows and low <= windows[-1][1]:
            windows[-1][1] = high
        else:
            windows.append([low, high])
    for low, high in windows:
        for match_id, start, end in group.matcher(doc[low:high]):
            yield match_id, low + start, low + end


def _owners(found: list[Found]) -> dict[int, int]:
    """Token -> earliest end of a signal covering it; objections are left out: their negation spreads ("don't need
    it right now")."""
    owners: dict[int, int] = {}
    for targets, start, end in found:
        if targets[0][0] != "objections":
            for i in range(start, end):
                owners[i] = min(owners.get(i, end), end)
    return owners


def _stands_out(doc: Doc, start: int, end: int) -> bool:
    """A name that is also a word (Close, IT) counts mid-sentence only, and not in shouted text."""
    before = doc[start - 1] if start else None
    if doc[start].is_title and (before is None or before.text in _SENTENCE_ENDS or "\n" in before.text):
        return False
    neighbours = (before, doc[end] if end < len(doc) else None)
    return not any(t is not None and t.is_upper and t.is_alpha and len(t) > 1 for t in neighbours)


def _phrase_matcher(nlp: Language, attr: str, rules: dict[str, list[str]]) -> PhraseMatcher:
    matcher = PhraseMatcher(nlp.vocab, attr=attr)
    for name, phrases in rules.items():
        matcher.add(name, [nlp.make_doc(phrase) for phrase in phrases])
    return matcher


def _flags(vocab: Vocab, patterns: list[Pattern]) -> dict[tuple[str, frozenset[str]], int]:
    """Word-set tests ({"LOWER": {"IN": words}}) as lexeme flags: computed once per word, then a bit test in C
    instead of a Python call per token. spaCy leaves 45 flag ids free; sets met early in patterns get them first."""
    first: dict[tuple[str, frozenset[str]], int] = {}
    for pattern in patterns:
        for position, spec in enumerate(pattern):
            if key := _word_set(spec):
                first[key] = min(first.get(key, position), position)
    ordered = zip(sorted(first, key=first.__getitem__), _FREE_FLAGS, strict=False)
    return {key: vocab.add_flag(partial(_has_word, *key), flag_id=flag_id) for key, flag_id in ordered}


def _word_set(spec: dict[str, Any]) -> tuple[str, frozenset[str]] | None:
    tests = [(attr, value) for attr, value in spec.items() if attr != "OP"]
    if len(tests) == 1 and isinstance(tests[0][1], dict) and set(tests[0][1]) == {"IN"}:
        return tests[0][0], frozenset(tests[0][1]["IN"])
    return None


def _flagged(spec: dict[str, Any], flags: dict[tuple[str, frozenset[str]], int]) -> dict[Any, Any]:
    key = _word_set(spec)
    if key is None or key not in flags:
        return spec
    return {flags[key]: True, **{attr: value for attr, value in spec.items() if attr == "OP"}}


def _has_word(attr: str, words: frozenset[str], text: str) -> bool:
    return (text.lower() if attr == "LOWER" else word_shape(text) if attr == "SHAPE" else text) in words


def _max_length(pattern: Pattern) -> int:
    """Most tokens a pattern can cover ("+" and "*" would make it unbounded, so the lexicon uses "{m,n}")."""
    ops = [str(spec.get("OP", "1")) for spec in pattern]
    if "+" in ops or "*" in ops:
        raise ValueError("unbounded operators defeat matching near anchors; use {m,n}")
    return sum(int(op.strip("{}").split(",")[-1]) if op.startswith("{") else 1 for op in ops)


@cache
def pipeline() -> Language:
    """The one shared rules pipeline: blank English tokenizer (amount-aware) plus the signal matcher."""
    nlp = spacy.blank("en")
    tokenizer = cast(Tokenizer, nlp.tokenizer)
    tokenizer.suffix_search = compile_suffix_regex([*(nlp.Defaults.suffixes or ()), *_SUFFIXES]).search
    tokenizer.infix_finditer = compile_infix_regex([*(nlp.Defaults.infixes or ()), *_INFIXES]).finditer
    for abbreviation in ("k.", "K.", "m.", "M."):  # "40k." is an amount and a full stop, not an abbreviation
        tokenizer.add_special_case(abbreviation, [{"ORTH": abbreviation[0]}, {"ORTH": "."}])
    nlp.max_length = MAX_CHARS + 1
    nlp.add_pipe("hotlead_signals")
    return nlp


def empty() -> dict[str, list[Span]]:
    """A result with every kind and no spans."""
    return {kind: [] for kind in KINDS}


def extract(texts: list[str]) -> list[dict[str, list[Span]]]:
    """For each text, the spans of every kind in KINDS; a text that cannot be read gets `empty()`."""
    nlp = pipeline()  # outside the try: a pipeline that cannot be built is a bug to see, not an empty result
    try:
        return _read(nlp, texts)
    except Exception:  # one bad text must not cost the batch: retry one by one
        log.debug("reading a batch of %d texts failed; retrying one at a time", len(texts), exc_info=True)
        return [_read_one(nlp, text) for text in texts]


def _read_one(nlp: Language, text: str) -> dict[str, list[Span]]:
    try:
        return _read(nlp, [text])[0]
    except Exception:
        log.debug("could not read a text of type %s", type(text).__name__, exc_info=True)
        return empty()


def _read(nlp: Language, texts: list[str]) -> list[dict[str, list[Span]]]:
    results = [empty() for _ in texts]
    jobs: list[tuple[int, int]] = []  # (text index, offset of the piece in that text)
    pieces: list[str] = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            log.debug("text %d is a %s, not a str: no spans", index, type(text).__name__)
        elif len(text) <= MAX_CHARS:
            jobs.append((index, 0))
            pieces.append(text)
        else:
            for offset, piece in _pieces(text):
                jobs.append((index, offset))
                pieces.append(piece)
    for (index, offset), doc in zip(jobs, nlp.pipe(pieces, batch_size=BATCH_SIZE), strict=True):
        source, result = texts[index], results[index]
        for kind, label, start, end, negated in doc.user_data.pop(_SIGNALS):
            start, end = start + offset, end + offset
            result[kind].append(Span(source[start:end], start, end, label, negated))
    return results


def _pieces(text: str) -> Iterator[tuple[int, str]]:
    """Cut a long text at line breaks (else spaces) into pieces of at most MAX_CHARS, with their offsets."""
    start = 0
    while start < len(text):
        end = min(start + MAX_CHARS, len(text))
        if end < len(text):
            cut = text.rfind("\n", start + MAX_CHARS // 2, end)
            if cut < 0:
                cut = text.rfind(" ", start + MAX_CHARS // 2, end)
            if cut >= 0:
                end = cut + 1
        yield start, text[start:end]
        start = end
