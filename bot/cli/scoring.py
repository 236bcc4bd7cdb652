"""Commands that use the model: train, score, top, why, model, experiment, segments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from bot.cli import AppContext, cli, emit_json, pass_app

# The scoring stack (pandas, scikit-learn, XGBoost) is imported inside each command: `hotlead --help` and
# `hotlead import` start in a fraction of the time and memory.


@cli.command()
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path),
              help="Also write lift.png and calibration.png to this folder.")
@click.option("--hot-share", type=click.FloatRange(0, 1, min_open=True),
              help="Share of open leads this model bands hot (default: the active model's, else 0.10).")
@click.option("--warm-share", type=click.FloatRange(0, 1),
              help="Share of open leads banded warm, after the hot ones (default: the active model's, else 0.30).")
@click.option("--force", is_flag=True, help="Promote a model that looks too good to be true (holdout AUC ≥ 0.99).")
@click.option("--keep", multiple=True, metavar="COLUMN",
              help="Keep this column even though it alone predicts the outcome almost perfectly (a leak otherwise).")
@click.option("--value/--no-value", default=None,
              help="Also fit a deal-value model on the won deals' amounts, for `top --by value` (default: whenever "
                   "30 won deals have an amount; --value insists, --no-value skips it).")
@click.option("--target-min-amount", type=click.FloatRange(0, min_open=True), metavar="AMOUNT",
              help="Count a lead as converted only when won with at least this amount (say 10000).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def train(app: AppContext, plots: Path | None, hot_share: float | None, warm_share: float | None, force: bool,
          keep: tuple[str, ...], value: bool | None, target_min_amount: float | None, as_json: bool) -> None:
    """Train a model on your won and lost leads and compare it with rule-based points and a logistic regression.

    20% of decisions are held out: the newest when every decision is dated or the export was imported with
    --ordered (holdout: time or ordered), else a stratified random sample (holdout: random). The report is the
    holdout's; the model then learns again from every decision, and that is the one registered.

    The model is a tournament judged on the newest 20% of the decisions it learns from (a random 20% without
    time): boosted trees; a logistic regression (weighing the newest decisions most when that validates better);
    trees boosted from the regression's margin; the blend of trees and regression. The trees stay unless another is
    more than one standard error of AUC better; then the simplest of those within one standard error wins.

    It becomes active
    only when it has signal (holdout AUC clearly above 0.5, a positive calibration slope, not too good to be true)
    and beats the active model (or there is none). Features are taken as of each decision, never after.
    Band shares belong to the model: they change the bands when the model becomes active.
    """
    from bot.cli.nlp import analyze_messages
    from scoring.evaluate import format_report
    from scoring.training import train as train_model

    analyze_messages(app)
    report = train_model(app.engine(), plots=plots, shares=(hot_share, warm_share), force=force, keep=keep,
                         value=value, min_amount=target_min_amount)
    m = report.metrics
    rescored = None
    if report.promoted:  # the new model scores the open leads now: `top` and `why` agree from the next question
        from scoring.rescore import rescore

        rescored = rescore(app.engine())
    if as_json:
        emit_json({"version": report.version, "promoted": report.promoted, "auc": m["auc"], "pr_auc": m["pr_auc"],
                   "brier": m["brier"], "rules_auc": m["rules_auc"], "quartile_ratio": m["quartile_ratio"],
                   "holdout": m["holdout"], "ece": m["ece"], "calibration_slope": m["calibration_slope"],
                   "baseline_auc": m["baseline_auc"], "seconds": m["seconds"], "deployed_on": m["deployed_on"],
                   "contestants": m["contestants"], "winner": m["winner"], "half_life": m["half_life"],
                   "rules_apply": m["rules_apply"],
                   "seconds_per_10k_leads": m["seconds_per_10k_leads"],
                   "refused": m["refused"], "rescored": rescored.leads if rescored else 0, "left_out": m["left_out"],
                   "hot_share": report.shares[0], "warm_share": report.shares[1],
                   "value": m.get("value"), "target": m.get("target", "won"), "feedback": m.get("feedback"),
                   "metrics": m, "lift": report.lift, "holdout_ids": report.holdout_ids,
                   "plots": [str(p) for p in report.plots]})
        return
    comparison = {"model": m, "rules": m["rules"], "auc_gain": m["auc_gain"], "rules_apply": m["rules_apply"]}
    click.echo(format_report(comparison, report.lift))
    if m.get("without_conversation_auc") is not None and m["without_conversation_auc"] != m["auc"]:
        click.echo(f"\nHoldout AUC without conversation features: {m['without_conversation_auc']:.3f} "
                   f"(with: {m['auc']:.3f})")
    if m.get("feedback"):
        click.echo(feedback_line(m["feedback"]))
    for name, why in m["left_out"].items():
        click.echo(f"Left out {name}: {why} (--keep {name.removeprefix('attr.')!r} to use it anyway)")
    contest = ", ".join(f"{name} {auc:.3f}" for name, auc in m["contestants"].items())
    part = "a random 20%" if m["holdout"] == "random" else "the newest 20%"
    click.echo(f"Tournament on {part} of all decisions (the trees stay unless another is more than one standard "
               f"error better): {contest}; deployed: {m['winner']}")
    if m.get("half_life") is not None:
        click.echo(f"Its linear part weighs the newest decisions most: a decision's weight halves every "
                   f"{m['half_life']:.0%} of the history back (it validated better than equal weights).")
    if m.get("holdout_winner", m["winner"]) != m["winner"]:
        click.echo(f"(Trained without the holdout, the same tournament chose {m['holdout_winner']}: the holdout "
                   "figures judge the whole procedure.)")
    click.echo(f"Logistic regression on the same features and split: AUC {m['baseline_auc']:.3f} "
               f"(model: {m['auc']:.3f}); calibration on the holdout: ECE {m['ece']:.3f}, slope "
               f"{m['calibration_slope']:.2f}")
    if m["refused"]:
        state = f"not promoted: {m['refused']}"
    else:
        state = "promoted to active" if report.promoted else "kept as a candidate (the active model is better)"
    judged = {"time": "the newest", "ordered": "the last (the export's own time order)",
              "random": "a random sample (no time to hold out the newest) of"}[m["holdout"]]
    click.echo(f"\nModel {report.version}: {state}. Judged on {judged} {m['holdout_leads']:,} decisions after "
               f"training on {m['train_leads']:,} ({m['train_seconds']} s); then fitted on all "
               f"{m['deployed_on']:,} decisions ({m['seconds']} s in all). Its bands: the top "
               f"{report.shares[0]:.0%} of open leads hot, the next {report.shares[1]:.0%} warm.")
    if m.get("target"):
        click.echo(f"Target: {m['target']}.")
    if m.get("value"):
        v = m["value"]
        click.echo(f"Deal value, learnt from {v['won_deals']:,} won deals' amounts: on the {v['holdout']} "
                   f"({v['holdout_deals']:,}), mean error {v['mae']:,.0f} against {v['median_baseline_mae']:,.0f} for "
                   f"the median amount ({v['median_amount']:,.0f}); rank correlation {v['spearman']}.")
    if rescored is not None:
        click.echo(f"Rescored {rescored.leads:,} active leads with it ({rescored.written:,} scores moved).")
    for path in report.plots:
        click.echo(f"Wrote {path}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def score(app: AppContext, as_json: bool) -> None:
    """Rescore every active lead; history keeps a row only when a score moved or its band changed."""
    from bot.cli.crm import write_back_connected
    from scoring.rescore import rescore

    result = rescore(app.engine())
    rate = result.leads / result.seconds if result.seconds else 0.0
    written_back = write_back_connected(app)
    if as_json:
        emit_json({"leads": result.leads, "written": result.written, "seconds": round(result.seconds, 3),
                   "leads_per_s": round(rate), "written_back": written_back})
        return
    click.echo(f"Scored {result.leads:,} active leads in {result.seconds:.1f} s; {result.written:,} scores moved "
               "and were added to the history.")
    if written_back:
        click.echo(f"{written_back['sent']:,} moved scores written back to the CRM"
                   + (f"; {written_back['waiting']:,} waiting" if written_back["waiting"] else "") + ".")


@cli.command()
@click.option("--band", type=click.Choice(["hot", "warm", "cold"]), help="Only leads in this band.")
@click.option("--accounts", is_flag=True, help="Rank accounts by their buying committee instead of leads.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100_000), help="How many to list.")
@click.option("--by", type=click.Choice(["probability", "value"]), default="probability", show_default=True,
              help="Rank by the chance to convert, or by expected value: probability × the amount the lead is "
                   "expected to bring if won (needs a model trained with won deals' amounts).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, best first.")
@pass_app
def top(app: AppContext, band: str | None, accounts: bool, limit: int, by: str, as_json: bool) -> None:
    """The best leads (or accounts) now, with score, band, movement and the top reason; with the expected value
    (probability × expected amount) when the model has learnt deal values."""
    from scoring.leads import top_accounts, top_leads

    if accounts and by == "value":
        raise click.UsageError("--by value ranks leads: it does not go with --accounts")
    engine = app.engine()
    rows: list[dict[str, Any]] = top_accounts(engine, limit=limit) if accounts else top_leads(
        engine, band=band, limit=limit, by=by)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No scores yet: run `hotlead score` (after `hotlead train`).")
        return
    for rank, row in enumerate(rows, start=1):
        if accounts:
            click.echo(f"{rank:>3}. {row['account']:<28} intent {row['intent']:.0%}  {row['leads']} leads, "
                       f"best: {row['best_lead']} ({row['best_probability']:.0%})")
        else:
            move = f"{row['movement']:+.0%}" if row["movement"] else "  —"
            worth = f" {row['expected_value']:>9,.0f}" if "expected_value" in row else ""
            click.echo(f"{rank:>3}. {row['name']:<22} {row['lead']:<12} {row['account'] or '':<22} "
                       f"{row['probability']:>4.0%}{worth} {row['band']:<4} {move:>5}  {row['top_reason']}")


@cli.command()
@click.argument("lead")
@click.option("--vs", "other", help="Explain why LEAD ranks above this other lead.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@pass_app
def why(app: AppContext, lead: str, other: str | None, as_json: bool) -> None:
    """Why LEAD scores what it does: the reasons for and against, with its own numbers.

    LEAD is an external id, or a name as a rep would type it ("Jane Doe", "jane doe at acme"), resolved exactly as
    chat resolves it: of several leads sharing a name, the only one still open and scored (the others are named on
    stderr); an account's name means its best-scored open lead; otherwise the leads that fit are listed with
    their ids (also shown by `hotlead top`)."""
    from scoring.explain import format_contribution, format_effect, moves_the_score
    from scoring.leads import explain_lead, explain_pair

    engine = app.engine()
    lead, other = _lead_key(engine, lead), _lead_key(engine, other) if other else None
    if other:
        pair = explain_pair(engine, lead, other)
        if as_json:
            emit_json(pair)
            return
        click.echo(f"{pair['a']['name']} ({pair['a']['probability']:.0%}) vs {pair['b']['name']} "
                   f"({pair['b']['probability']:.0%}):")
        for reason in pair["reasons"]:
            click.echo(f"  + {reason['text']}  ({format_contribution(reason['contribution'])})")
        return
    result = explain_lead(engine, lead)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result['name']} ({result['account'] or 'no account'}): {result['probability']:.0%}, "
               f"{result['band']}, percentile {result['percentile']:.0f}")
    if result["stop"]:
        click.echo(f"Do not call: {result['stop']} (its band is capped at cold)")
    if result["pinned"]:
        click.echo(f"Band pinned {result['pinned']} by a rep's feedback (the model's probability stands)")
    for said in result["feedback"]:
        click.echo(f"Rep feedback: {said['text']}")
    if "expected_value" in result:
        click.echo(f"Expected value {result['expected_value']:,.0f}: a {result['probability']:.0%} chance of a deal "
                   f"worth {result['expected_amount']:,.0f} if won (learnt from your won deals' amounts)")
    for title, key in (("For", "for"), ("Against", "against")):
        shown = [r for r in result[key] if moves_the_score(r["contribution"], result["probability"])]
        if shown:  # a reason under one point either way is neutral: said in --json, not here
            click.echo(f"{title}:")
            for reason in shown:
                effect = format_effect(reason["contribution"], result["probability"])
                click.echo(f"  {effect:<17} {reason['text']}  ({format_contribution(reason['contribution'])} "
                           "log-odds)")


def feedback_line(effect: dict[str, Any]) -> str:
    """What reps' feedback did to the model, in words (the training report's `feedback`)."""
    said = []
    if effect.get("auc") is not None:
        agreed = f", agreeing with the outcome {effect['agreed']:.0%} of the time" if effect.get("agreed") else ""
        said.append(
            f"Rep feedback: {effect['leads']:,} decided leads judged by reps{agreed}, weighted {effect['weight']:g}×: "
            f"holdout AUC {effect['auc']:.3f} vs {effect['auc_without']:.3f} without it ({effect['auc_change']:+.3f}); "
            f"holdout probabilities moved {effect['holdout_mean_move_pts']:.1f} pts on average.")
    if effect.get("waiting"):
        said.append(f"{effect['waiting']:,} judged leads are still open: their feedback teaches the model once "
                    "they are decided.")
    return "\n" + " ".join(said)


def _lead_key(engine: Engine, given: str) -> str:
    """The external id `given` names: itself, or that of the one lead a name means (matched as in chat)."""
    from bot.names import MAX_CHOICES, best_open_lead, likely_lead, name_index
    from storage.queries import lead_ids_by_external_id

    with engine.connect() as conn:
        if lead_ids_by_external_id(conn=conn, external_ids=[given]):
            return given  # an id: no name index to build (half a second on 100,000 leads)
    resolution = name_index(engine).resolve(given)
    found = resolution.found
    if found is not None and found.kind == "account":  # as in chat: the account's best-scored open lead
        best = best_open_lead(engine, found.id)
        if best is None:
            raise click.ClickException(f"{found.key} has no open lead with a score")
        click.echo(f"{best.name} is the best-scored open lead at {found.key}.", err=True)
        return best.external_id
    if found is not None:
        return found.key
    shown = resolution.candidates[:MAX_CHOICES]
    more = f" and {len(resolution.candidates) - len(shown)} more" if len(resolution.candidates) > len(shown) else ""
    options = "; ".join(f"{c.label}: {c.key}" for c in shown) + more
    if resolution.ambiguous:
        likely = likely_lead(engine, resolution.candidates)  # as chat picks: the only one open and scored
        if likely is not None:
            others = [f"{c.label}: {c.key}" for c in resolution.candidates if c != likely][:MAX_CHOICES]
            click.echo(f"Also called {given!r}: {'; '.join(others)}", err=True)
            return likely.key
        raise click.ClickException(f"more than one lead fits {given!r}: {options}")
    hint = f" (closest: {options})" if options else ""
    raise click.ClickException(f"no lead {given!r}{hint}; give an external id (see `hotlead top`) or a name")


@cli.group()
def model() -> None:
    """The model registry: list versions, activate one, roll back."""


@model.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def model_list(app: AppContext, as_json: bool) -> None:
    """Every trained version, newest first, with its holdout AUC."""
    from scoring import registry
    from scoring.bands import shares_of

    versions = registry.list_versions(app.engine())
    rows: list[dict[str, Any]] = [{"version": v.version, "status": v.status, "trained_at": str(v.trained_at),
             "auc": v.metrics.get("auc"), "rules_auc": v.metrics.get("rules_auc"),
             **dict(zip(("hot_share", "warm_share"), shares_of(v.params), strict=True))} for v in versions]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No models yet: run `hotlead train`.")
    for row in rows:
        click.echo(f"{row['version']:<26} {row['status']:<9} AUC {row['auc']:.3f} (rules {row['rules_auc']:.3f})  "
                   f"hot {row['hot_share']:.0%} / warm {row['warm_share']:.0%}  trained {row['trained_at'][:16]}")


@model.command()
@click.argument("version")
@pass_app
def activate(app: AppContext, version: str) -> None:
    """Make VERSION the active model."""
    from scoring import registry

    chosen = registry.activate(app.engine(), version)
    click.echo(f"{chosen.version} is now active; run `hotlead score` to rescore with it.")


@model.command()
@pass_app
def rollback(app: AppContext) -> None:
    """Go back to the model that was active before the current one."""
    from scoring import registry

    chosen = registry.rollback(app.engine())
    click.echo(f"Rolled back: {chosen.version} is active again.")


@cli.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="Count the leads created from this day (default: since the experiment started, when leads were "
                   "first held out; every lead when none was yet).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def experiment(app: AppContext, since: Any, as_json: bool) -> None:
    """Does scoring help? Conversion and time to first contact of the model's arm against the control arm.

    With HOTLEAD_HOLDOUT_SHARE (say 0.2), that share of new leads, picked at random and stably by their id, is a
    control arm: alerts and routing ignore the model for them. This compares the arms as assigned (every lead
    counts, open ones as not converted yet) with 95% Wilson intervals and Fisher's exact test, and says plainly
    when there is not enough data for a verdict yet."""
    from scoring.experiment import measure
    from storage.history import stamp

    share = app.settings.hotlead_holdout_share
    result = measure(app.engine(), share, stamp(since) if since else None)
    if as_json:
        emit_json(result)
        return
    since_text = f"leads created since {result['since'][:10]}" if result["since"] else "every lead"
    click.echo(f"Holdout share {share:.0%}, {since_text} ({result['protocol']}):")
    for arm in result["arms"]:
        rate = "–" if arm["rate"] is None else f"{arm['rate']:.1%} ({arm['ci_low']:.1%}–{arm['ci_high']:.1%})"
        contact = ("" if arm["first_contact_hours_median"] is None
                   else f"; first contact after {arm['first_contact_hours_median']:.1f} h (median)")
        click.echo(f"  {arm['arm']:>7}: {arm['leads']:,} leads, {arm['converted']:,} converted, {rate}{contact}")
    click.echo(result["verdict"])


@cli.command()
@click.option("--leads", "listed", default=5, show_default=True, type=click.IntRange(0, 1000),
              help="Open leads to list per segment, likeliest first.")
@click.option("--json", "as_json", is_flag=True, help="Print the segments as a JSON list.")
@pass_app
def segments(app: AppContext, listed: int, as_json: bool) -> None:
    """Segments nobody defined: groups of leads found in the data (k-means over the scoring features of the
    decided leads, refreshed with every training), each described by what sets it apart, with its conversion rate
    against the base rate (95% Wilson interval) and its open leads."""
    from scoring.segments import segments_now

    found = segments_now(app.engine(), listed)
    if found is None:
        raise click.ClickException("no segments yet: they are found when a model is trained (`hotlead train`)")
    if as_json:
        emit_json(found["segments"])
        return
    click.echo(f"{len(found['segments'])} segments of {found['decided_leads']:,} decided leads (model "
               f"{found['version']}); base conversion rate {found['base_rate']:.1%}:")
    for segment in found["segments"]:
        click.echo(f"\nSegment {segment['segment']}: {segment['size']:,} decided leads, "
                   f"{segment['conversion_rate']:.1%} converted ({segment['ci_low']:.1%}–{segment['ci_high']:.1%}), "
                   f"{segment['lift']}× the base rate; {segment['open_leads']:,} open leads now")
        click.echo(f"  {segment['description']}")
        if segment["leads"]:
            click.echo(f"  Likeliest open leads: {', '.join(segment['leads'])}")
