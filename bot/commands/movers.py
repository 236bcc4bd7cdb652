"""movers: this week's risers, fallers and new hot leads, as the weekly digest has them, asked for in chat."""

from __future__ import annotations

from bot.commands import Command, patterns
from bot.commands.common import points
from bot.commands.words import ACCOUNTS, LEADS, WEEK
from bot.names import name_index
from bot.push.digest import LeadLine, build_digest
from bot.replies import Reply, Section
from bot.router import Query

SHOWN = 5
_WHO = rf"(?:who|whom|which\s+(?:of\s+my\s+)?{LEADS}|which\s+{ACCOUNTS}|anyone|anybody|any\s+{LEADS})"
_UP = (r"(?:moved|rose|risen|jumped|climbed|went\s+up|gone\s+up|heated\s+up|improved|(?:is|are)\s+trending\s+up|"
       r"trending\s+up)")
_DOWN = (r"(?:went|turned|got|gone|is\s+going|are\s+going|goes)\s+(?:cold|down|quiet)|cooled(?:\s+off|\s+down)?|"
         r"dropped|fell|fallen|slipped|(?:is|are)\s+trending\s+down|trending\s+down|(?:is|are)\s+no\s+longer\s+hot|"
         r"lost\s+heat")
_BECAME_HOT = r"(?:went|turned|got|became|become)\s+(?:from\s+\w+\s+to\s+)?hot|(?:is|are)\s+newly\s+hot"


def handle(query: Query) -> Reply:
    """The week's news the asker may see: who rose and fell (and why), or only what the question asks for."""
    digest = build_digest(query.deps.engine, query.deps.clock())
    index = name_index(query.deps.engine)

    def visible(lines: list[LeadLine]) -> list[LeadLine]:
        return [line for line in lines if (lead := index.lead(line.lead)) is not None and query.visible(lead)]

    risers, fallers, new_hot = visible(digest.risers), visible(digest.fallers), visible(digest.new_hot)
    asked = query.parts.get("cold") and "cold" or query.parts.get("hot") and "hot" or "all"
    parts = {"all": (("Rose most", risers), ("Fell most", fallers)), "cold": (("Fell most", fallers),),
             "hot": (("New hot leads", new_hot),)}[asked]
    sections = tuple(Section(title, tuple(_line(line) for line in lines[:SHOWN]) or ("Nobody.",))
                     for title, lines in parts)
    head = f"*This week* ({digest.start:%d %b} – {digest.end:%d %b})"
    if not any(lines for _, lines in parts):
        head += ": no score moved enough to tell." if asked == "all" else ""
    return Reply(head, sections, data={"risers": [line.lead for line in risers],
                                       "fallers": [line.lead for line in fallers],
                                       "new_hot": [line.lead for line in new_hot]})


def _line(line: LeadLine) -> str:
    before = "" if line.before is None else f"{round(100 * line.before)} → "
    band = f", {line.band_before} → {line.band}" if line.band_before and line.band_before != line.band else ""
    moved = f" ({points(line.movement)}{band})" if line.before is not None else f" ({line.band})"
    return f"{line.label} · {line.lead}: {before}*{round(100 * line.probability)}*{moved}" + (
        f"\n    _{line.reason}_" if line.reason else "")


COMMAND: Command = Command(
    name="movers",
    summary="this week's risers, fallers and new hot leads",
    usage=("what changed this week?", "which leads went cold?", "any new hot leads?"),
    patterns=patterns(
        rf"what(?:'s|’s|s|\s+has|\s+have|\s+is)?\s+(?:changed|moved|happened|new){WEEK}",
        rf"(?:(?:is\s+there\s+)?any(?:thing)?\s+new|any\s+(?:news|changes|updates)){WEEK}",
        rf"(?:(?:any|the|biggest|top|this\s+week's|weekly)\s+)*(?:movers|movement|risers|changes)(?:\s+and\s+fallers)?{WEEK}",
        r"(?:the\s+|this\s+week's\s+|my\s+|weekly\s+)*(?:digest|summary|recap|report|roundup)(?:\s+for\s+this\s+week)?",
        rf"{_WHO}(?:'s|’s)?\s+{_UP}{WEEK}",
        rf"(?:(?:are\s+there|any|show\s+me|list)\s+)?(?:any\s+)?(?P<hot>new(?:ly)?)\s+hot\s+{LEADS}{WEEK}",
        rf"{_WHO}(?:'s|’s)?\s+(?P<hot>{_BECAME_HOT}){WEEK}",
        rf"{_WHO}(?:'s|’s)?\s+(?P<cold>{_DOWN}){WEEK}",
    ),
    handle=handle,
)
