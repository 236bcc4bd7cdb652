import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from scoring.explain import (
    GROUPS,
    SHOWN,
    all_reasons,
    compare_reasons,
    describe,
    effect_points,
    format_contribution,
    format_effect,
    group_of,
    reasons,
    strength,
)

LEAD: dict[str, Any] = {
    "beh.page_pricing_7d": 3.0, "beh.page_pricing_30d": 5.0, "beh.page_pricing_90d": 5.0,
    "beh.email_reply_90d": 2.0, "time.days_since_reply": 3.0,
    "neg.no_reply_21d": 1.0, "neg.sent_21d": 4.0,
    "time.days_since_activity": 12.0, "time.count_7d": 6.0, "time.count_28d": 12.0,
    "firm.employees": 120.0, "firm.industry": "fintech", "firm.seniority": "vp", "firm.source": "referral",
    "acct.engaged_contacts_30d": 3.0, "beh.email_bounce_30d": 1.0,
}

KINDS = ("email_sent", "email_open", "email_click", "email_reply", "email_bounce", "unsubscribe", "form_submit",
         "demo_request", "webinar", "trial_event", "meeting", "call", "page_view", *(f"page_{page}" for page in (
             "pricing", "demo", "docs", "case_study", "blog", "home", "careers", "other")))
CONTRACT = [
    "firm.industry", "firm.employees", "firm.country", "firm.seniority", "firm.source",
    *(f"beh.{kind}_{w}d" for kind in KINDS for w in (7, 30, 90)),
    *(f"time.{name}" for name in ("days_since_activity", "days_since_reply", "count_7d", "count_28d", "velocity",
                                  "lead_age_days", "days_to_first_reply", "reply_hours_median")),
    "neg.no_reply_21d", "neg.sent_21d",
    *(f"conv.{name}" for name in ("inbound_30d", "outbound_30d", "talk_ratio", "questions_30d", "sentiment_mean",
                                  "sentiment_7d", "sentiment_trend", "urgency_max_7d", "budget", "timeline",
                                  "competitor", "objection", "next_step")),
    "acct.engaged_contacts_30d", "acct.seniorities_engaged_30d", "acct.activity_7d", "acct.activity_28d",
]


def test_every_contract_feature_has_a_described_group() -> None:
    assert {group_of(feature) for feature in CONTRACT} <= set(GROUPS)


@pytest.mark.parametrize(("feature", "group"), [
    ("beh.page_pricing_7d", "pricing visits"),
    ("beh.page_pricing_90d", "pricing visits"),
    ("beh.email_reply_30d", "email replies"),
    ("time.days_since_reply", "email replies"),
    ("time.reply_hours_median", "email replies"),
    ("time.count_28d", "recent engagement"),
    ("time.velocity", "recent engagement"),
    ("neg.no_reply_21d", "unanswered outreach"),
    ("beh.email_sent_7d", "unanswered outreach"),
    ("beh.email_bounce_90d", "bounces"),
    ("beh.page_case_study_30d", "case study visits"),
    ("beh.demo_request_7d", "demo requests"),
    ("firm.employees", "company size"),
    ("firm.source", "lead source"),
    ("conv.next_step", "next steps"),
    ("conv.talk_ratio", "talk"),
    ("acct.activity_28d", "account engagement"),
    ("attr.region", "region"),
    ("something.new", "something.new"),
])
def test_features_fall_into_their_reason_group(feature: str, group: str) -> None:
    assert group_of(feature) == group


def test_a_crm_attribute_named_like_a_built_in_group_keeps_its_own_group() -> None:
    assert group_of("attr.company size") != group_of("firm.employees")
    assert describe(group_of("attr.company size"), {"attr.company size": 120.0}) == "company size = 120"


def test_pricing_windows_are_summed_into_one_reason() -> None:
    contributions = {"beh.page_pricing_7d": 0.5, "beh.page_pricing_30d": 0.25, "beh.page_pricing_90d": 0.125}
    up, down = reasons(contributions, LEAD)
    assert len(up) == 1 and down == []
    assert up[0].group == "pricing visits"
    assert up[0].contribution == 0.875
    assert set(up[0].features) == set(contributions)


