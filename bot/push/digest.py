"""The weekly manager digest: who rose, who fell and why, new hot leads, hot leads gone quiet, the reps' overrides,
a segment the bands miss, model health, and a chart of the score movements; built as data (`build_digest`) and sent
to Slack (`send_digest`)."""

from __future__ import annotations

import io
import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from matplotlib.figure import Figure
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.channels.slack import fallback
from bot.channels.slack import sections as mrkdwn_sections
from bot.config import Settings
from bot.push.digest_sections import (
    LISTED,
    LeadLine,
    MissedSegment,
    Overrides,
    missed_segments,
    overrides,
)
from bot.push.health import ModelHealth, model_health
from scoring.experiment import measure
from scoring.features import NOT_ENGAGEMENT
from storage.history import all_reps, lead_names, stamp, verdicts
from storage.push import last_heard, scores_at
from storage.queries import open_lead_ids

log = logging.getLogger(__name__)
PERIOD = timedelta(days=7)
MOVERS = 5  # risers and fallers each
MIN_MOVE = 0.01  # a probability move smaller than this is not news


@dataclass
class Digest:
    """One week of score movements and model health, as data, plain text, Block Kit and a PNG chart."""

    start: datetime
    end: datetime
    risers: list[LeadLine]
    fallers: list[LeadLine]
    new_hot: list[LeadLine]
    new_hot_total: int
    quiet: list[LeadLine]
    quiet_total: int
    health: ModelHealth
    chart: bytes = field(default=b"", repr=False)
    experiment: dict[str, Any] | None = None  # the controlled experiment's report, in the month's first digest
    overrides: Overrides | None = None  # None: no rep gave a verdict this week
    missed: list[MissedSegment] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The digest's heading."""
        return f"Hotlead weekly digest: {self.start:%d %b} – {self.end:%d %b %Y}"

    def sections(self) -> list[tuple[str, list[str]]]:
        """(heading, lines) of each part, in order."""
        def moved(line: LeadLine) -> str:
            band = f", {line.band_before} → {line.band}" if line.band_before != line.band else ""
            why = f" — {line.reason}" if line.reason else ""
            return (f"{line.label}: {_pct(line.before)} → {_pct(line.probability)} "
                    f"({100 * line.movement:+.0f}{band}){why}")

        quiet = [f"{line.label}: {_pct(line.probability)}, last heard from {line.last_heard or 'never'}"
                 for line in self.quiet]
        extra = []
        if self.overrides:
            extra.append((f"Overrides this week ({sum(self.overrides.counts.values())})", self.overrides.lines()))
        if self.missed:
            extra.append(("A segment you may be missing" if len(self.missed) == 1 else "Segments you may be missing",
                          [segment.line() for segment in self.missed]))
        return [
            ("Biggest risers", [moved(line) for line in self.risers] or ["No lead rose this week."]),
            ("Biggest fallers", [moved(line) for line in self.fallers] or ["No lead fell this week."]),
            (f"New hot leads ({self.new_hot_total})",
             [f"{line.label}: {_pct(line.probability)}" + (f" — {line.reason}" if line.reason else "")
              for line in self.new_hot] or ["None this week."]),
            (f"Hot leads gone quiet ({self.quiet_total}): no activity or message in {PERIOD.days} days",
             quiet or ["None: every hot lead was active this week."]),
            *extra,
            ("Model health", [self.health.summary()]),
        ] + ([("Does scoring help? The controlled experiment", self._experiment_lines())] if self.experiment else [])

    def _experiment_lines(self) -> list[str]:
        assert self.experiment is not None
        arms = [f"{arm['arm'].capitalize()} arm: {arm['converted']:,} of {arm['leads']:,} leads converted"
                + ("" if arm["rate"] is None else f" ({arm['rate']:.1%}, {arm['ci_low']:.1%}–{arm['ci_high']:.1%})")
                for arm in self.experiment["arms"]]
        return [*arms, str(self.experiment["verdict"])]

    @property
    def text(self) -> str:
        """The plain-text digest (also Slack's notification fallback)."""
        parts = [self.title]
        for heading, lines in self.sections():
            parts.append("\n".join([heading, *(f"  • {line}" for line in lines)]))
        return "\n\n".join(parts)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The digest in Block Kit (lead and account names escaped: they are CRM data)."""
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": self.title}}]
        for heading, lines in self.sections():
            blocks += mrkdwn_sections(f"*{heading}*\n" + "\n".join(f"• {line}" for line in lines))
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            "Movements are calibrated probability points since a week ago; the chart shows the biggest.")}]})
        return blocks

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable form (without the chart)."""
        def lines(items: list[LeadLine]) -> list[dict[str, Any]]:
            return [{**asdict(line), "movement": line.movement} for line in items]

        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "risers": lines(self.risers),
                "fallers": lines(self.fallers), "new_hot": lines(self.new_hot), "new_hot_total": self.new_hot_total,
                "quiet": lines(self.quiet), "quiet_total": self.quiet_total, "health": self.health.as_dict(),
                "experiment": self.experiment, "overrides": self._overrides_dict(),
                "missed_segments": [asdict(segment) for segment in self.missed], "text": self.text}

    def _overrides_dict(self) -> dict[str, Any] | None:
        if self.overrides is None:
            return None
        found = asdict(self.overrides)
        for item in found["latest"]:
            item.update(at=item["at"].isoformat(), until=item["until"].isoformat() if item["until"] else None)
        return found


