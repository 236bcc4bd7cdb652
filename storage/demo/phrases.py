"""What prospects and reps say in the demo conversations: varied, realistic lines with known content."""

from __future__ import annotations

import random

COMPETITORS = ("Salesforce", "HubSpot", "Pipedrive", "Zoho", "Outreach", "Gong", "Freshsales")

URGENCY = (
    "We need this live before end of quarter.",
    "Can we get this rolled out ASAP? Our current setup is breaking.",
    "Our board wants it in place by {deadline}, so timing is tight.",
    "This is urgent for us: the team starts on {deadline}.",
    "We have to move fast here, ideally sign this week.",
    "Is there any way to go live within two weeks?",
    "Honestly we're under pressure to get this done by {deadline}.",
)
BUDGET = (
    "We have about {amount} set aside for this.",
    "Budget is approved, around {amount} for the year.",
    "Finance signed off on {amount} for a tool like this.",
    "Our budget for this is roughly {amount} annually.",
    "We've got budget allocated in Q{quarter}, around {amount}.",
)
TIMELINE = (
    "We'd like to decide by {deadline}.",
    "Our planning cycle closes on {deadline}.",
    "Let's aim to have a decision in the next couple of weeks.",
    "We want to start the pilot on {deadline}.",
)
COMPETITOR = (
    "We're also looking at {competitor}.",
    "We currently use {competitor} but it's not working for us.",
    "How do you compare to {competitor}?",
    "{competitor} quoted us a lower price, to be honest.",
)
STRONG_OBJECTION = (
    "Honestly the price is way too high for us.",
    "I don't think we have budget for this until next year.",
    "This isn't a priority for us right now.",
    "I'm not the one who decides, and my boss isn't convinced.",
    "We're not sure we actually need this.",
    "It's too expensive compared to what we pay now.",
    "The timing is bad, we're in a hiring freeze.",
)
POSITIVE = (
    "This looks great, exactly what we were missing.",
    "Thanks, the demo was really helpful.",
    "Love the reporting, my team will be happy.",
    "Sounds good, let's keep going.",
    "That makes sense, I like it.",
    "Really impressed with how simple the setup is.",
)
NEUTRAL = (
    "Can you send over the documentation?",
    "How does the integration with our CRM work?",
    "Who else in our industry uses this?",
    "What does onboarding look like?",
    "Can you share a case study?",
    "Do you support single sign-on?",
    "I'll loop in my colleague from IT.",
)
NEGATIVE = (
    "The last call was a bit confusing, to be honest.",
    "I'm frustrated we still haven't seen the security docs.",
    "Not really convinced by the reporting so far.",
    "This is taking longer than we hoped.",
)
NEXT_STEP = (
    "Please send the contract over.",
    "Let's set up a call with our CFO next week.",
    "Can you send a proposal by Friday?",
    "Let's schedule a follow-up with procurement.",
)
REP = (
    "Happy to help! Let me know what questions you have.",
    "Great question, I'll send that over today.",
    "Thanks for your time today, really enjoyed the conversation.",
    "I can set up a trial workspace for your team.",
    "Let me share a case study from a similar company.",
    "Would a quick call on Thursday work?",
    "Absolutely, we can tailor the pilot to your team.",
)
DEADLINES = ("Friday", "the end of the month", "March 1st", "next Monday", "the 15th", "end of Q1", "June")


def fill(template: str, rng: random.Random) -> str:
    """Fill a template's slots with plausible values."""
    return template.format(
        deadline=rng.choice(DEADLINES),
        amount=f"${rng.choice((15, 20, 25, 40, 50, 60, 80, 120))}k",
        quarter=rng.randint(1, 4),
        competitor=rng.choice(COMPETITORS),
    )


def prospect_lines(
    rng: random.Random, *, urgency: bool, budget: bool, objection: bool, mood: float, count: int
) -> list[str]:
    """A prospect's side of a conversation that carries exactly the flagged content, plus filler."""
    lines: list[str] = []
    if urgency:
        lines.append(fill(rng.choice(URGENCY), rng))
    if budget:
        lines.append(fill(rng.choice(BUDGET), rng))
    if objection:
        lines.append(fill(rng.choice(STRONG_OBJECTION), rng))
    if rng.random() < 0.3:
        lines.append(fill(rng.choice(COMPETITOR), rng))
    if rng.random() < 0.25 and not objection:
        lines.append(fill(rng.choice(TIMELINE), rng))
    if rng.random() < 0.2 + 0.2 * (mood > 0):
        lines.append(rng.choice(NEXT_STEP))
    while len(lines) < count:
        pool = POSITIVE if rng.random() < 0.5 + 0.3 * mood else (NEGATIVE if rng.random() < 0.3 else NEUTRAL)
        lines.append(rng.choice(pool))
    rng.shuffle(lines)
    return lines


def rep_line(rng: random.Random) -> str:
    """Something a rep says."""
    return rng.choice(REP)
