"""Rule-based signal spans: what each kind finds, offsets that slice back to the text, negation, robustness."""

from __future__ import annotations

import random
from typing import Any

import pytest

from nlp import lexicon
from nlp.spans import KINDS, MAX_CHARS, extract
from nlp.types import Span

FOUND = [  # text, kind, span text, label
    ("Our budget is $40k for this.", "budget", "$40k", "amount"),
    ("Around 40k all in.", "budget", "40k", "amount"),
    ("We pay €12,000 a year.", "budget", "€12,000", "amount"),
    ("About 50,000 dollars.", "budget", "50,000 dollars", "amount"),
    ("USD 20k max", "budget", "USD 20k", "amount"),
    ("It could reach 2 million.", "budget", "2 million", "amount"),
    ("Somewhere in the $40k-$50k range", "budget", "$40k-$50k", "amount"),
    ("Funding approved last week!", "budget", "Funding approved", "talk"),
    ("Our CFO signed off.", "budget", "signed off", "talk"),
    ("We allocated some money for it", "budget", "allocated", "talk"),
    ("What's your price range?", "budget", "price range", "talk"),
    ("We can spend a bit more", "budget", "We can spend", "talk"),
    ("We need it by Friday.", "timeline", "by Friday", "deadline"),
    ("Ships end of quarter", "timeline", "end of quarter", "quarter"),
    ("Rolling out at the end of Q3", "timeline", "the end of Q3", "quarter"),
    ("Target is EOQ", "timeline", "EOQ", "quarter"),
    ("Can you send it by EOD?", "timeline", "by EOD", "deadline"),
    ("Let's talk this week", "timeline", "this week", "period"),
    ("We start next month", "timeline", "next month", "period"),
    ("Decision within two weeks", "timeline", "within two weeks", "period"),
    ("Before the 15th would be ideal", "timeline", "Before the 15th", "deadline"),
    ("Can we go live on the 2nd?", "timeline", "the 2nd", "date"),
    ("Need an answer ASAP", "timeline", "ASAP", "asap"),
    ("Go-live by March 1st", "timeline", "by March 1st", "deadline"),
    ("Kickoff on 2025-03-15", "timeline", "2025-03-15", "date"),
    ("Kickoff on 03/15/2025", "timeline", "03/15/2025", "date"),
    ("Kickoff on March 3, 2025", "timeline", "March 3, 2025", "date"),
    ("No later than Monday please", "timeline", "No later than Monday", "deadline"),
    ("We use Salesforce today", "competitors", "Salesforce", "Salesforce"),
    ("hubspot is cheaper", "competitors", "hubspot", "HubSpot"),
    ("We moved off Pipedrive", "competitors", "Pipedrive", "Pipedrive"),
    ("We tried zoho crm", "competitors", "zoho crm", "Zoho"),
    ("Our SDRs live in Outreach", "competitors", "Outreach", "Outreach"),
    ("Also looking at Salesloft", "competitors", "Salesloft", "Salesloft"),
    ("We record calls with Gong", "competitors", "Gong", "Gong"),
    ("Freshsales quoted less", "competitors", "Freshsales", "Freshsales"),
    ("We moved to Close last year", "competitors", "Close", "Close"),
    ("We are on Copper", "competitors", "Copper", "Copper"),
    ("Currently on Microsoft Dynamics", "competitors", "Microsoft Dynamics", "Microsoft Dynamics"),
    ("We plan in monday.com", "competitors", "monday.com", "Monday.com"),
    ("Our CEO wants a look", "decision_roles", "CEO", "ceo"),
    ("The CFO has the final say", "decision_roles", "CFO", "cfo"),
    ("Our CTO will join", "decision_roles", "CTO", "cto"),
    ("Looping our COO", "decision_roles", "COO", "coo"),
    ("The CIO asked", "decision_roles", "CIO", "cio"),
    ("Our VP of Sales likes it", "decision_roles", "VP of Sales", "vp"),
    ("The head of procurement replied", "decision_roles", "head of procurement", "head"),
    ("Our sales director is in", "decision_roles", "sales director", "director"),
    ("Procurement needs the paperwork", "decision_roles", "Procurement", "procurement"),
    ("Legal is reviewing", "decision_roles", "Legal", "legal"),
    ("Our finance team asked", "decision_roles", "finance team", "finance"),
    ("I'll ask my boss", "decision_roles", "my boss", "boss"),
    ("It goes to the board", "decision_roles", "the board", "board"),
    ("The security team wants a review", "decision_roles", "security team", "security"),
    ("IT has to approve it", "decision_roles", "IT", "it"),
    ("Honestly it's too expensive", "objections", "too expensive", "price"),
    ("We're over budget already", "objections", "over budget", "price"),
    ("We can't afford it", "objections", "can't afford", "price"),
    ("Is there anything cheaper?", "objections", "cheaper", "price"),
    ("The price is a bit too high", "objections", "price is a bit too high", "price"),
    ("It's not the right time", "objections", "not the right time", "timing"),
    ("Maybe next year", "objections", "next year", "timing"),
    ("There's a hiring freeze", "objections", "hiring freeze", "timing"),
    ("We're too busy right now", "objections", "too busy", "timing"),
    ("That's not my call", "objections", "not my call", "authority"),
    ("I need to check with my boss", "objections", "need to check with my boss", "authority"),
    ("I'm not the decision maker", "objections", "not the decision maker", "authority"),
    ("We don't need it", "objections", "don't need", "need"),
    ("It's not a priority", "objections", "not a priority", "need"),
    ("We're happy with what we have", "objections", "happy with what we have", "need"),
    ("Not sure we need this", "objections", "Not sure we need this", "need"),
    ("Please send the contract", "next_steps", "send the contract", "send_contract"),
    ("Can you send over a proposal?", "next_steps", "send over a proposal", "send_proposal"),
    ("Let's set up a call", "next_steps", "set up a call", "call"),
    ("I'd like to schedule a demo", "next_steps", "schedule a demo", "demo"),
    ("Book a meeting with me", "next_steps", "Book a meeting", "meeting"),
    ("I'll loop in our CFO", "next_steps", "loop in", "loop_in"),
    ("We're ready to sign", "next_steps", "sign", "sign"),
    ("Can we start a trial?", "next_steps", "trial", "trial"),
    ("I'll follow up Monday", "next_steps", "follow up", "follow_up"),
    ("This is urgent", "urgency_cues", "urgent", "urgent"),
    ("Reply asap", "urgency_cues", "asap", "asap"),
    ("Please start right away", "urgency_cues", "right away", "right_away"),
    ("We need to move immediately", "urgency_cues", "immediately", "immediately"),
    ("Can we talk today?", "urgency_cues", "today", "today"),
    ("I'll sign tonight", "urgency_cues", "tonight", "tonight"),
    ("Let's do it this week", "urgency_cues", "this week", "this_week"),
    ("We're blocked without it", "urgency_cues", "blocked", "blocked"),
    ("As soon as possible please", "urgency_cues", "As soon as possible", "asap"),
    ("This is time-sensitive", "urgency_cues", "time-sensitive", "time_sensitive"),
    ("There's a hard deadline", "urgency_cues", "deadline", "deadline"),
    ("We can't wait much longer", "urgency_cues", "can't wait", "cant_wait"),
    ("We need it live for the launch", "urgency_cues", "need it live", "need_live"),
    ("Send it by Friday", "urgency_cues", "by Friday", "by_date"),
]

