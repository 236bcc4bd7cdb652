"""`hotlead dev`: try the bot with Slack and WhatsApp on this machine, through the same local fakes of their APIs
the tests use, and signed requests as Slack and Twilio send them."""

from __future__ import annotations

import shlex
import threading

import click
import httpx

from bot.cli import AppContext, cli, pass_app

SLACK_TOKEN = "xoxb-hotlead-dev"
SIGNING_SECRET = "hotlead-dev-signing-secret"
TWILIO_SID = "AC" + "0" * 31 + "1"
TWILIO_TOKEN = "hotlead-dev-auth-token"
CHANNEL = "C0HOTLEAD"
SERVER = "http://127.0.0.1:8000"


@cli.group()
def dev() -> None:
    """Try Slack and WhatsApp locally: `hotlead dev fakes` in one terminal, `hotlead serve` with the settings it
    prints in a second, `hotlead dev slack "who should I call today?"` in a third."""


@dev.command()
@click.option("--public-url", default=SERVER, show_default=True, help="Where `hotlead serve` will listen.")
def fakes(public_url: str) -> None:
    """Run local fakes of the Slack Web API and Twilio's REST API, print the settings that point `hotlead serve`
    at them, then show what the bot posts until Ctrl-C."""
    from bot.fakes.slack import FakeSlack
    from bot.fakes.twilio import FakeTwilio

    with FakeSlack(token=SLACK_TOKEN, channels=(CHANNEL,)) as slack, FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as twilio:
        settings = {
            "SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "HOTLEAD_ALERT_CHANNEL": CHANNEL, "TWILIO_API_URL": twilio.url, "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_WHATSAPP_FROM": "whatsapp:+15550009999",
            "HOTLEAD_PUBLIC_URL": public_url, "HOTLEAD_API_TOKEN": "hotlead-dev-api-token",
        }
        click.echo("# Local fakes of Slack and Twilio are up. In another terminal:")
        for name, value in settings.items():
            click.echo(f"export {name}={shlex.quote(value)}")
        click.echo("# then `hotlead serve`, and `hotlead dev slack \"top leads\"` in a third. Ctrl-C stops.")
        click.echo("# ready", nl=True)
        stop = threading.Event()
        seen = {id(slack): 0, id(twilio): 0}
        try:
            while not stop.wait(0.2):  # a terminal display, not a test: polling is fine here
                for fake, label in ((slack, "slack"), (twilio, "whatsapp")):
                    for call in fake.calls[seen[id(fake)]:]:
                        text = call.params.get("text") or call.params.get("Body") or ""
                        where = call.params.get("channel") or call.params.get("To") or ""
                        click.echo(f"[{label}] {call.method} → {where}: {text}")
                    seen[id(fake)] = len(fake.calls)
        except KeyboardInterrupt:
            pass


@dev.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--url", default=SERVER, show_default=True, help="The running `hotlead serve`.")
@click.option("--user", default="U0HL00003", show_default=True, help="The Slack user asking (a demo rep's id).")
@pass_app
def slack(app: AppContext, question: tuple[str, ...], url: str, user: str) -> None:
    """Ask QUESTION as a Slack mention, signed with SLACK_SIGNING_SECRET as Slack signs it; the answer appears
    where `hotlead dev fakes` runs."""
    from bot.fakes.signing import slack_event_body, slack_headers

    secret = app.settings.require("SLACK_SIGNING_SECRET", "signing the question as Slack would")
    body = slack_event_body({"type": "app_mention", "user": user, "channel": CHANNEL, "ts": "1.000001",
                             "text": f"<@UHOTLEAD> {' '.join(question)}"})
    answered = httpx.post(f"{url.rstrip('/')}/slack/events", content=body, headers=slack_headers(secret, body),
                          timeout=10)
    click.echo(f"Slack event sent: {answered.status_code}; the bot's answer shows where `hotlead dev fakes` runs.")


@dev.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--url", default=SERVER, show_default=True, help="The running `hotlead serve`.")
@click.option("--sender", default="+15550100003", show_default=True,
              help="The WhatsApp number asking (a demo rep's number).")
@pass_app
def whatsapp(app: AppContext, question: tuple[str, ...], url: str, sender: str) -> None:
    """Ask QUESTION as a WhatsApp message through Twilio, signed with TWILIO_AUTH_TOKEN against
    HOTLEAD_PUBLIC_URL as Twilio signs it; prints the bot's answer (the TwiML it returns)."""
    from bot.fakes.signing import twilio_signature

    token = app.settings.require("TWILIO_AUTH_TOKEN", "signing the message as Twilio would")
    public = app.settings.require("HOTLEAD_PUBLIC_URL", "signing the message as Twilio would").rstrip("/")
    form = {"From": f"whatsapp:{sender}", "To": "whatsapp:+15550009999", "Body": " ".join(question),
            "MessageSid": "SM" + "0" * 31 + "1", "AccountSid": app.settings.twilio_account_sid or TWILIO_SID,
            "NumMedia": "0"}
    signature = twilio_signature(token, f"{public}/twilio/whatsapp", form)
    answered = httpx.post(f"{url.rstrip('/')}/twilio/whatsapp", data=form,
                          headers={"X-Twilio-Signature": signature}, timeout=30)
    click.echo(answered.text if answered.is_success else f"Refused: {answered.status_code} {answered.text}")
