"""Turn per-feature TreeSHAP contributions into reasons a sales rep understands, in the lead's own values."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, NamedTuple

import numpy as np

from scoring.countries import country_name
from scoring.features import attribute_kind

BIAS = "bias"
_WINDOWS = (7, 30, 90)
_WINDOWED = re.compile(r"(\w+)_(\d+)d")
_CRM = " (CRM)"


@dataclass(frozen=True)
class Reason:
    """One group's summed contribution (log-odds, + pushes the score up) and its sentence."""

    text: str
    contribution: float
    group: str
    features: tuple[str, ...]


class _Phrase(NamedTuple):
    head: str
    detail: str = ""
    key: str | None = None  # the feature B is compared on in compare_reasons
    unit: str = ""


def missing_value(value: Any) -> bool:
    """True for None and for NaN-like values (those unequal to themselves)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT and pd.NA are the values unequal to themselves
    except (TypeError, ValueError):
        return True


def _num(values: Mapping[str, Any], key: str) -> float | None:
    value: Any = values.get(key)
    if type(value) is float:  # the common case, first for speed
        return None if value != value else value
    if missing_value(value) or isinstance(value, str):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(values: Mapping[str, Any], key: str) -> str | None:
    value = values.get(key)
    return None if missing_value(value) else str(value).replace("_", " ")


_SMALL = {float(i): str(i) for i in range(1000)}  # whole numbers below 1,000 read the same either way


def _fmt(x: float, grouping: bool = True) -> str:
    small = _SMALL.get(x)
    if small is not None:  # most counts: the common case, first for speed
        return small
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x.is_integer():
        return f"{int(x):,}" if grouping else str(int(x))
    if abs(x) >= 1:
        return (f"{x:,.2f}" if grouping else f"{x:.2f}").rstrip("0").rstrip(".")
    return f"{x:.2g}"


def _count(n: float, one: str, many: str) -> str:
    return f"no {many}" if n == 0 else f"{_fmt(n)} {one if n == 1 else many}"


def _ago(days: float) -> str:
    return "today" if days < 1 else f"{_count(float(int(days)), 'day', 'days')} ago"  # whole days passed


def _hours(hours: float) -> str:
    """A reply time as people say it, from its whole hours: "an hour", "5 hours", "2 days"."""
    whole = max(round(hours), 1)
    if whole == 1:
        return "an hour"
    if whole < 48:
        return _count(float(whole), "hour", "hours")
    return _count(float(round(whole / 24)), "day", "days")


def _shown_hours(hours: np.ndarray) -> np.ndarray:
    """Hours as `_hours` reads them: 0 and missing as they are, anything else its whole hours (at least 1)."""
    return np.where(hours > 0, np.maximum(np.round(hours), 1.0), hours)


def _unused(values: np.ndarray) -> np.ndarray:
    return np.zeros_like(values)


# Float features as the sentences read them: values equal here give the same sentence, so a sentence is written
# once per distinct shown value rather than once per lead (days since: whole days; a feature no sentence reads).
SHOWN: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    **dict.fromkeys(("time.days_since_activity", "time.days_since_reply", "time.lead_age_days"), np.floor),
    "time.reply_hours_median": _shown_hours, "time.days_to_first_reply": _unused,
}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _windowed(values: Mapping[str, Any], prefix: str, verb: str, none: str) -> _Phrase:
    counts = [(w, key, n) for w, key in _window_keys(prefix) if (n := _num(values, key)) is not None]
    for i, (w, key, n) in enumerate(counts):
        if n > 0:
            detail = next((f" ({_fmt(m)}× in {v} days)" for v, _, m in counts[i + 1:] if m > n), "")
            return _Phrase(f"{verb} {_fmt(n)}× in the last {w} days", detail, key, "×")
    if not counts:
        return _Phrase(f"{none} on record")
    return _Phrase(f"{none} in {counts[-1][0]} days", "", counts[-1][1], "×")


@lru_cache(maxsize=256)
def _window_keys(prefix: str) -> tuple[tuple[int, str], ...]:
    return tuple((w, f"{prefix}_{w}d") for w in _WINDOWS)


_REPLY_KEYS = tuple((w, f"beh.email_reply_{w}d") for w in reversed(_WINDOWS))


def _replies(values: Mapping[str, Any]) -> _Phrase:
    last = _num(values, "time.days_since_reply")
    hours = _num(values, "time.reply_hours_median")
    when = "" if last is None or last >= 90 else f", last {_ago(last)}" if last >= 1 else ", last one today"
    speed = f"; usually within {_hours(hours)}" if hours else ""
    for w, key in _REPLY_KEYS:
        if (n := _num(values, key)) is not None:
            head = f"Replied to emails {_fmt(n)}× in {w} days" if n else f"No email replies in {w} days"
            return _Phrase(head, when + (speed if n else ""), key, "×")
    if when:
        return _Phrase(f"Last replied {_ago(last or 0)}", speed, "time.days_since_reply", " days")
    return _Phrase("No email replies on record")


def _engagement(values: Mapping[str, Any]) -> _Phrase:
    since, c7 = _num(values, "time.days_since_activity"), _num(values, "time.count_7d")
    c28, velocity = _num(values, "time.count_28d"), _num(values, "time.velocity")
    parts = []
    if since is not None:
        parts.append("No engagement in 90 days" if since >= 90 else f"Last engaged {_ago(since)}")
    if c7 is not None:
        before = f" vs {_fmt(round(max(c28 - c7, 0) / 3, 1))}/week before" if c28 is not None else ""
        parts.append(f"{_count(c7, 'touch', 'touches')} this week{before}")
    elif velocity is not None:
        parts.append(f"{_fmt(abs(velocity))} touches/week {'above' if velocity >= 0 else 'below'} the usual pace")
    if not parts:
        return _Phrase("No engagement on record")
    key, unit = ("time.days_since_activity", " days") if since is not None else ("time.count_7d", "×")
    return _Phrase(_cap(parts[0]), "".join(["; " + p for p in parts[1:]]), key, unit)


def _outreach(values: Mapping[str, Any]) -> _Phrase:
    sent, unanswered = _num(values, "neg.sent_21d"), _num(values, "neg.no_reply_21d")
    if unanswered == 1:
        emails = _count(sent, "email", "emails") if sent else "2 or more emails"
        return _Phrase(f"No reply to {emails} in 21 days", "", "neg.sent_21d", " emails")
    if sent is not None:
        answered = " and got a reply" if sent >= 2 and unanswered == 0 else ""
        return _Phrase(f"{_cap(_count(sent, 'email', 'emails'))} sent in 21 days{answered}", "", "neg.sent_21d",
                       " emails")
    return _windowed(values, "beh.email_sent", "Sent emails", "No emails sent")


def _category(values: Mapping[str, Any], key: str, label: str, phrases: Mapping[str, str],
              plain: Callable[[str], str] | None = None) -> _Phrase:
    value = _text(values, key)
    if value is None:
        return _Phrase(f"{label} unknown")
    return _Phrase(phrases.get(value) or (plain(value) if plain else f"{label}: {value}"), "", key)


def _country(code: str) -> str:
    return f"Based in {country_name(code)}"


def _industry(industry: str) -> str:
    return f"In the {industry} industry"


def _size(values: Mapping[str, Any]) -> _Phrase:
    n = _num(values, "firm.employees")
    if n is None:
        return _Phrase("Company size unknown")
    head = f"Small company ({_count(n, 'employee', 'employees')})" if n < 200 else f"Company of {_fmt(n)} employees"
    return _Phrase(head, "", "firm.employees", " employees")


def _age(values: Mapping[str, Any]) -> _Phrase:
    days = _num(values, "time.lead_age_days")
    head = "Lead age unknown" if days is None else f"Lead created {_ago(days)}"
    return _Phrase(head, "", "time.lead_age_days", " days")


def _mentions(values: Mapping[str, Any], key: str, verb: str, none: str) -> _Phrase:
    n = _num(values, key)
    return _Phrase(f"{verb} {_fmt(n)}× in conversations" if n else f"{none} in conversations", "", key, "×")


URGENT, CALM = 0.7, 0.3  # urgency at or above URGENT is "urgent", below CALM "not urgent", between "somewhat"


def _urgency(values: Mapping[str, Any]) -> _Phrase:
    week, month = _num(values, "conv.urgency_max_7d"), _num(values, "conv.urgency_max_30d")
    for level, when, key in ((week, "this week", "conv.urgency_max_7d"),
                             (month, "in the last 30 days", "conv.urgency_max_30d")):
        if level:
            how = "Sounded urgent" if level >= URGENT else "Sounded somewhat urgent" if level >= CALM else (
                "Did not sound urgent")
            return _Phrase(f"{how} {when} (urgency {_fmt(level)})", "", key)
    return _Phrase("No urgency signals in 30 days", "", "conv.urgency_max_30d")


def _sentiment(values: Mapping[str, Any]) -> _Phrase:
    recent, overall = _num(values, "conv.sentiment_7d"), _num(values, "conv.sentiment_mean")
    trend = _num(values, "conv.sentiment_trend")
    key, score = ("conv.sentiment_7d", recent) if recent is not None else ("conv.sentiment_mean", overall)
    if score is None:
        return _Phrase("No conversation sentiment yet")
    tone = "Positive" if score > 0.2 else "Negative" if score < -0.2 else "Neutral"
    moving = "" if trend is None or abs(trend) < 0.05 else "; warming up" if trend > 0 else "; cooling down"
    return _Phrase(f"{tone} tone in conversations ({_fmt(score)})", moving, key)


def _talk(values: Mapping[str, Any]) -> _Phrase:
    inbound, outbound = _num(values, "conv.inbound_30d"), _num(values, "conv.outbound_30d")
    ratio, questions = _num(values, "conv.talk_ratio"), _num(values, "conv.questions_30d")
    if inbound is None and outbound is None:
        return _Phrase("No conversation on record")
    detail = f" ({_fmt(round(ratio * 100))}% of the conversation)" if inbound and ratio is not None else ""
    detail += f", asked {_count(questions, 'question', 'questions')}" if questions else ""
    detail += f" ({_count(outbound, 'message', 'messages')} from the team)" if not inbound and outbound else ""
    head = _cap(f"{_count(inbound or 0, 'message', 'messages')} from the lead in 30 days")
    return _Phrase(head, detail, "conv.inbound_30d", " messages")


def _account(values: Mapping[str, Any]) -> _Phrase:
    people, levels = _num(values, "acct.engaged_contacts_30d"), _num(values, "acct.seniorities_engaged_30d")
    week = _num(values, "acct.activity_7d")
    touches = f"{_count(week, 'account touch', 'account touches')} this week" if week is not None else ""
    if people is None:
        return _Phrase(_cap(touches) or "No account engagement on record", "", "acct.activity_7d" if touches else None)
    head = ("No one else at the account engaged in 30 days" if not people else
            f"{_count(people, 'other person', 'other people')} at the account engaged in 30 days")
    detail = f" ({_fmt(levels)} seniority levels)" if people and levels and levels > 1 else ""
    return _Phrase(head, detail + (f"; {touches}" if touches else ""), "acct.engaged_contacts_30d", " people")


def _value(values: Mapping[str, Any], key: str, name: str) -> _Phrase:
    value = values.get(key)
    if missing_value(value):
        return _Phrase(f"{name} not set")
    kind = attribute_kind(name) if key.startswith("attr.") else None
    number = _num(values, key)
    if isinstance(value, bool) or (kind == "boolean" and number in (0.0, 1.0)):
        return _Phrase(f"{name} = {'yes' if value else 'no'}", "", key)
    if kind == "date" and number is not None:  # the features hold its age in days at the cutoff
        days = round(number)
        when = "today" if days == 0 else f"{abs(days):,} day{'s' if abs(days) != 1 else ''} " + (
            "ago" if days > 0 else "ahead")
        return _Phrase(f"{name}: {when}", "", key)
    return _Phrase(f"{name} = {value if number is None else _fmt(number, grouping=False)}", "", key)


_BEH = {  # beh.<kind>_<w>d: (group, what a count above zero says, what zero says)
    "page_pricing": ("pricing visits", "Visited pricing", "No pricing visits"),
    "page_demo": ("demo page visits", "Viewed the demo page", "No demo page visits"),
    "page_docs": ("doc visits", "Read the docs", "No doc visits"),
    "page_case_study": ("case study visits", "Read case studies", "No case study visits"),
    "page_blog": ("blog visits", "Read the blog", "No blog visits"),
    "page_home": ("home page visits", "Visited the home page", "No home page visits"),
    "page_careers": ("careers page visits", "Visited the careers page", "No careers page visits"),
    "page_other": ("other page visits", "Visited other pages", "No other page visits"),
    "page_view": ("page views", "Viewed pages", "No page views"),
    "email_open": ("email opens", "Opened emails", "No email opens"),
    "email_click": ("email clicks", "Clicked email links", "No email clicks"),
    "email_bounce": ("bounces", "Email bounced", "No email bounces"),
    "unsubscribe": ("unsubscribes", "Unsubscribed", "No unsubscribes"),
    "form_submit": ("form submissions", "Submitted forms", "No form submissions"),
    "demo_request": ("demo requests", "Requested a demo", "No demo requests"),
    "webinar": ("webinars", "Attended webinars", "No webinars attended"),
    "trial_event": ("trial activity", "Used the trial", "No trial activity"),
    "meeting": ("meetings", "Had meetings", "No meetings"),
    "call": ("calls", "Had calls", "No calls"),
}
_MENTIONS = {  # conv.<name>: (group, verb, what zero says)
    "budget": ("budget", "Mentioned budget", "No budget mentions"),
    "timeline": ("timeline", "Mentioned a timeline", "No timeline mentions"),
    "competitor": ("competitor", "Mentioned competitors", "No competitor mentions"),
    "objection": ("objections", "Raised objections", "No objections raised"),
    "next_step": ("next steps", "Discussed next steps", "No next steps discussed"),
}
_SENIORITY = {"c level": "C-level contact", "vp": "VP-level contact", "director": "Director-level contact",
              "manager": "Manager-level contact", "individual": "Individual contributor"}
_SOURCE = {"organic": "Came from organic search", "paid search": "Came from paid search",
           "webinar": "Came from a webinar", "referral": "Came from a referral",
           "outbound": "Came from outbound prospecting", "event": "Came from an event",
           "partner": "Came from a partner"}
def _feedback(values: Mapping[str, Any]) -> _Phrase:
    sign = _num(values, "rep.feedback")
    if sign is None:
        return _Phrase("No rep feedback", "", "rep.feedback")
    said = ("A rep marked it hotter than its score" if sign > 0 else
            "A rep marked it not a fit or said it has no budget" if sign < 0 else "A rep said it is a fit after all")
    return _Phrase(said, "", "rep.feedback")


_DESCRIBERS: dict[str, Callable[[Mapping[str, Any]], _Phrase]] = {
    **{g: partial(_windowed, prefix=f"beh.{kind}", verb=v, none=z) for kind, (g, v, z) in _BEH.items()},
    **{g: partial(_mentions, key=f"conv.{name}", verb=v, none=z) for name, (g, v, z) in _MENTIONS.items()},
    "email replies": _replies, "recent engagement": _engagement, "unanswered outreach": _outreach,
    "industry": partial(_category, key="firm.industry", label="Industry", phrases={}, plain=_industry),
    "country": partial(_category, key="firm.country", label="Country", phrases={}, plain=_country),
    "seniority": partial(_category, key="firm.seniority", label="Seniority", phrases=_SENIORITY),
    "lead source": partial(_category, key="firm.source", label="Lead source", phrases=_SOURCE),
    "company size": _size, "lead age": _age, "sentiment": _sentiment, "urgency": _urgency, "talk": _talk,
    "account engagement": _account, "rep feedback": _feedback,
}
_FIXED = {
    "firm.industry": "industry", "firm.employees": "company size", "firm.seniority": "seniority",
    "firm.source": "lead source", "firm.country": "country", "time.lead_age_days": "lead age",
    **dict.fromkeys(("time.days_since_reply", "time.days_to_first_reply", "time.reply_hours_median"), "email replies"),
    **dict.fromkeys(("time.days_since_activity", "time.velocity"), "recent engagement"),
    **dict.fromkeys(("neg.no_reply_21d", "neg.sent_21d"), "unanswered outreach"),
    **dict.fromkeys(("conv.sentiment_mean", "conv.sentiment_7d", "conv.sentiment_trend"), "sentiment"),
    **dict.fromkeys(("conv.inbound_30d", "conv.outbound_30d", "conv.talk_ratio", "conv.questions_30d"), "talk"),
    "conv.urgency_max_7d": "urgency",
    "conv.urgency_max_30d": "urgency", "rep.feedback": "rep feedback",
    **{f"conv.{name}": group for name, (group, _, _) in _MENTIONS.items()},
}
_SPECIAL_BEH = {"email_reply": "email replies", "email_sent": "unanswered outreach"}

GROUPS: tuple[str, ...] = tuple(_DESCRIBERS)
"""Every reason group with its own sentence (CRM attributes and unknown features add their own)."""


@lru_cache(maxsize=4096)
def group_of(feature: str) -> str:
    """The reason group a feature belongs to; related features share one and are summed into one reason."""
    family, _, name = feature.partition(".")
    if family == "beh" and (match := _WINDOWED.fullmatch(name)):
        kind = match.group(1)
        return _SPECIAL_BEH.get(kind) or (_BEH[kind][0] if kind in _BEH else kind.replace("_", " "))
    if family == "attr" and name:
        return f"{name}{_CRM}" if name in _DESCRIBERS or name.endswith(_CRM) else name
    if feature.startswith("time.count_"):
        return "recent engagement"
    if family == "acct" and name:
        return "account engagement"
    return _FIXED.get(feature, feature)


def _phrase(group: str, values: Mapping[str, Any]) -> _Phrase:
    describer = _DESCRIBERS.get(group)
    if describer is not None:
        return describer(values)
    name = group.removesuffix(_CRM)
    if group in values and f"attr.{name}" not in values:  # an unknown feature is its own group
        return _value(values, group, group)
    kind = "beh." + group.replace(" ", "_")
    if any(f"{kind}_{w}d" in values for w in _WINDOWS):
        return _windowed(values, kind, _cap(group), f"No {group}")
    return _value(values, f"attr.{name}", name)


Presence = Mapping[str, tuple[float, int, float, int]]  # feature → conversion rate and count with it, without it
GOOD_SIGNS = frozenset(  # groups whose words read as a good sign when present ("Visited pricing")
    {g for kind, (g, _, _) in _BEH.items() if kind not in ("email_bounce", "unsubscribe", "page_careers")}
    | {g for name, (g, _, _) in _MENTIONS.items() if name not in ("objection", "competitor")}
    | {"email replies", "urgency", "talk", "account engagement", "recent engagement"})
_PRESENT_BY = {"recent engagement": "time.count_7d"}  # what "present" means where the sentence leads with another value
_PRESENT_AT = {"urgency": URGENT}  # the level from which a value reads as a good sign (else above zero)


def describe(group: str, values: Mapping[str, Any], contribution: float = 0.0, presence: Presence | None = None) -> str:
    """One sentence for a reason group, written with this lead's values (feature name → value, NaN when missing).
    When the sign of its `contribution` is not the one its words suggest (a visit lowering the score, no visits
    raising it), the sentence says why, with the conversion rates of the training leads in `presence`."""
    phrase = _phrase(group, values)
    return phrase.head + phrase.detail + _surprise(group, phrase, values, contribution, presence or {})


def _surprise(group: str, phrase: _Phrase, values: Mapping[str, Any], contribution: float,
              presence: Presence) -> str:
    key = _PRESENT_BY.get(group, phrase.key)
    value = _num(values, key) if key else None
    if group not in GOOD_SIGNS or value is None or value < 0 or not contribution:
        return ""
    present = value >= _PRESENT_AT[group] if group in _PRESENT_AT else value > 0
    if present == (contribution > 0) or (not present and value > 0):  # as its words suggest, or in between
        return ""
    rates = presence.get(key or "")
    if present:  # yet lowering
        if rates and rates[0] < rates[2]:
            return (f" — in your past leads, those with {group} converted less often ({percent(rates[0])} vs "
                    f"{percent(rates[2])} without)")
        return " — usually a good sign, but with this lead's other signals the model counts it against"
    if rates and rates[2] > rates[0]:  # absent, yet raising
        return (f" — in your past leads, those without {group} converted more often ({percent(rates[2])} vs "
                f"{percent(rates[0])} with)")
    return " — not a good sign on its own, but with this lead's other signals the model counts it in favour"


def percent(rate: float) -> str:
    """34%, or 2.5% below ten per cent (whole points would round small rates to nothing)."""
    return f"{rate:.0%}" if rate >= 0.1 or rate == 0 else f"{rate:.1%}"


@lru_cache(maxsize=64)
def _layout(features: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Each feature's group (bias gets "") and each group's features; leads share a few column sets."""
    groups = tuple("" if feature == BIAS else group_of(feature) for feature in features)
    members: dict[str, list[str]] = {}
    for feature, group in zip(features, groups, strict=True):
        members.setdefault(group, []).append(feature)
    return groups, {group: tuple(names) for group, names in members.items() if group}