def test_the_sentence_uses_the_leads_own_values() -> None:
    assert describe("pricing visits", LEAD) == "Visited pricing 3× in the last 7 days (5× in 30 days)"
    assert describe("unanswered outreach", LEAD) == "No reply to 4 emails in 21 days"
    assert describe("email replies", LEAD) == "Replied to emails 2× in 90 days, last 3 days ago"
    assert describe("recent engagement", LEAD) == "Last engaged 12 days ago; 6 touches this week vs 2/week before"
    assert describe("company size", LEAD) == "Small company (120 employees)"
    assert describe("company size", {"firm.employees": 4500.0}) == "Company of 4,500 employees"
    assert describe("seniority", LEAD) == "VP-level contact"
    assert describe("lead source", LEAD) == "Came from a referral"
    assert describe("industry", LEAD) == "In the fintech industry"
    assert describe("country", {"firm.country": "BR"}) == "Based in Brazil"  # plain words, not "Country: BR"
    assert describe("country", {"firm.country": "GB"}) == "Based in the UK"
    assert describe("country", {"firm.country": "XQ"}) == "Based in XQ"  # a code nobody knows stays as stored
    assert describe("lead age", {"time.lead_age_days": 26.91}) == "Lead created 26 days ago"  # whole days
    replies = {"beh.email_reply_90d": 4.0, "time.days_since_reply": 2.4}
    assert describe("email replies", {**replies, "time.reply_hours_median": 50.21}) \
        == "Replied to emails 4× in 90 days, last 2 days ago; usually within 2 days"
    assert describe("email replies", {**replies, "time.reply_hours_median": 13.31}).endswith("within 13 hours")
    assert describe("email replies", {**replies, "time.reply_hours_median": 0.2}).endswith("within an hour")
    assert describe("bounces", LEAD).startswith("Email bounced")
    assert describe("account engagement", LEAD).startswith("3 other people at the account engaged in 30 days")


@pytest.mark.parametrize(("value", "text"), [
    (3.0, "plan = 3"), (2.5, "plan = 2.5"), (0.123456, "plan = 0.12"), (1234.5678, "plan = 1234.57"),
    ("enterprise", "plan = enterprise"), (True, "plan = yes"), (math.nan, "plan not set"),
])
def test_a_crm_attribute_reads_name_equals_value(value: Any, text: str) -> None:
    assert describe(group_of("attr.plan"), {"attr.plan": value}) == text


@pytest.mark.parametrize(("group", "values", "text"), [
    ("pricing visits", {"beh.page_pricing_7d": 0.0, "beh.page_pricing_90d": 0.0}, "No pricing visits in 90 days"),
    ("email replies", {"beh.email_reply_90d": 0.0, "time.days_since_reply": 90.0}, "No email replies in 90 days"),
    ("unanswered outreach", {"neg.sent_21d": 0.0, "neg.no_reply_21d": 0.0}, "No emails sent in 21 days"),
    ("bounces", {"beh.email_bounce_90d": 0.0}, "No email bounces in 90 days"),
    ("budget", {"conv.budget": 0.0}, "No budget mentions in conversations"),
    ("talk", {"conv.inbound_30d": 0.0, "conv.outbound_30d": 3.0},
     "No messages from the lead in 30 days (3 messages from the team)"),
    ("account engagement", {"acct.engaged_contacts_30d": 0.0}, "No one else at the account engaged in 30 days"),
])
def test_zero_counts_read_naturally(group: str, values: dict[str, Any], text: str) -> None:
    assert describe(group, values) == text


@pytest.mark.parametrize("missing", [math.nan, None, pd.NA, np.float32("nan")])
@pytest.mark.parametrize("group", GROUPS)
def test_describe_never_crashes_on_missing_values(group: str, missing: Any) -> None:
    assert describe(group, dict.fromkeys(CONTRACT, missing))
    assert describe(group, {})


def test_describe_never_crashes_when_one_value_is_missing_among_real_ones() -> None:
    lead = {**dict.fromkeys(CONTRACT, 2.0), "firm.industry": "saas", "firm.seniority": "manager"}
    for feature in CONTRACT:
        for group in GROUPS:
            assert describe(group, {**lead, feature: math.nan})


def test_reasons_split_by_sign_biggest_first() -> None:
    contributions = {
        "beh.page_pricing_7d": 0.3, "beh.email_reply_90d": 0.9, "firm.employees": 0.1,
        "neg.no_reply_21d": -0.2, "beh.email_bounce_30d": -0.7, "firm.seniority": -0.05,
    }
    up, down = reasons(contributions, LEAD, top=2)
    assert [r.group for r in up] == ["email replies", "pricing visits"]
    assert [r.group for r in down] == ["bounces", "unanswered outreach"]
    assert all(r.contribution > 0 for r in up) and all(r.contribution < 0 for r in down)


def test_bias_is_ignored() -> None:
    up, down = reasons({"bias": 5.0, "beh.page_pricing_7d": -0.4}, LEAD)
    assert up == []
    assert [r.group for r in down] == ["pricing visits"]
    assert all("bias" not in r.features for r in all_reasons({"bias": 5.0, "firm.employees": 0.1}, LEAD))


