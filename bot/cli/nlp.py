"""`hotlead nlp`: read a message the way Hotlead reads every conversation line."""

from __future__ import annotations

from typing import Any

import click

from bot.cli import AppContext, cli, emit_json, pass_app
from bot.progress import progress_bar


class _TextOrCommand(click.Group):
    """`hotlead nlp "some text"` reads the text; `hotlead nlp train-heads` runs the subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["read", *args]
        return super().parse_args(ctx, args)


@cli.group(cls=_TextOrCommand)
def nlp() -> None:
    """Read a message: `hotlead nlp "we need this live before end of quarter"` prints its signals as JSON.

    Sentiment and urgency come from the packaged MiniLM transformer with small trained heads (or only VADER and
    rules with HOTLEAD_NLP=rules); budget, timeline, competitors, decision roles, objections and next steps
    are spans with character offsets.
    """


@nlp.command(hidden=True)
@click.argument("text", nargs=-1, required=True)
@pass_app
def read(app: AppContext, text: tuple[str, ...]) -> None:
    """Print the signals of TEXT as JSON."""
    from nlp import analyze

    emit_json(analyze([" ".join(text)], mode=app.settings.hotlead_nlp)[0].to_dict())


@nlp.command(name="train-heads")
@click.option("--json", "as_json", is_flag=True, help="Print the held-out scores as JSON.")
def train_heads(as_json: bool) -> None:
    """Refit the sentiment and urgency heads on nlp/data/sentences.csv and write nlp/heads.json."""
    from nlp.heads import HEADS_FILE
    from nlp.training import train_heads as fit

    with progress_bar("training the NLP heads"):
        heads = fit()
    report: dict[str, Any] = {"version": heads.version, "file": str(HEADS_FILE), **heads.meta}
    if as_json:
        emit_json(report)
        return
    click.echo(f"Wrote {HEADS_FILE} (version {heads.version}), trained on {report['train_sentences']} sentences.")
    click.echo(f"Held-out sentiment macro-F1 {report['sentiment_macro_f1']:.3f} "
               f"(VADER alone {report['vader_sentiment_macro_f1']:.3f}); urgency AUC {report['urgency_auc']:.3f} "
               f"(VADER's negative score {report['vader_negative_urgency_auc']:.3f}).")


def analyze_messages(app: AppContext) -> None:
    """Give every new or outdated message a signal row (called after imports and before training)."""
    from scoring.signals import analyze_pending

    with progress_bar("reading conversations") as tick:
        result = analyze_pending(app.engine(), mode=app.settings.hotlead_nlp, progress=tick)
    if result.analyzed:
        click.echo(f"Read {result.analyzed:,} messages ({result.version}) in {result.seconds:.1f} s.", err=True)