def _totals(contributions: Mapping[str, float]) -> tuple[dict[str, float], dict[str, tuple[str, ...]]]:
    groups, members = _layout(tuple(contributions))
    totals = dict.fromkeys(members, 0.0)
    for group, contribution in zip(groups, contributions.values(), strict=True):
        if group:
            totals[group] += float(contribution)
    return totals, members


def reasons(
    contributions: Mapping[str, float], values: Mapping[str, Any], *, top: int = 3, min_abs: float = 0.0,
    presence: Presence | None = None,
) -> tuple[list[Reason], list[Reason]]:
    """The `top` groups pushing the score up (biggest first) and down (most negative first)."""
    totals, members = _totals(contributions)
    kept = [(group, c) for group, c in totals.items() if abs(c) > min_abs]
    up = sorted((item for item in kept if item[1] > 0), key=lambda item: -item[1])[:top]
    down = sorted((item for item in kept if item[1] < 0), key=lambda item: item[1])[:top]
    return ([Reason(describe(g, values, c, presence), c, g, members[g]) for g, c in up],
            [Reason(describe(g, values, c, presence), c, g, members[g]) for g, c in down])


def all_reasons(contributions: Mapping[str, float], values: Mapping[str, Any],
                presence: Presence | None = None) -> list[Reason]:
    """Every group's reason, largest |contribution| first."""
    totals, members = _totals(contributions)
    ordered = sorted(totals.items(), key=lambda item: -abs(item[1]))
    return [Reason(describe(g, values, c, presence), c, g, members[g]) for g, c in ordered]