def test_groups_at_or_below_min_abs_are_dropped() -> None:
    up, down = reasons({"beh.page_pricing_7d": 0.1, "firm.employees": 0.0, "neg.sent_21d": -0.5}, LEAD, min_abs=0.1)
    assert up == []
    assert [r.group for r in down] == ["unanswered outreach"]


def test_all_reasons_lists_every_group_by_size() -> None:
    contributions = {"beh.page_pricing_7d": 0.2, "neg.sent_21d": -0.6, "firm.employees": 0.0, "bias": 1.0}
    assert [r.group for r in all_reasons(contributions, LEAD)] == ["unanswered outreach", "pricing visits",
                                                                   "company size"]


def test_compare_puts_the_group_where_a_beats_b_most_first() -> None:
    lead_b = {"beh.page_pricing_7d": 0.0, "beh.page_pricing_30d": 0.0, "firm.employees": 4500.0}
    contrib_a = {"beh.page_pricing_7d": 0.8, "firm.employees": 0.1, "neg.sent_21d": -0.3}
    contrib_b = {"beh.page_pricing_7d": -0.1, "firm.employees": 0.3, "neg.sent_21d": -0.4}
    why = compare_reasons(contrib_a, contrib_b, LEAD, lead_b)
    assert [r.group for r in why] == ["pricing visits", "unanswered outreach"]
    assert why[0].contribution == pytest.approx(0.9)
    assert why[0].text == "Visited pricing 3× in the last 7 days (vs 0× for B)"


@pytest.mark.parametrize(("c", "text", "size"), [
    (0.84, "+0.84", "strong"), (-0.31, "\u22120.31", "moderate"), (0.05, "+0.05", "slight"),
    (-0.5, "\u22120.50", "strong"),
])
def test_contributions_are_signed_and_sized(c: float, text: str, size: str) -> None:
    assert format_contribution(c) == text
    assert strength(c) == size


def test_reasons_from_a_real_model_add_up_to_its_margin() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "beh.page_pricing_7d": rng.poisson(1.0, 400).astype(float),
        "beh.email_reply_90d": rng.poisson(0.5, 400).astype(float),
        "neg.no_reply_21d": rng.integers(0, 2, 400).astype(float),
        "firm.employees": rng.lognormal(5, 1, 400),
    })
    signal = frame["beh.page_pricing_7d"] + frame["beh.email_reply_90d"] - frame["neg.no_reply_21d"]
    label = (signal + rng.normal(0, 0.5, 400) > 1).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(frame, label=label), 20)
    row = xgb.DMatrix(frame.iloc[[0]])
    contribs = booster.predict(row, pred_contribs=True)[0]
    margin = float(booster.predict(row, output_margin=True)[0])
    contributions = dict(zip([*frame.columns, "bias"], contribs.tolist(), strict=True))
    up, down = reasons(contributions, frame.iloc[0].to_dict())
    assert up or down
    total = sum(r.contribution for r in all_reasons(contributions, frame.iloc[0].to_dict()))
    assert total + contributions["bias"] == pytest.approx(margin, abs=1e-4)


def test_a_feature_as_shown_gives_the_very_sentence_its_raw_value_gives() -> None:
    pick = np.random.default_rng(5)
    edges = [0.0, 0.3, 0.5, 0.99, 1.0, 1.49, 1.5, 2.5, 23.5, 47.4, 47.5, 47.6, 48.0, 59.9, 60.0, 89.99, 90.0, 91.5]
    for feature, shown in SHOWN.items():
        raw = np.concatenate([edges, pick.uniform(0, 200, 300), [np.nan]])
        group = group_of(feature)
        for value, as_shown in zip(raw.tolist(), shown(raw).tolist(), strict=True):
            lead = {**LEAD, "beh.email_reply_90d": 2.0, feature: value}
            assert describe(group, lead) == describe(group, {**lead, feature: as_shown}), (feature, value)


def test_crm_dates_read_as_ages_and_booleans_as_yes_or_no(monkeypatch: pytest.MonkeyPatch) -> None:
    from scoring import features

    monkeypatch.setitem(features.ATTRIBUTE_KINDS, "Created Date", "date")
    monkeypatch.setitem(features.ATTRIBUTE_KINDS, "Newsletter", "boolean")
    assert describe("Created Date", {"attr.Created Date": 41.4}) == "Created Date: 41 days ago"
    assert describe("Created Date", {"attr.Created Date": 1.0}) == "Created Date: 1 day ago"
    assert describe("Newsletter", {"attr.Newsletter": 1.0}) == "Newsletter = yes"
    assert describe("Newsletter", {"attr.Newsletter": 0.0}) == "Newsletter = no"
    monkeypatch.setitem(features.ATTRIBUTE_KINDS, "Score", "number")
    assert describe("Score", {"attr.Score": 1.0}) == "Score = 1"