def _pct(probability: float | None) -> str:
    return "–" if probability is None else f"{round(100 * probability)}"


def _reason_moved(before: list[dict[str, Any]], after: list[dict[str, Any]], rising: bool) -> str | None:
    """The stored reason whose contribution moved most in the direction the score moved."""
    then = {r.get("group", r["text"]): r for r in before}
    now = {r.get("group", r["text"]): r for r in after}
    sign = 1.0 if rising else -1.0
    moves = []
    for group in then.keys() | now.keys():
        delta = (now[group]["contribution"] if group in now else 0.0) - (
            then[group]["contribution"] if group in then else 0.0)
        line = now[group]["text"] if group in now else f"no longer: {then[group]['text']}"
        moves.append((sign * delta, line))
    best = max(moves, default=None)
    return best[1] if best is not None and best[0] > 0 else None


def build_digest(engine: Engine, now: datetime, holdout_share: float = 0.0) -> Digest:
    """The digest of the `PERIOD` ending at `now` (an aware datetime); the month's first one (a date in its
    first week) carries the controlled experiment's report when one runs (`holdout_share` above 0)."""
    start = now - PERIOD
    with engine.connect() as conn:
        open_ids = set(open_lead_ids(conn=conn))
        names = {lead.id: lead for lead in lead_names(conn=conn)}
        current, then = scores_at(conn=conn, moment=now), scores_at(conn=conn, moment=start)
        lines: dict[int, LeadLine] = {}
        for lead_id, (p, band, reasons) in current.items():
            if lead_id not in open_ids or lead_id not in names:
                continue
            old = then.get(lead_id)
            rising = old is None or p >= old[0]
            reason = _reason_moved(old[2] if old else [], reasons, rising) if old else (
                reasons[0]["text"] if reasons else None)
            lead = names[lead_id]
            lines[lead_id] = LeadLine(lead.external_id, lead.name, lead.account, p, band,
                                      old[0] if old else None, old[1] if old else None, reason)
        hot = sorted((i for i, line in lines.items() if line.band == "hot"), key=lambda i: -lines[i].probability)
        new_hot = [i for i in hot if lines[i].band_before != "hot"]
        heard = last_heard(conn=conn, lead_ids=hot, now=now, not_engagement=NOT_ENGAGEMENT)
    quiet = [i for i in hot if heard.get(i, "") < stamp(start)]
    movers = [line for line in lines.values() if line.before is not None and abs(line.movement) >= MIN_MOVE]
    risers = sorted((m for m in movers if m.movement > 0), key=lambda m: -m.movement)[:MOVERS]
    fallers = sorted((m for m in movers if m.movement < 0), key=lambda m: m.movement)[:MOVERS]
    quiet_lines = [replace(lines[i], last_heard=heard[i][:10] if i in heard else None) for i in quiet[:LISTED]]
    with engine.connect() as conn:
        judged = verdicts(conn=conn)
    digest = Digest(start, now, risers, fallers, [lines[i] for i in new_hot[:LISTED]], len(new_hot), quiet_lines,
                    len(quiet), model_health(engine, now),
                    experiment=measure(engine, holdout_share) if holdout_share > 0 and now.day <= 7 else None,
                    overrides=overrides(judged, names, open_ids, start, now),
                    missed=missed_segments(engine, {line.lead: line for line in lines.values()}, len(open_ids)))
    digest.chart = chart(digest)
    return digest


