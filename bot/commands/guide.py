"""guide (help): what Hotlead answers, generated from the commands themselves."""

from __future__ import annotations

from bot.commands import Command, patterns
from bot.replies import Reply, Section
from bot.router import Query


def help_reply(opening: str = "I'm Hotlead: I know which leads are hot and why.") -> Reply:
    """Every command with questions that work."""
    from bot.commands import COMMANDS

    lines = tuple(f"• {c.summary}: " + ", ".join(f"“{u}”" for u in c.usage) for c in COMMANDS if c.name != "help")
    return Reply(opening, (Section("Ask me things like", lines),),
                 data={"help": [u for c in COMMANDS for u in c.usage]})


def handle(_query: Query) -> Reply:
    """Answer `help`."""
    return help_reply()


COMMAND: Command = Command(
    name="help",
    summary="what I can answer",
    usage=("help",),
    patterns=patterns(
        r"(?:help|commands|\?|hi|hello|hey|menu|options|usage)(?:\s+me)?",
        r"what\s+(?:else\s+)?(?:can|could|do|should)\s+(?:you|i)\s+(?:do|ask|answer|know|say)(?:\s+you)?(?:\s+for\s+me)?",
        r"how\s+(?:does\s+(?:this|it|hotlead)\s+work|do\s+i\s+use\s+(?:this|you|it|hotlead))",
        r"what\s+(?:do\s+you\s+know|are\s+you)",
    ),
    handle=handle,
)