@pytest.mark.parametrize(("contribution", "probability", "text"), [
    (0.97, 0.67, "raises it ~24 pts"),  # 67% with it, 43% without
    (-0.5, 0.5, "lowers it ~12 pts"),  # 50% with it, 62% without
    (0.01, 0.67, "under 1 pt"), (-0.03, 0.2, "under 1 pt"), (-0.04, 0.67, "lowers it ~1 pt"),
    (0.05, 0.5, "raises it ~1 pt"),
])
def test_an_effect_is_said_in_probability_points_with_and_without_the_reason(
    contribution: float, probability: float, text: str,
) -> None:
    assert format_effect(contribution, probability) == text
    without = 1 / (1 + math.exp(-(math.log(probability / (1 - probability)) - contribution)))
    assert effect_points(contribution, probability) == pytest.approx(100 * (probability - without))


def test_a_comparison_names_the_other_lead() -> None:
    lead_b = {"beh.page_pricing_7d": 0.0, "beh.page_pricing_30d": 0.0}
    why = compare_reasons({"beh.page_pricing_7d": 0.8}, {"beh.page_pricing_7d": -0.1}, LEAD, lead_b, other="Yuki Doe")
    assert why[0].text == "Visited pricing 3× in the last 7 days (vs 0× for Yuki Doe)"


HOME = {"beh.page_home_7d": 2.0, "beh.page_home_30d": 2.0, "beh.page_home_90d": 2.0}
NO_PRICING = {"beh.page_pricing_7d": 0.0, "beh.page_pricing_30d": 0.0, "beh.page_pricing_90d": 0.0}
RATES = {"beh.page_home_7d": (0.05, 300, 0.09, 700), "beh.page_pricing_90d": (0.04, 200, 0.1, 800)}


def test_a_good_sign_counting_against_says_why_with_the_past_leads_rates() -> None:
    assert describe("home page visits", HOME, 0.2, RATES) == "Visited the home page 2× in the last 7 days"
    assert describe("home page visits", HOME, -0.2, RATES) == (
        "Visited the home page 2× in the last 7 days — in your past leads, those with home page visits converted "
        "less often (5.0% vs 9.0% without)")
    assert describe("pricing visits", NO_PRICING, 0.2, RATES) == (
        "No pricing visits in 90 days — in your past leads, those without pricing visits converted more often "
        "(10% vs 4.0% with)")
    # the rates do not back the sign (an interaction the trees learned): said so, never a made-up rate
    assert describe("home page visits", HOME, -0.2, {}).endswith(
        "usually a good sign, but with this lead's other signals the model counts it against")
    assert describe("home page visits", HOME, -0.2, {"beh.page_home_7d": (0.2, 300, 0.1, 700)}).endswith(
        "the model counts it against")
    # signs as the words suggest need no note; nor do bad signs (objections) or categories
    assert describe("pricing visits", NO_PRICING, -0.2, RATES) == "No pricing visits in 90 days"
    assert describe("objections", {"conv.objection": 2.0}, -0.2, RATES) == "Raised objections 2× in conversations"
    assert describe("country", {"firm.country": "BR"}, -0.2, RATES) == "Based in Brazil"


@pytest.mark.parametrize(("level", "text"), [
    (0.95, "Sounded urgent in the last 30 days (urgency 0.95)"),
    (0.5, "Sounded somewhat urgent in the last 30 days (urgency 0.5)"),
    (0.04, "Did not sound urgent in the last 30 days (urgency 0.04)"),
])
def test_urgency_is_worded_by_its_level_so_a_low_reading_against_reads_as_such(level: float, text: str) -> None:
    assert describe("urgency", {"conv.urgency_max_30d": level}, -0.1, {}) == text + (
        " — usually a good sign, but with this lead's other signals the model counts it against" if level > 0.7 else "")


def test_a_trained_model_keeps_the_conversion_rates_with_and_without_each_signal() -> None:
    from scoring.model import LeadScorer

    rng = np.random.default_rng(7)
    visits = rng.poisson(0.7, 2000).astype(float)
    y = (rng.random(2000) < np.where(visits > 0, 0.05, 0.2)).astype(int)
    X = pd.DataFrame({"beh.page_home_7d": visits, "noise": rng.normal(size=2000)})
    scorer = LeadScorer(contest=False, refit=False).fit(X, y)
    with_, n_with, without, n_without = LeadScorer.from_bytes(scorer.to_bytes()).presence_["beh.page_home_7d"]
    assert n_with == int((visits > 0).sum()) and n_without == int((visits == 0).sum())
    assert with_ == pytest.approx(y[visits > 0].mean(), abs=1e-4)
    assert without == pytest.approx(y[visits == 0].mean(), abs=1e-4)
    assert "noise" not in scorer.presence_  # never zero: no "with" and "without" to compare
