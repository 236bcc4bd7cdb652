"""Slack's text rules (escaping out, decoding in) and long replies cut where a reader would cut them (Slack and
WhatsApp alike)."""

from __future__ import annotations

import re

import pytest

from bot.channels.mrkdwn import escape, from_slack
from bot.channels.slack import FALLBACK_LIMIT, MAX_BLOCKS, SECTION_LIMIT, blocks, message
from bot.fakes.slack import block_errors
from bot.replies import MORE, Action, Choice, Reply, Section, split_message


@pytest.mark.parametrize("raw, shown", [
    ("<!channel>", "&lt;!channel&gt;"),
    ("<@U0HL00001>", "&lt;@U0HL00001&gt;"),
    ("<https://evil.example/login|Evil> Inc", "&lt;https://evil.example/login|Evil&gt; Inc"),
    ("Smith & Sons", "Smith &amp; Sons"),
    ("&lt;already&gt;", "&amp;lt;already&amp;gt;"),  # text that looks escaped is still text
    ("*bold* _italic_ `code` :fire:", "*bold* _italic_ `code` :fire:"),  # Hotlead's own markup stays
])
def test_escape_turns_control_characters_into_entities(raw: str, shown: str) -> None:
    assert escape(raw) == shown


@pytest.mark.parametrize("sent, typed", [
    ("<@UHOTLEAD> <!channel> hello", "<@UHOTLEAD> @channel hello"),  # the bot's mention stays for the router
    ("<!here|here> and <!everyone>", "@here and @everyone"),
    ("why is <http://acme.com|acme.com> hot?", "why is acme.com hot?"),
    ("mail <mailto:jo@acme.com|jo@acme.com>", "mail jo@acme.com"),
    ("in <#C0SALES|sales> ask <!subteam^S1|@sales-team>", "in #sales ask @sales-team"),
    ("Q&amp;A &lt;b&gt;", "Q&A <b>"),
    ("typed &lt;!channel&gt;", "typed <!channel>"),  # typed text: decoded once, never a control again
])
def test_from_slack_gives_the_words_the_person_typed(sent: str, typed: str) -> None:
    assert from_slack(sent) == typed


def test_a_long_line_is_cut_between_words_outside_bold_and_says_it_continues() -> None:
    line = " ".join(f"*Lead number {i}* visited pricing" for i in range(400))
    pieces = split_message(line, 300)
    assert len(pieces) > 1 and all(len(piece) <= 300 for piece in pieces)
    for piece in pieces:
        assert piece.count("*") % 2 == 0, piece  # no bold left open
    assert all(piece.endswith(f" {MORE}") for piece in pieces[:-1])
    assert all(piece.startswith(f"{MORE} ") for piece in pieces[1:])
    words = " ".join(piece.removeprefix(f"{MORE} ").removesuffix(f" {MORE}") for piece in pieces).split()
    assert words == line.split()  # nothing lost, no word cut in two


def test_an_entity_is_never_cut_in_two() -> None:
    text = escape("&" * 5000)  # one "word" of entities: no space to cut at
    pieces = split_message(text, 3000)
    assert all(re.fullmatch(r"(&amp;)+( …)?|… (&amp;)+( …)?", piece) for piece in pieces), [p[-8:] for p in pieces]


def test_a_reply_longer_than_a_message_fits_slacks_limits_and_says_what_it_left_out() -> None:
    lines = tuple(f"{i}. *<!channel> Lead {i}* at Acme & Co: visited pricing {i}× this week" for i in range(4000))
    reply = Reply("Top 4000 leads", (Section("Leads", lines),), (Choice("c" * 100, "why is c hot?"),),
                  (Action("Why", "why", "L1"),))
    found = blocks(reply)
    assert block_errors(found) is None and len(found) == MAX_BLOCKS
    texts = [block["text"]["text"] for block in found if block["type"] == "section"]
    assert all(len(piece) <= SECTION_LIMIT and piece.count("*") % 2 == 0 for piece in texts)
    notice = next(block for block in found if block["type"] == "context")["elements"][0]["text"]
    shown = sum(piece.count("\n") + 1 for piece in texts)
    assert re.search(r"(\d+) more lines", notice) and int(re.search(r"(\d+) more", notice)[1]) == 4002 - shown
    fallback = message(reply)["text"]
    assert len(fallback) <= FALLBACK_LIMIT and fallback.endswith(MORE) and "<!" not in fallback
