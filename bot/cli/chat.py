"""Talking to Hotlead: `ask`, `chat`, `serve`, and the team it answers (`reps`)."""

from __future__ import annotations

import contextlib
import logging
import os

import click

from bot.cli import AppContext, cli, emit_json, pass_app
from bot.router import Deps

log = logging.getLogger(__name__)


def _deps(app: AppContext) -> Deps:
    return Deps(app.engine(), app.settings)


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--as", "who", metavar="REP", help="Ask as this rep (name, Slack id or WhatsApp number).")
@click.option("--json", "as_json", is_flag=True, help="Print the answer's facts as JSON.")
@pass_app
def ask(app: AppContext, question: tuple[str, ...], who: str | None, as_json: bool) -> None:
    """Ask one question, exactly as a rep would in Slack or WhatsApp.

    \b
    Examples:
      hotlead ask "why is Acme hot?"
      hotlead ask "top 5 hot leads in fintech"
      hotlead ask --as "Alex Rivera" "who should I call today?"
      hotlead ask "compare Acme and Globex"
      hotlead ask help
    """
    from bot.channels.console import as_rep, render_once
    from bot.channels.console import ask as ask_router

    deps = _deps(app)
    reply = ask_router(deps, " ".join(question), as_rep(deps, who))
    if as_json:
        emit_json({"text": render_once(reply, who), **reply.data,
                   "choices": [{"label": c.label, "question": c.question} for c in reply.choices]})
    else:
        click.echo(render_once(reply, who))


@cli.command()
@click.option("--as", "who", metavar="REP", help="Chat as this rep (name, Slack id or WhatsApp number).")
@pass_app
def chat(app: AppContext, who: str | None) -> None:
    """Chat with Hotlead in the terminal: same answers as Slack; a number picks from a list; Ctrl-D quits."""
    from bot.channels.console import as_rep, render
    from bot.channels.console import ask as ask_router

    with contextlib.suppress(ImportError):  # not on every platform
        import readline  # noqa: F401  (arrow keys and history for input())
    deps = _deps(app)
    rep = as_rep(deps, who)
    click.echo("Hotlead chat. Ask \"help\" for examples; Ctrl-D or \"quit\" to leave.")
    while True:
        try:
            question = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo("")
            return
        if question.lower() in {"quit", "exit", "bye", "q"}:
            return
        if question:
            click.echo(render(ask_router(deps, question, rep)) + "\n")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the team as JSON.")
@pass_app
def reps(app: AppContext, as_json: bool) -> None:
    """The sales team Hotlead answers: names, roles, Slack ids and WhatsApp numbers (`hotlead import reps`)."""
    from storage.history import all_reps

    with app.engine().connect() as conn:
        team = all_reps(conn=conn)
    if as_json:
        emit_json([{"name": r.name, "role": r.role, "slack_user_id": r.slack_user_id, "whatsapp": r.whatsapp,
                    "timezone": r.timezone} for r in team])
        return
    if not team:
        click.echo("No reps yet: import them with `hotlead import reps reps.csv`.")
    for r in team:
        click.echo(f"{r.name:<20} {r.role:<8} {r.slack_user_id or '-':<12} {r.whatsapp or '-':<16} {r.timezone}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--slack/--no-slack", default=True, show_default=True,
              help="Answer Slack (needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET).")
@click.option("--whatsapp/--no-whatsapp", default=True, show_default=True,
              help="Answer WhatsApp (needs TWILIO_AUTH_TOKEN and HOTLEAD_PUBLIC_URL).")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Keep the schedule of the weekly digest and the retraining here (several servers on one "
                   "database may: each run happens once).")
@click.option("--chat-workers", type=click.IntRange(0, 64),
              help="Processes that answer chat questions (default: one less than the CPUs, at least 1; 0: answer "
                   "in the server process).")
@pass_app
def serve(app: AppContext, host: str, port: int, slack: bool, whatsapp: bool, scheduler: bool,
          chat_workers: int | None) -> None:
    """Run the bot's HTTP server: Slack events, WhatsApp webhooks and the health check.

    \b
    Routes:
      POST /slack/events      Slack events, the /hotlead command and buttons (signed by Slack)
      POST /twilio/whatsapp   WhatsApp messages from Twilio (signed against HOTLEAD_PUBLIC_URL)
      POST /twilio/status     Twilio delivery callbacks for WhatsApp alerts (signed)
      POST /api/events        activities as they happen (Bearer HOTLEAD_API_TOKEN)
      POST /api/messages      chat and call-transcript lines as they happen (Bearer HOTLEAD_API_TOKEN)
      GET  /healthz           liveness
    Alerts go out through the outbox (`hotlead alerts`); the weekly digest and retraining run on schedule.
    With SLACK_APP_TOKEN set, Slack is also reached over Socket Mode (no public URL needed).
    A missing secret stops the server at start, naming the variable.
    """
    from bot.app import create_app

    workers = max(1, (os.cpu_count() or 2) - 1) if chat_workers is None else chat_workers
    asgi = create_app(app.settings, slack=slack, whatsapp=whatsapp, engine=app.engine(), scheduler=scheduler,
                      chat_workers=workers)
    parts = asgi.state.hotlead
    if slack and app.settings.slack_app_token:
        from bot.channels.slack import connect_socket_mode

        connect_socket_mode(parts.bolt, app.settings)
        click.echo("Slack: connected over Socket Mode.", err=True)
    from bot.server import serve_until_stopped

    def ready() -> None:  # said once connections are accepted, after the workers and the outbox started
        click.echo(f"Hotlead serving {', '.join(parts.channels) or 'health checks only'} on http://{host}:{port}",
                   err=True)

    serve_until_stopped(asgi, host, port, ready)
