"""movers: this week's risers, fallers and new hot leads, as the weekly digest has them, asked for in chat."""

from __future__ import annotations

from bot.commands import Command, patterns
from bot.commands.common import points
from bot.names import name_index
from bot.push.digest import LeadLine, build_digest
from bot.replies import Reply, Section
from bot.router import Query

SHOWN = 5
_WEEK = r"(?:\s+(?:this|last|the\s+past)\s+week|\s+lately|\s+recently|\s+since\s+last\s+week)?"


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
        rf"what(?:'s|’s|\s+has|\s+have|\s+is)?\s+(?:changed|moved|happened|new){_WEEK}",
        rf"(?:who|which\s+leads?)\s+(?:moved|rose|jumped|climbed|went\s+up|heated\s+up){_WEEK}",
        rf"(?:are\s+there\s+|any\s+)?(?P<hot>new)\s+hot\s+leads?{_WEEK}",
        rf"(?:who|which\s+leads?)\s+(?:went|turned|got|is\s+going|are\s+going|cooled)\s+(?P<cold>cold|down|off){_WEEK}",
    ),
    handle=handle,
)