def _versus(group: str, values_a: Mapping[str, Any], values_b: Mapping[str, Any], other: str) -> str:
    phrase = _phrase(group, values_a)
    if phrase.key is None:
        return phrase.head + phrase.detail
    number = _num(values_b, phrase.key)
    if number is None:
        theirs = _text(values_b, phrase.key) or "unknown"
    elif phrase.unit.startswith(" "):
        theirs = _fmt(number) + (phrase.unit.removesuffix("s") if number == 1 else phrase.unit)
    else:
        theirs = _fmt(number) + phrase.unit
    if phrase.head.endswith(")"):  # "Small company (120 employees; vs 4,500 employees for B)"
        return f"{phrase.head[:-1]}; vs {theirs} for {other})"
    return f"{phrase.head} (vs {theirs} for {other})"


def compare_reasons(
    contrib_a: Mapping[str, float],
    contrib_b: Mapping[str, float],
    values_a: Mapping[str, Any],
    values_b: Mapping[str, Any],
    *,
    top: int = 3,
    other: str = "B",
) -> list[Reason]:
    """Why lead A ranks above lead B (called `other` in the sentences): the `top` groups where A's contribution
    beats B's most."""
    totals_a, members_a = _totals(contrib_a)
    totals_b, members_b = _totals(contrib_b)
    groups = dict.fromkeys([*totals_a, *totals_b])
    gaps = {g: totals_a.get(g, 0.0) - totals_b.get(g, 0.0) for g in groups}
    best = sorted((g for g in groups if gaps[g] > 0), key=lambda g: -gaps[g])[:top]
    return [Reason(_versus(g, values_a, values_b, other), gaps[g], g,
                   tuple(dict.fromkeys([*members_a.get(g, ()), *members_b.get(g, ())]))) for g in best]