LOOK_ALIKES = [  # text, kind that must stay empty
    ("Close the door please.", "competitors"),
    ("The outreach went well.", "competitors"),
    ("Copper wire is pricey.", "competitors"),
    ("We play on Monday mornings.", "competitors"),
    ("It is what it is.", "decision_roles"),
    ("IT IS URGENT!", "decision_roles"),
    ("He's the head of the household.", "decision_roles"),
    ("I have 2 kids and 3 dogs.", "budget"),
    ("Version 2.5 is out.", "budget"),
    ("At the end of the day it's about value.", "timeline"),
    ("We may need more seats.", "timeline"),
    ("Over the years we grew.", "timeline"),
    ("Meet us on the 2nd floor.", "timeline"),
    ("It's the 3rd time I ask.", "timeline"),
    ("Thanks for the demo yesterday.", "next_steps"),
    ("Sounds good, thanks!", "objections"),
    ("Sounds good, thanks!", "urgency_cues"),
]

RANDOM_PARTS = [
    "hi", "Hey team —", "thanks!", "🔥", "🙏🏽", "👍", "\n", "  ", "\t", "...", "!!", "?", "(", ")", "'", '"', "—",
    "our budget is $40k", "USD 20k", "40-50k", "€12,000", "2 million", "no budget", "not urgent", "urgent",
    "by Friday", "by March 1st", "end of Q3", "EOQ", "2025-03-15", "03/15/2025", "within two weeks", "the 15th",
    "Salesforce", "HUBSPOT", "Close", "IT", "VP of Sales", "head of IT", "my boss", "the board", "CFO",
    "too expensive", "don't need", "not my call", "not the right time", "isn't", "can't", "cannot", "n't",
    "send over the contract", "set up a call", "loop him in", "follow-up", "sign", "trial", "asap", "a.s.a.p.",
    "这个价格太贵了", "zu teuer", "très cher", "k", "$", "-", "by", "no", "not", "no later than", "Monday",
]


