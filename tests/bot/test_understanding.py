"""Questions as reps type them, typos and all, reach the command they mean and find what they name: a table of
several phrasings per intent (synonyms, filters, negation, typos, lower-case names), growing with each phrasing
the bot learns."""

from __future__ import annotations

import pytest

from bot.router import normalise, recognise
from bot.spelling import corrected

QUESTIONS = [
    # help
    ("help", "help", {}), ("hepl", "help", {}), ("what can you do?", "help", {}), ("how does this work", "help", {}),
    ("commands", "help", {}), ("what can i ask you?", "help", {}), ("what do you know", "help", {}),
    ("how do i use this", "help", {}),
    # who to call
    ("who should I call today?", "call", {}), ("hwo should i cal today", "call", {}),
    ("who shoud I call tody?", "call", {}), ("whom should i contact first", "call", {}),
    ("who do I call next", "call", {}), ("call list", "call", {}), ("who should i phone today", "call", {}),
    ("who do i ring first", "call", {}), ("who should I reach out to today?", "call", {}),
    ("who needs a call today", "call", {}), ("who needs attention", "call", {}),
    ("what should I do today?", "call", {}), ("give me my call list", "call", {}),
    ("my call list for today", "call", {}), ("who's worth calling today?", "call", {}),
    ("who should i follow up with", "call", {}), ("who to contact today", "call", {}),
    ("where do i start today", "call", {}), ("who should i call in germany", "call", {"segment": "germany"}),
    ("who should i call first today in fintech", "call", {"segment": "fintech"}),
    # top lists and filters
    ("top leads", "top", {}), ("top 5 hto leads", "top", {"n": "5", "band": "hot"}),
    ("top 5 hot leads in fintech", "top", {"segment": "fintech"}), ("show me leads from Germany", "top", {}),
    ("shwo me leads from germany", "top", {}), ("list accounts in the UK", "top", {"what": "accounts"}),
    ("top leads for Jordan Lee", "top", {"segment": "Jordan Lee"}), ("my hot leads", "top", {"band": "hot"}),
    ("best 3 warm leads", "top", {"n": "3", "band": "warm"}), ("hottest accounts", "top", {"what": "accounts"}),
    ("top 10", "top", {"n": "10"}), ("top ledas", "top", {}), ("show me the hottest leads", "top", {}),
    ("most promising leads", "top", {}), ("highest scoring leads", "top", {}),
    ("best prospects", "top", {"what": "prospects"}), ("top opportunities", "top", {}),
    ("list hot leads", "top", {"band": "hot"}), ("hot leads in germany", "top", {"band": "hot", "segment": "germany"}),
    ("warm leads from fr", "top", {"band": "warm", "segment": "fr"}), ("leads in the uk", "top", {"segment": "the uk"}),
    ("show my leads", "top", {"mine": "my "}), ("show me my warm leads", "top", {"band": "warm"}),
    ("top 3 accounts", "top", {"n": "3", "what": "accounts"}),
    ("which accounts are hottest?", "top", {"what": "accounts"}),
    ("best companies in fintech", "top", {"segment": "fintech"}),
    ("top 20 prospects in healthcare", "top", {"n": "20"}),
    ("who are my hottest leads", "top", {}), ("which leads are hot?", "top", {"band": "hot"}),
    ("what are the hottest leads", "top", {}), ("hot leads for jordan lee", "top", {"segment": "jordan lee"}),
    ("leads owned by jordan lee", "top", {"segment": "jordan lee"}), ("top 5 leads in de", "top", {"segment": "de"}),
    ("any warm leads in france?", "top", {"band": "warm", "segment": "france"}),
    ("who are the best leads right now", "top", {}), ("top ten leads", "top", {"n": "ten"}),
    ("show me five hot leads", "top", {"n": "five", "band": "hot"}), ("cold leads", "top", {"band": "cold"}),
    # why
    ("why is Acme hot?", "why", {"who": "Acme"}), ("why is Olivia Larsen not hot?", "why", {"who": "Olivia Larsen"}),
    ("why isn't olivia larsen hot", "why", {"who": "olivia larsen"}), ("how come Jane Doe is hot", "why", {}),
    ("explain Jane Doe", "why", {"who": "Jane Doe"}), ("why is globex warm", "why", {"who": "globex"}),
    ("why is acme cold?", "why", {"who": "acme"}), ("why's acme hot", "why", {"who": "acme"}),
    ("whats behind acme's score", "why", {"who": "acme"}), ("why does acme score so high?", "why", {"who": "acme"}),
    ("why is jane doe a 92?", "why", {"who": "jane doe"}),
    ("why is Jane Doe at Acme hot", "why", {"who": "Jane Doe at Acme"}),
    ("how come acme is cold", "why", {"who": "acme"}), ("explain acme's score", "why", {"who": "acme"}),
    ("what makes acme hot?", "why", {"who": "acme"}), ("why is acme not warm", "why", {"who": "acme"}),
    ("why isn't acme hot yet", "why", {"who": "acme"}), ("score for acme", "why", {"who": "acme"}),
    ("wy is acme hot", "why", {"who": "acme"}), ("why is acme ranked so high", "why", {"who": "acme"}),
    ("reasons for acme", "why", {"who": "acme"}), ("what's driving acme's score?", "why", {"who": "acme"}),
    ("why acme?", "why", {"who": "acme"}), ("why is acme so low", "why", {"who": "acme"}),
    ("why is acme's score 40", "why", {"who": "acme"}), ("whats acme's score", "why", {"who": "acme"}),
    ("what score does acme have", "why", {"who": "acme"}), ("is acme hot?", "why", {"who": "acme"}),
    ("why is L-00042 hot?", "why", {"who": "L-00042"}),
    # what changed for one lead
    ("what changed for Initech this week?", "changed", {"who": "Initech"}),
    ("what's new with acme", "changed", {"who": "acme"}),
    ("what happened with acme lately?", "changed", {"who": "acme"}),
    ("any news on acme", "changed", {"who": "acme"}), ("updates on acme", "changed", {"who": "acme"}),
    ("what changed for acme", "changed", {"who": "acme"}),
    ("what moved for acme this week", "changed", {"who": "acme"}),
    ("what did acme do this week", "changed", {"who": "acme"}), ("what's up with acme", "changed", {"who": "acme"}),
    ("how did acme change this week", "changed", {"who": "acme"}),
    ("what has changed at acme recently", "changed", {"who": "acme"}),
    ("why did acme go up?", "changed", {"who": "acme"}), ("why did acme drop this week", "changed", {"who": "acme"}),
    ("wat changed for acme", "changed", {"who": "acme"}),
    ("what changed for acme over the past week", "changed", {"who": "acme", "period": "over the past week"}),
    ("acme this week", "changed", {"who": "acme"}),
    # the week's movers
    ("what changed this week?", "movers", {}), ("wat changed this wek?", "movers", {}),
    ("what's new lately", "movers", {}), ("which leads went cold?", "movers", {"cold": "went cold"}),
    ("which leads wnet cold", "movers", {}), ("any new hot leads?", "movers", {"hot": "new"}),
    ("who moved this week", "movers", {}),
    ("what moved this week", "movers", {}), ("any movers this week?", "movers", {}),
    ("biggest movers", "movers", {}), ("who dropped this week", "movers", {"cold": "dropped"}),
    ("which leads cooled off", "movers", {}), ("who heated up this week", "movers", {}),
    ("new hot leads", "movers", {"hot": "new"}), ("any new hot ones this week", "movers", {"hot": "new"}),
    ("who's trending up", "movers", {}), ("who fell this week?", "movers", {}),
    ("what happened last week", "movers", {}), ("weekly summary", "movers", {}), ("digest", "movers", {}),
    ("which leads are no longer hot", "movers", {}), ("who went from warm to hot", "movers", {}),
    ("anything new?", "movers", {}), ("what changed", "movers", {}), ("anything new this week", "movers", {}),
    # compare
    ("compare Acme and Globex", "compare", {"a": "Acme", "b": "Globex"}), ("compair Acme and Globex", "compare", {}),
    ("acme vs globex", "compare", {"a": "acme", "b": "globex"}), ("acme versus globex", "compare", {}),
    ("is acme hotter than globex?", "compare", {"a": "acme", "b": "globex"}),
    ("why is acme ahead of globex", "compare", {"a": "acme", "b": "globex"}),
    ("compare jane doe with john smith", "compare", {"a": "jane doe", "b": "john smith"}),
    ("should i call acme or globex first?", "compare", {"a": "acme", "b": "globex"}),
    ("which is better, acme or globex", "compare", {"a": "acme", "b": "globex"}),
    ("who's hotter: acme or globex?", "compare", {"a": "acme", "b": "globex"}),
    ("compare acme to globex", "compare", {}), ("difference between acme and globex", "compare", {"a": "acme"}),
    ("acme v globex", "compare", {"a": "acme", "b": "globex"}),
    ("why is acme ranked above globex", "compare", {"a": "acme", "b": "globex"}),
    # accounts
    ("account acme", "account", {"who": "acme"}), ("tell me about acme", "account", {"who": "acme"}),
    ("how is acme doing", "account", {"who": "acme"}), ("status of acme", "account", {"who": "acme"}),
    ("how's globex doing?", "account", {"who": "globex"}), ("show account acme", "account", {"who": "acme"}),
    ("acme account", "account", {"who": "acme"}), ("company initech", "account", {"who": "initech"}),
    ("info on acme", "account", {"who": "acme"}), ("who at acme is interested?", "account", {"who": "acme"}),
    ("tell me abuot acme", "account", {"who": "acme"}),
    # snooze / contacted
    ("snooze Jane Doe 7 days", "actions", {"who": "Jane Doe", "days": "7"}), ("mute jane doe", "actions", {}),
    ("snooze acme for 2 weeks", "actions", {"who": "acme", "weeks": "2"}),
    ("snooze jane doe for a week", "actions", {"who": "jane doe", "weeks": "a"}),
    ("mark jane doe as contacted", "actions", {"who": "jane doe"}),
    ("contacted jane doe", "actions", {"who": "jane doe"}),
    ("i called jane doe", "actions", {"who": "jane doe"}), ("called jane doe", "actions", {"who": "jane doe"}),
    ("just spoke to jane doe", "actions", {"who": "jane doe"}), ("i emailed jane doe", "actions", {"who": "jane doe"}),
    ("remind me about jane doe in 3 days", "actions", {"who": "jane doe", "days": "3"}),
    ("snoze jane doe 3 days", "actions", {"who": "jane doe"}), ("talked to acme today", "actions", {"who": "acme"}),
    # a rep's verdict
    ("Jane Doe is not a fit: student project", "fit", {"who": "Jane Doe", "note": "student project"}),
    ("acme is not a good fit because they have no budget", "fit", {"who": "acme", "note": "they have no budget"}),
    ("not a fit: jane doe", "fit", {"who": "jane doe"}), ("mark jane doe as not a fit", "fit", {"who": "jane doe"}),
    ("jane doe is a fit after all", "fit", {"who": "jane doe", "action": "a fit"}),
    ("Jane Doe is nto a fit - students", "fit", {"who": "Jane Doe", "note": "students"}),
    # segments the model found
    ("what segments do we have?", "segments", {}), ("segments", "segments", {}), ("show segments", "segments", {}),
    ("list segments", "segments", {}), ("shwo me the segments", "segments", {}),
    ("which segment is Acme in?", "segments", {"who": "Acme"}),
    ("what segment is Jane Doe in?", "segments", {"who": "Jane Doe"}),
    ("segment of jane doe", "segments", {"who": "jane doe"}),
    # live demos
    ("demo Acme 45m", "demo", {"who": "Acme", "minutes": "45"}), ("start a demo with acme", "demo", {"who": "acme"}),
    ("demo with jane doe for 30 minutes", "demo", {"who": "jane doe", "minutes": "30"}),
    ("i'm in a demo with acme", "demo", {"who": "acme"}), ("starting demo with acme 60 min", "demo", {"minutes": "60"}),
    ("demo for globex 1h", "demo", {"who": "globex", "hours": "1"}),
    ("live demo with acme now", "demo", {"who": "acme"}),
    ("im demoing to acme", "demo", {"who": "acme"}),
]