def format_contribution(c: float) -> str:
    """A signed contribution to two decimals with a real minus sign, e.g. "+0.84" or "−0.31"."""
    return f"{c:+.2f}".replace("-", "\u2212")


NEUTRAL_POINTS = 0.5  # a reason moving the score by less (under a point, rounded) is neutral: not listed


def effect_points(contribution: float, probability: float) -> float:
    """About how many probability points a contribution (in the probability's log-odds) moves a score: the
    probability as it is, minus the probability without that contribution, × 100."""
    p = min(max(probability, 1e-12), 1 - 1e-12)
    without = 1.0 / (1.0 + math.exp(-(math.log(p / (1 - p)) - contribution)))
    return 100.0 * (p - without)


def moves_the_score(contribution: float, probability: float) -> bool:
    """Whether a reason moves the score by a point or more (rounded) either way; below that it is neutral."""
    return abs(effect_points(contribution, probability)) >= NEUTRAL_POINTS


def format_effect(contribution: float, probability: float) -> str:
    """ "raises it ~12 pts", "lowers it ~3 pts", or "under 1 pt" for a reason that barely moves the score."""
    if not moves_the_score(contribution, probability):
        return "under 1 pt"
    points = effect_points(contribution, probability)
    return f"{'raises' if points > 0 else 'lowers'} it ~{abs(round(points))} pt{'s' if abs(round(points)) > 1 else ''}"


def strength(c: float) -> str:
    """"strong", "moderate" or "slight" by the size of a contribution."""
    size = abs(c)
    return "strong" if size >= 0.5 else "moderate" if size >= 0.2 else "slight"