def read(text: str) -> dict[str, list[Span]]:
    return extract([text])[0]


def found(text: str, kind: str) -> list[tuple[str, str]]:
    return [(span.text, span.label) for span in read(text)[kind]]


def random_messages(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    joiners = [" ", "", ", ", ". ", "\n", "  "]
    return ["".join(rng.choice(RANDOM_PARTS) + rng.choice(joiners) for _ in range(rng.randint(0, 12)))
            for _ in range(count)]


def assert_offsets_slice_back(texts: list[str], results: list[dict[str, list[Span]]]) -> None:
    assert len(results) == len(texts)
    for text, result in zip(texts, results, strict=True):
        assert tuple(result) == KINDS
        for kind, spans in result.items():
            for span in spans:
                assert 0 <= span.start < span.end <= len(text), (kind, span, text)
                assert text[span.start:span.end] == span.text, (kind, span, text)


@pytest.mark.parametrize(("text", "kind", "span", "label"), FOUND)
def test_each_kind_finds_its_examples(text: str, kind: str, span: str, label: str) -> None:
    assert (span, label) in found(text, kind)


@pytest.mark.parametrize(("text", "kind"), LOOK_ALIKES)
def test_ordinary_words_that_look_like_signals_are_not_signals(text: str, kind: str) -> None:
    assert read(text)[kind] == []


def test_offsets_slice_back_to_the_text_for_every_example_and_hundreds_of_random_messages() -> None:
    texts = [text for text, *_ in FOUND] + [text for text, _ in LOOK_ALIKES] + random_messages(400)
    results = extract(texts)
    assert_offsets_slice_back(texts, results)
    assert sum(len(spans) for result in results for spans in result.values()) > 1000


@pytest.mark.parametrize(
    ("text", "kind", "span"),
    [
        ("We have no budget this year.", "budget", "budget"),
        ("This is not urgent.", "urgency_cues", "urgent"),
        ("There's no rush.", "urgency_cues", "rush"),
        ("It isn't urgent at all", "urgency_cues", "urgent"),
        ("We don't use Salesforce", "competitors", "Salesforce"),
        ("We won't sign yet", "next_steps", "sign"),
        ("It's not too expensive", "objections", "too expensive"),
        ("Never needed a CFO", "decision_roles", "CFO"),
        ("We can do it without a trial", "next_steps", "trial"),
    ],
)
def test_a_negation_cue_in_the_three_words_before_a_span_negates_it(text: str, kind: str, span: str) -> None:
    assert [(s.text, s.negated) for s in read(text)[kind]] == [(span, True)]


@pytest.mark.parametrize(
    ("text", "kind", "span"),
    [
        ("Our budget is approved.", "budget", "budget"),
        ("No. Budget is approved.", "budget", "Budget"),
        ("No problem, budget is approved.", "budget", "budget"),
        ("Not now\nbudget is approved", "budget", "budget"),
        ("No worries at all about the budget", "budget", "budget"),
        ("We have no budget this year.", "timeline", "this year"),
    ],
)
def test_negation_does_not_reach_past_its_clause_three_words_or_the_signal_it_belongs_to(
    text: str, kind: str, span: str
) -> None:
    assert [(s.text, s.negated) for s in read(text)[kind]] == [(span, False)]


@pytest.mark.parametrize(
    ("text", "span", "label"),
    [
        ("Honestly, that's too expensive for us", "too expensive", "price"),
        ("We can't afford it this year", "can't afford", "price"),
        ("It's not the right time", "not the right time", "timing"),
        ("It isn't the right time", "isn't the right time", "timing"),
        ("That's not my call", "not my call", "authority"),
        ("We don't need it", "don't need", "need"),
        ("Not sure we need it", "Not sure we need it", "need"),
        ("It's not a priority right now", "not a priority", "need"),
    ],
)
def test_objections_are_labelled_and_their_own_negation_does_not_negate_them(text: str, span: str, label: str) -> None:
    assert [(s.text, s.label, s.negated) for s in read(text)["objections"]] == [(span, label, False)]


def test_spans_inside_a_longer_span_of_the_same_kind_are_dropped() -> None:
    assert found("Live by end of Q3", "timeline") == [("by end of Q3", "deadline")]
    assert found("Between $40k-$50k", "budget") == [("$40k-$50k", "amount")]
    assert found("Call me this week", "urgency_cues") == [("this week", "this_week")]


def test_an_urgency_cue_made_of_objection_words_is_no_objection() -> None:
    assert found("We can't afford to wait on this.", "urgency_cues") == [("can't afford to wait", "cant_wait")]
    assert found("We can't afford to wait on this.", "objections") == []
    assert found("We can't afford it, and we can't wait either.", "objections") == [("can't afford", "price")]


def test_by_a_near_day_is_both_a_deadline_and_an_urgency_cue_but_by_a_quarter_is_not_urgent() -> None:
    assert found("Need it by tomorrow", "urgency_cues") == [("by tomorrow", "by_date")]
    assert found("Need it by Q3", "timeline") == [("by Q3", "deadline")]
    assert found("Need it by Q3", "urgency_cues") == []


def test_competitor_names_match_in_any_case() -> None:
    assert found("SALESFORCE and hubspot and PipeDrive", "competitors") == [
        ("SALESFORCE", "Salesforce"), ("hubspot", "HubSpot"), ("PipeDrive", "Pipedrive")
    ]


@pytest.mark.parametrize("text", ["", " ", "   \n\t ", "🔥🔥", "这个价格太贵了", "Das ist uns zu teuer.", "?!..."])
def test_texts_without_english_signals_give_every_kind_empty(text: str) -> None:
    assert read(text) == {kind: [] for kind in KINDS}


def test_a_budget_near_the_end_of_a_200_000_character_text_has_offsets_into_the_full_text() -> None:
    text = "Lorem ipsum dolor sit amet. " * 7_200 + "Our budget is $40k." + " Thanks!" * 10
    assert len(text) > 200_000
    [amount] = [span for span in read(text)["budget"] if span.label == "amount"]
    assert (amount.text, amount.start) == ("$40k", text.index("$40k"))
    assert text[amount.start:amount.end] == "$40k"


def test_signals_in_every_piece_of_a_long_text_are_all_found() -> None:
    line = "filler words here " * 40 + "\n"
    text = "".join(line + ("we need it by Friday\n" if i % 50 == 0 else "") for i in range(800))
    assert len(text) > 3 * MAX_CHARS
    result = read(text)
    assert_offsets_slice_back([text], [result])
    assert [span.text for span in result["timeline"]] == ["by Friday"] * text.count("by Friday")


def test_a_long_text_without_spaces_still_reads() -> None:
    text = "x" * (MAX_CHARS * 2 + 17) + " budget"
    assert found(text, "budget") == [("budget", "talk")]


class Unsliceable(str):
    """A text that breaks when read back: stands for any input that fails half-way."""

    def __getitem__(self, key: object) -> str:
        raise RuntimeError("cannot slice")


def test_one_bad_text_does_not_break_the_batch() -> None:
    texts = ["Our budget is $40k", None, Unsliceable("budget approved"), "It's too expensive"]
    results = extract(texts)  # type: ignore[arg-type]
    assert [len(results[i]["budget"]) for i in (0, 1, 2)] == [2, 0, 0]
    assert results[1] == results[2] == {kind: [] for kind in KINDS}
    assert found("It's too expensive", "objections") == [(s.text, s.label) for s in results[3]["objections"]]


def required_words(spec: dict[str, Any]) -> set[str] | None:
    op = str(spec.get("OP", "1"))
    if op != "1" and not op.startswith("{1"):
        return None
    if spec.get("IS_CURRENCY"):
        return set(lexicon.CURRENCY_SYMBOLS)
    words = spec.get("LOWER")
    return None if words is None else set(words["IN"]) if isinstance(words, dict) else {words}


@pytest.mark.parametrize("group", list(lexicon.GROUPS))
def test_every_token_pattern_needs_a_word_from_each_anchor_list_of_its_group(group: str) -> None:
    # spans.py runs a group's Matcher only on texts holding every anchor list: a pattern without one would go unseen
    lists, rules = lexicon.GROUPS[group]
    for patterns in rules.values():
        for pattern in patterns:
            for anchors in lists:
                assert any((words := required_words(spec)) and words <= set(anchors) for spec in pattern), pattern


def test_results_line_up_with_the_texts_and_an_empty_batch_gives_nothing() -> None:
    texts = ["too expensive", "", "We use Gong daily", "by Friday"]
    assert [bool(r["objections"]) for r in extract(texts)] == [True, False, False, False]
    assert [bool(r["timeline"]) for r in extract(texts)] == [False, False, False, True]
    assert extract([]) == []


@pytest.mark.parametrize(("text", "kind", "span"), [
    ("Budget is not approved.", "budget", "Budget"),  # the denial comes after the word
    ("The budget isn't there yet", "budget", "budget"),
    ("the budget has not been signed off", "budget", "budget"),
    ("We are not looking at HubSpot anymore.", "competitors", "HubSpot"),
    ("HubSpot is not an option for us", "competitors", "HubSpot"),
    ("maybe in Q3, not sure", "timeline", "Q3"),  # hedged: no firm timeline
    ("we might look at Salesforce", "competitors", "Salesforce"),
])
def test_denied_and_hedged_signals_do_not_count(text: str, kind: str, span: str) -> None:
    spans = read(text)[kind]
    assert span in [s.text for s in spans] and all(s.negated for s in spans), spans


@pytest.mark.parametrize("text", ["no timeline yet", "We haven't set a timeline", "Happy Monday!",
                                  "Happy Friday everyone :)", "Have a great weekend", "hope you had a good Tuesday"])
def test_no_timeline_and_greetings_are_no_dates(text: str) -> None:
    assert [s for s in read(text)["timeline"] if not s.negated] == []


@pytest.mark.parametrize(("text", "kind", "span"), [
    ("Budget is approved, around $40k.", "budget", "Budget"),
    ("We're also looking at HubSpot.", "competitors", "HubSpot"),
    ("Let's talk Monday", "timeline", "Monday"), ("we need this live by Friday", "timeline", "by Friday"),
    ("Budget is what it is, not the issue", "budget", "Budget"),  # "what" stands between: not a denial of it
])
def test_affirmed_signals_next_to_those_still_count(text: str, kind: str, span: str) -> None:
    assert (span, False) in [(s.text, s.negated) for s in read(text)[kind]]