@pytest.mark.parametrize(("question", "command", "parts"), QUESTIONS)
def test_a_question_reaches_the_command_it_means(question: str, command: str, parts: dict[str, str]) -> None:
    found = recognise(normalise(question))
    assert found is not None, question
    assert found[0].name == command, (question, found[0].name)
    for key, value in parts.items():
        assert (found[1].get(key) or "").casefold() == value.casefold(), (question, key, found[1])


def test_every_usage_example_the_help_suggests_is_recognised_by_its_own_command() -> None:
    from bot.commands import COMMANDS

    for command in COMMANDS:
        for example in command.usage:
            found = recognise(normalise(example))
            assert found is not None and found[0].name == command.name, (example, found)


@pytest.mark.parametrize(("typed", "meant"), [
    ("hwo should i cal today?", "who should i call today?"), ("top 5 hto leads", "top 5 hot leads"),
    ("wat changed this wek", "what changed this week"), ("compair acme and globex", "compare acme and globex"),
])
def test_near_misses_of_question_words_are_mended_and_other_words_kept(typed: str, meant: str) -> None:
    assert corrected(typed) == meant
    assert corrected("why is zqxw hot") == "why is zqxw hot"  # a word near nothing is kept


@pytest.mark.parametrize(("typed", "part", "name"), [
    ("snoze Jane Doe 3 days", "who", "Jane Doe"),  # "doe" is one slip from "does": a name stays as typed
    ("compair Acme Cal and Globex", "a", "Acme Cal"), ("shwo me leads from Germny", "segment", "Germny"),
])
def test_what_a_mended_question_names_is_taken_as_typed(typed: str, part: str, name: str) -> None:
    found = recognise(normalise(typed))
    assert found is not None and found[1][part] == name


def test_the_table_has_several_phrasings_of_every_command() -> None:
    from bot.commands import COMMANDS

    assert len(QUESTIONS) >= 150
    per_command = {c.name: sum(1 for _, name, _ in QUESTIONS if name == c.name) for c in COMMANDS}
    assert min(per_command.values()) >= 5, per_command
