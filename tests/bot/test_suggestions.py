"""Every question Hotlead suggests is one it understands: the README's and the CLI's examples, the help reply, and
every choice and button on every reply, walked from the first questions a rep asks on the demo database."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

from bot.channels.slack import ACTION_QUESTIONS
from bot.replies import Reply
from bot.router import Deps, IncomingMessage, dispatch, normalise, recognise
from storage.history import RepRow

ROOT = Path(__file__).resolve().parents[2]
FIRST_QUESTIONS = ("help", "top leads", "top 5 hot leads", "top accounts", "who should I call today?",
                   "what changed this week?", "which leads went cold?", "any new hot leads?", "why is Olivia hot?")
WALKED = 120  # questions asked at most: every suggestion of the first replies and of theirs, and so on
NOT_UNDERSTOOD = ("Sorry, I didn't catch", "Sorry, something went wrong")


def suggested(reply: Reply) -> list[str]:
    """The questions a reply puts in front of the asker: its choices, its buttons, and help's examples."""
    return ([c.question for c in reply.choices] + [ACTION_QUESTIONS[a.name].format(a.lead) for a in reply.actions]
            + list(reply.data.get("help", [])))


def documented() -> list[str]:
    """Questions the README's chat table and every `hotlead ask "…"` in the README and the CLI's code suggest."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| ask | answer |"):]
    table = table[:table.index("\n\n")]
    questions = [q for row in table.splitlines()[2:] for q in re.findall(r"`([^`]+)`", row.split("|")[1])]
    sources = [readme] + [path.read_text() for path in (ROOT / "bot" / "cli").glob("*.py")]
    asked = re.compile(r"hotlead ask (?:--as \S+ |--as \"[^\"]+\" )?\\?[\"“]([^\"”\\]+)")
    questions += [q for text in sources for q in asked.findall(text)]
    return [q for q in questions if q != "QUESTION"]  # the placeholder in `hotlead ask "QUESTION"`


def test_every_question_the_readme_and_the_cli_suggest_is_understood() -> None:
    questions = documented()
    assert len(questions) >= 15, questions
    not_understood = [q for q in questions if recognise(normalise(q)) is None]
    assert not not_understood


def test_every_suggestion_on_every_reply_is_understood_and_answered(deps: Deps, a_rep: RepRow) -> None:
    waiting, seen, asked = deque(FIRST_QUESTIONS), set(FIRST_QUESTIONS), 0
    kinds = set()
    while waiting and asked < WALKED:
        question = waiting.popleft()
        reply = dispatch(IncomingMessage(question, "console", "walker", a_rep), deps)
        asked += 1
        assert not reply.text.startswith(NOT_UNDERSTOOD), (question, reply.text)
        found = recognise(normalise(question))
        if found:
            kinds.add(found[0].name)
        for follow_up in suggested(reply):
            if follow_up not in seen:
                seen.add(follow_up)
                waiting.append(follow_up)
    assert asked >= 40  # the walk went past the first replies
    assert {"help", "top", "call", "why", "movers", "actions"} <= kinds