def chart(digest: Digest) -> bytes:
    """A PNG of the week's biggest movements: horizontal bars, risers up top, fallers below."""
    movers = [*digest.risers, *reversed(digest.fallers)][::-1]
    fig = Figure(figsize=(7, 0.9 + 0.45 * max(len(movers), 2)), layout="constrained")
    ax = fig.subplots()
    if movers:
        points = [100 * m.movement for m in movers]
        # positions, not labels, on the axis: two leads with the same name must stay two bars
        ax.barh(range(len(movers)), points, color=["#2e7d32" if p > 0 else "#c62828" for p in points])
        # names are data: a "$" would start matplotlib's math mode ("$\\frac{$" crashed the digest)
        ax.set_yticks(range(len(movers)), [m.label[:40].replace("$", r"\$") for m in movers])
        ax.axvline(0, color="grey", linewidth=1)
        for y, (m, p) in enumerate(zip(movers, points, strict=True)):
            ax.annotate(f"{_pct(m.before)} → {_pct(m.probability)}", (p, y), xytext=(4 if p > 0 else -4, 0),
                        textcoords="offset points", va="center", ha="left" if p > 0 else "right", fontsize=8)
        ax.margins(x=0.25)
    else:
        ax.text(0.5, 0.5, "No score moved this week", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set(xlabel="score movement (points)", title=f"Score movements, {digest.start:%d %b} – {digest.end:%d %b}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)  # a bare Figure renders through Agg: no pyplot, no GUI backend
    return buffer.getvalue()


@dataclass(frozen=True)
class Delivery:
    """One copy of the digest: the recipient, the channel it went to, the message's ts and the chart's file id,
    or the error that stopped it."""

    target: str
    channel: str | None = None
    ts: str | None = None
    file_id: str | None = None
    error: str | None = None


def recipients(engine: Engine, settings: Settings) -> list[str]:
    """The managers' Slack user ids, then HOTLEAD_DIGEST_CHANNEL when set."""
    with engine.connect() as conn:
        managers = [rep.slack_user_id for rep in all_reps(conn=conn) if rep.role == "manager" and rep.slack_user_id]
    return [*managers, *([settings.hotlead_digest_channel] if settings.hotlead_digest_channel else [])]


def deliver(digest: Digest, client: WebClient, target: str) -> Delivery:
    """Post the digest to a user (in their DM) or a channel, then upload its chart there."""
    channel = target
    if target.startswith(("U", "W")):  # a user: the DM channel's id, which the file upload needs
        channel = str(client.conversations_open(users=target)["channel"]["id"])
    posted = client.chat_postMessage(channel=channel, text=fallback(digest.text), blocks=digest.blocks,
                                     unfurl_links=False)
    uploaded = client.files_upload_v2(channel=channel, content=digest.chart, title=digest.title,
                                      filename=f"hotlead-digest-{digest.end:%Y-%m-%d}.png")
    return Delivery(target, channel, posted.get("ts"), (uploaded.get("file") or {}).get("id"))


def send_digest(settings: Settings, engine: Engine, client: WebClient, now: datetime) -> tuple[Digest, list[Delivery]]:
    """Build the digest and send it to every manager and the digest channel; a recipient that fails is
    logged and reported, and does not stop the others."""
    digest = build_digest(engine, now, settings.hotlead_holdout_share)
    sent = []
    for target in recipients(engine, settings):
        try:
            sent.append(deliver(digest, client, target))
        except (SlackApiError, OSError) as exc:
            log.error("the digest could not be sent to %s: %s", target, exc)
            sent.append(Delivery(target, error=str(exc)))
    return digest, sent
