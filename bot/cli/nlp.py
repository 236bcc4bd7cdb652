"""`hotlead nlp`: read a message the way Hotlead reads every conversation line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot.cli import AppContext, cli, emit_json, pass_app


class _TextOrCommand(click.Group):
    """`hotlead nlp "some text"` reads the text; `hotlead nlp train-heads` runs the subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["read", *args]
        return super().parse_args(ctx, args)


@cli.group(cls=_TextOrCommand)
def nlp() -> None:
    """Read a message: `hotlead nlp "we need this live before end of quarter"` prints its signals as JSON.

    Sentiment and urgency come from the packaged MiniLM transformer (int8, ONNX Runtime) with small trained heads,
    or only VADER and the rules with HOTLEAD_NLP=rules (no model, no torch). `urgency_parts` says where the
    urgency came from: the words, the rules (cues, deadlines) and the base, which add up to its log-odds, and the
    spans that fired. Budget, timeline, competitors, decision roles, objections and next steps are spans with
    character offsets; `negated` ones ("budget is not approved", "maybe in Q3") do not count.
    """


@nlp.command(hidden=True)
@click.argument("text", nargs=-1, required=True)
@pass_app
def read(app: AppContext, text: tuple[str, ...]) -> None:
    """Print the signals of TEXT as JSON."""
    from nlp import analyze

    emit_json(analyze([" ".join(text)], mode=app.settings.hotlead_nlp)[0].to_dict())


@nlp.command(name="train-heads")
@click.option("--data", "home", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the public data sets (default: ../shared/data beside the checkout or this folder).")
@click.option("--own-only", is_flag=True, help="Train on our sentences alone (no public text).")
@click.option("--json", "as_json", is_flag=True, help="Print how the heads were chosen and every held-out score.")
def train_heads(home: Path | None, own_only: bool, as_json: bool) -> None:
    """Refit the sentiment and urgency heads and write nlp/heads.json.

    They learn from our sales sentences (nlp/data/sentences.csv) and from the public sets in the data folder
    (GoEmotions for sentiment; disaster-response requests and email-intent sentences for urgency); how much of
    the public text to use and how strongly to regularise is chosen on the public sets' dev parts, never on ours.
    Only the coefficients are written; no text goes into the package. Takes a few minutes (55,000 texts).
    """
    from bot.bench.quality import data_home
    from bot.progress import progress_bar
    from nlp.corpora import TEXT_DIR
    from nlp.heads import HEADS_FILE
    from nlp.training import train_heads as fit

    folder = None if own_only else data_home(home)
    if folder is not None and not (folder / TEXT_DIR).is_dir():
        click.echo(f"No public text under {folder / TEXT_DIR}: training on our sentences alone.", err=True)
        folder = None
    with progress_bar("embedding the training texts") as tick:
        heads = fit(folder, progress=tick)
    report: dict[str, Any] = {"version": heads.version, "file": str(HEADS_FILE), **heads.meta}
    if as_json:
        emit_json(report)
        return
    click.echo(f"Wrote {HEADS_FILE} (version {heads.version}), trained on {', '.join(heads.meta['trained_on'])}.")
    for name, scores in heads.meta["held_out"].items():
        metric = "macro_f1" if "macro_f1" in scores else "auc"
        click.echo(f"  held out {name:<28} {metric} {scores[metric]:.3f}  (VADER {scores['vader_' + metric]:.3f}, "
                   f"{scores['texts']:,} texts)")


def analyze_messages(app: AppContext) -> None:
    """Give every new or outdated message a signal row (called after imports and before training)."""
    from bot.progress import progress_bar
    from scoring.signals import analyze_pending

    with progress_bar("reading conversations") as tick:
        result = analyze_pending(app.engine(), mode=app.settings.hotlead_nlp, progress=tick)
    if result.analyzed:
        click.echo(f"Read {result.analyzed:,} messages ({result.version}) in {result.seconds:.1f} s.", err=True)
