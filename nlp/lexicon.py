"""Word lists and token patterns for the rule-based signal reader in `nlp/spans.py`.

A rule name is "kind:label", or several joined by "+" when one match feeds several kinds ("ASAP" is a timeline and
an urgency cue). A leading "?" marks names that are ordinary words too (Close, IT): they count only mid-sentence and
when the text is not shouting. A leading "^" marks time words that count only after "by"/"before" ("by March").
Phrases match on spaCy's NORM, so "can't", "cant" and "cannot" are one phrase and case does not matter.
"""

from __future__ import annotations

from itertools import product
from typing import Any

Pattern = list[dict[str, Any]]


def _w(text: str) -> list[str]:
    return text.split()


def _p(text: str) -> list[str]:
    return [phrase.strip() for phrase in text.split("|") if phrase.strip()]


def _combos(*parts: str) -> list[str]:
    """One choice from each "|"-separated part ("" skips it): _combos("|next", "week|month") -> week, month, next …"""
    return [" ".join(word for word in combo if word) for combo in product(*(part.split("|") for part in parts))]


def _in(words: list[str], op: str | None = None) -> dict[str, Any]:
    return {"LOWER": {"IN": words}, **({"OP": op} if op else {})}


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


NEGATION_CUES = _w("no not never without none nothing neither nor nobody")  # NORM: n't, nt and not are all "not"
HEDGE_CUES = _w("maybe perhaps possibly might hypothetically")  # "maybe in Q3": not a firm signal, read as denied
# between a signal and a later "not" only these may stand for the "not" to deny it: "budget is not approved",
# "HubSpot isn't an option", "the timeline has not been set"
AUXILIARIES = _w("is are was were be been being has have had will would do does did 's 're still yet currently really")
GREETINGS = _w("happy good great lovely nice enjoy wonderful relaxing blessed")  # "Happy Monday!" is no date
CLAUSE_BREAKS = _w(". ! ? ; : , … ... but however although though")  # negation does not reach across these
BY_WORDS = _w("by before until till til due")  # and "no later than"
# "the 2nd" is a day of the month, but not in "the 2nd floor" or "the 3rd time"
NOT_DAYS_AFTER_ORDINAL = _w("floor floors place time times round rounds half row page step phase option version "
                            "item point person one ones call meeting attempt try reminder email grade level")

WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|tues|thurs"
MONTHS = _w("january february march april may june july august september october november december "
            "jan feb mar apr jun jul aug sep sept oct nov dec")
CURRENCY_SYMBOLS = list("$¢£¤¥֏؋߾߿৲৳৻૱௹฿៛₠₡₢₣₤₥₦₧₨₩₪₫€₭₮₯₰₱₲₳₴₵₶₷₸₹₺₻₼₽₾₿⃀꠸﷼﹩＄￠￡￥￦𑿝𑿞𑿟𑿠𞋿𞲰")  # all of Unicode "Sc"
CURRENCY_CODES = _w("usd eur gbp cad aud chf inr jpy sgd nzd sek nok dkk us$ c$ a$ au$ ca$ r$ rs")
UNITS = _w("day days week weeks month months year years quarter quarters")
FUNCTIONS = ("sales|marketing|engineering|finance|operations|ops|product|it|revenue|procurement|security|growth|"
             "customer success|people|hr|technology|tech|data|legal|partnerships|business development|strategy|"
             "design|infrastructure|research|support|services|purchasing|digital|commercial|sales operations|"
             "sales ops|revenue operations|revops|information technology|information security|customer experience")
_VP = "vp|svp|evp|avp|vice president"

COMPETITORS = {  # canonical name -> aliases, matched case-insensitively
    "Salesforce": "salesforce|salesforce.com|sfdc|sales cloud", "HubSpot": "hubspot|hub spot|hubspot crm",
    "Pipedrive": "pipedrive", "Zoho": "zoho|zoho crm", "Outreach": "outreach.io", "Salesloft": "salesloft|sales loft",
    "Gong": "gong.io", "Freshsales": "freshsales|freshworks|freshworks crm", "Close": "close.com|close.io|close crm",
    "Copper": "copper crm|copper.com", "Microsoft Dynamics": "microsoft dynamics|ms dynamics|dynamics 365|dynamics crm",
    "Monday.com": "monday.com|monday crm|monday sales crm", "Apollo": "apollo.io", "Insightly": "insightly",
    "SugarCRM": "sugarcrm|sugar crm", "Attio": "attio", "Keap": "keap|infusionsoft", "Clari": "clari",
    "ActiveCampaign": "activecampaign|active campaign", "Zendesk Sell": "zendesk sell", "Nutshell": "nutshell crm",
}
CASED_COMPETITORS = {  # spellings that are ordinary words too, so they count only capitalised and mid-sentence
    "Outreach": "Outreach", "Gong": "Gong", "Close": "Close", "Copper": "Copper", "Microsoft Dynamics": "Dynamics",
    "Apollo": "Apollo", "Nutshell": "Nutshell",
}

_END = "|the", "end of"
PHRASES: dict[str, list[str]] = {
    "budget:talk": _p("budget|budgets|budgeted|budgeting|funding|funded|funding approved|signed off|sign-off|allocated|"
                      "allocate|price range|pricing range|we can spend|can spend|spend up to|we can spend up to|"
                      "can spend up to|willing to spend|willing to pay|purchase order"),
    "timeline:asap+urgency_cues:asap": _p("asap|a.s.a.p|as soon as possible|as soon as we can|as soon as you can"),
    "timeline:date+urgency_cues:today": _p("today"),
    "timeline:date+urgency_cues:tonight": _p("tonight"),
    "timeline:date+urgency_cues:tomorrow": _p("tomorrow|tmrw"),
    "timeline:date": _combos("|this|next|coming", WEEKDAYS, "|morning|afternoon|evening|night|eod")
    + [f"the {_ordinal(n)}" for n in range(1, 32)],
    "^timeline:date": _combos(*_END, "the", "day"),  # "at the end of the day" is an idiom
    "timeline:period+urgency_cues:this_week": _p("this week"),
    "timeline:period": _combos("|later|early|mid|late", "this|next|coming|following",
                               "week|weekend|month|year|sprint|fiscal year"),
    "^timeline:period": MONTHS,
    "timeline:quarter": _combos("eoq|q1|q2|q3|q4") + _combos("q1|q2|q3|q4", "2024|2025|2026|2027|2028")
    + _combos(*_END, "the|this|", "quarter") + _combos(*_END, "q1|q2|q3|q4")
    + _combos("this|next|last|coming", "quarter"),
    "timeline:deadline+urgency_cues:eod": _p("eod|cob|eob|end of day|end of business"),
    "timeline:deadline+urgency_cues:this_week": _p("eow") + _combos(*_END, "the|this|", "week"),
    "timeline:deadline": _p("eom|eoy") + _combos(*_END, "the|this|", "month|year|fiscal year"),
    **{f"competitors:{name}": _p(aliases) for name, aliases in COMPETITORS.items()},
    "decision_roles:ceo": _p("ceo|chief executive|chief executive officer"),
    "decision_roles:cfo": _p("cfo|chief financial officer"),
    "decision_roles:cto": _p("cto|chief technology officer|chief technical officer"),
    "decision_roles:coo": _p("coo|chief operating officer"),
    "decision_roles:cio": _p("cio|chief information officer"),
    "decision_roles:cmo": _p("cmo|chief marketing officer"),
    "decision_roles:cro": _p("cro|chief revenue officer"),
    "decision_roles:ciso": _p("ciso|chief information security officer"),
    "decision_roles:founder": _p("founder|founders|co-founder|cofounder"),
    "decision_roles:president": _p("president"),
    "decision_roles:procurement": _p("procurement|procurement team|purchasing team|purchasing department"),
    "decision_roles:legal": _p("legal|legal team|legal department|general counsel|our lawyers|lawyers|counsel"),
    "decision_roles:finance": _p("finance team|finance department|finance dept|finance folks|accounting team|"
                                 "controller"),
    "decision_roles:security": _p("security team|security department|infosec|infosec team|security review|"
                                  "security officer"),
    "decision_roles:vp": _combos(_VP + "|vps") + _combos(_VP, "|of|,", FUNCTIONS),
    "decision_roles:head": _combos("head", "of", FUNCTIONS),
    "decision_roles:director": _combos("|" + FUNCTIONS, "director|directors") + _combos("director", "of|,", FUNCTIONS),
    "decision_roles:boss": _combos("my|our|the|her|his|their", "boss|manager|supervisor"),
    "decision_roles:board": _combos("the|our|their", "board|board of directors"),
    "decision_roles:decision_maker": _p("decision maker|decision makers|decision-maker|decision-makers|economic buyer"),
    "objections:price": _p("too expensive|too pricey|too costly|too steep|too much money|too much for us|a bit much|"
                           "way too much|costs too much|cost too much|expensive|pricey|overpriced|over budget|"
                           "over our budget|out of budget|out of our budget|outside our budget|beyond our budget|"
                           "above our budget|can't afford|cheaper|cheaper option|lower price|cheaper alternative"),
    "objections:timing": _p("not the right time|not a good time|bad time|bad timing|wrong time|next year|hiring freeze|"
                            "budget freeze|spending freeze|freeze on spending|too busy|swamped|slammed|not now|"
                            "not right now|maybe later|after the holidays|too early|not ready|revisit next year|"
                            "later in the year"),
    "objections:authority": _p("not my call|not my decision|not up to me|not the decision maker|"
                               "not the decision-maker|above my pay grade|need approval|need sign-off|need sign off|"
                               "need buy-in|get approval|don't make the decision|i don't decide|not in charge"),
    "objections:need": _p("don't need|not sure we need|not sure we need it|not sure we need this|no need|"
                          "not a priority|low priority|not interested|happy with what we have|happy with our current|"
                          "happy with the current|satisfied with what we have|fine with what we have|"
                          "already have a solution|already have something|already use|already using|"
                          "don't see the value|don't see the need|no use for|not needed|not for us|not a fit|"
                          "not a good fit"),
    "next_steps:call": _p("give me a call|give us a call|call me|call you|call us"),
    "next_steps:meeting": _combos("let's|lets", "talk|chat|meet|connect|sync"),
    "next_steps:loop_in": _p("cc|cc'd|cc’d|cc'ing|cc’ing|copying in|introduce you to|connect you with|"
                             "put you in touch"),
    "next_steps:sign": _p("sign|signing|sign off|countersign|docusign|e-sign|esign|signature|signatures|"
                          "sign the contract|sign the agreement"),
    "next_steps:trial": _p("trial|trials|free trial|pilot|poc|proof of concept|proof-of-concept|sign up|signup|"
                           "sign-up|test drive"),
    "next_steps:follow_up": _p("follow up|follow-up|followup|following up|circle back|touch base|check back|check in|"
                               "get back to you|reconnect"),
    "urgency_cues:urgent": _p("urgent|urgently|urgency|super urgent"),
    "urgency_cues:right_away": _p("right away|straight away"),
    "urgency_cues:immediately": _p("immediately|immediate"),
    "urgency_cues:blocked": _p("blocked|blocking|blocker|blockers|stuck"),
    "urgency_cues:time_sensitive": _p("time-sensitive|time sensitive|time-critical|time critical"),
    "urgency_cues:deadline": _p("deadline|deadlines"),
    "urgency_cues:cant_wait": _p("can't wait|can't afford to wait"),
    "urgency_cues:rush": _p("rush|rushed|hurry|in a hurry"),
    "urgency_cues:critical": _p("critical"),
    "urgency_cues:emergency": _p("emergency"),
    "urgency_cues:priority": _p("top priority|high priority|highest priority|p0"),
    "urgency_cues:need_live": _combos("need|needs|needed|want|have|has", "|it|this|that|everything|us|to", "|be|go|get",
                                      "live"),
}
CASED_PHRASES: dict[str, list[str]] = {  # matched on exact spelling
    **{f"?competitors:{name}": [spelling] for name, spelling in CASED_COMPETITORS.items()},
    "?decision_roles:it": _combos("IT", "|team|department|dept|folks|guys|people|admin|admins"),
}
SHAPE_PHRASES: dict[str, list[str]] = {  # matched on token shape: any "2025-03-15" stands for every ISO date
    "timeline:date": [f"2025-{m}-{d}" for m in ("3", "03") for d in ("5", "05")]
    + [f"{a}{sep}{b}{sep}{year}" for a in ("3", "03") for b in ("5", "15") for sep in "/." for year in ("25", "2025")],
    "^timeline:date": ["3/5", "3/15", "03/5", "03/15"],
}

# Token patterns, in groups. A group's Matcher runs only on texts holding a word from each of its anchor lists, so
# every pattern needs, for each list, a required token whose words all come from it (a test checks this).
_CUR = {"IS_CURRENCY": True}
_NUM = {"LIKE_NUM": True}
_BARE_MULT = _w("k bn thousand million billion grand")
_MULT = _in([*_BARE_MULT, "m", "mm", "b"], "?")
_UNIT_AFTER = _w("dollars dollar euros euro pounds bucks usd eur gbp cad aud chf")
_DASH = {"ORTH": {"IN": ["-", "–", "to"]}}
_HEADS: list[Pattern] = [[_CUR, _NUM], [_in(CURRENCY_CODES), _NUM], [_in(CURRENCY_CODES), _CUR, _NUM]]
_DAY = {"SHAPE": {"IN": ["d", "dd", "dxx", "ddxx"]}}
_YEAR = {"SHAPE": "dddd"}
_MONTH = _in(MONTHS)
_WITHIN_WORDS = _w("within in over next coming following")
_WITHIN = [_in(_w("within in over")), _in(["the"], "?"), _in(_w("next coming following"), "?")]
_BUSINESS = _in(_w("business working calendar"), "?")
_QUANT = _in(_w("a an few couple several of"), "{1,3}")
_PRICE, _PRICEY = _w("price prices pricing cost costs quote"), _w("high steep expensive pricey")
_CHECK = _w("check run clear discuss talk confirm")
_AUTHORITY = _w("boss manager team cfo ceo cto coo cio board partner partners director vp legal finance procurement "
                "supervisor lead founder cofounder co-founder management leadership higher-ups wife husband it")
_SEND = _w("send sending sends email emailing forward forwarding share sharing shoot get getting")
_SEND_FILL = _in(_w("over across me us you him her them the a an our your final updated signed revised draft through "
                    "along copy of new formal"), "{0,3}")
_CONTRACTS = _w("contract contracts agreement agreements msa sow paperwork redlines dpa nda")
_PROPOSALS = _w("proposal proposals quote quotes quotation pricing estimate")
_MEET = _w("set setting schedule scheduling book booking arrange arranging organize organise plan planning hop jump "
           "get grab have do run line lock pencil put find")
_MEET_FILL = _in(_w("up on in a an the another quick short brief follow some time for us intro introductory technical "
                    "final next zoom teams video phone 10 15 20 30 45 60 min mins minute minutes hour half - product "
                    "live custom proper deeper"), "{0,5}")
_CALLS, _DEMOS = _w("call calls"), _w("demo demos walkthrough")
_MEETINGS = _w("meeting meetings sync chat session catchup")
_LOOP, _BRING = _w("loop looping looped loops"), _w("bring bringing brought pull pulling")
_PULL_FILL = _in([*_w("him her them my our the your me us"), *_AUTHORITY], "{0,3}")

GROUPS: dict[str, tuple[list[list[str]], dict[str, list[Pattern]]]] = {  # name -> (anchor lists, rule -> patterns)
    "amount": ([[*CURRENCY_SYMBOLS, *CURRENCY_CODES, *_BARE_MULT, *_UNIT_AFTER]], {"budget:amount": [
        *[[*head, _MULT] for head in _HEADS],
        *[[*head, _MULT, _DASH, {**_CUR, "OP": "?"}, _NUM, _MULT] for head in _HEADS],
        [_NUM, _MULT, _in(_UNIT_AFTER)], [_NUM, _MULT, _DASH, _NUM, _MULT, _in(_UNIT_AFTER)],
        [_NUM, _in(_BARE_MULT)], [_NUM, _DASH, _NUM, _in(_BARE_MULT)],
    ]}),
    "date": ([MONTHS], {"timeline:date": [
        [_MONTH, _DAY], [_MONTH, _DAY, _YEAR], [_MONTH, _DAY, {"ORTH": ","}, _YEAR],
        [_DAY, _in(["of"], "?"), _MONTH], [_DAY, _in(["of"], "?"), _MONTH, _YEAR],
        [{"LOWER": "the"}, {"SHAPE": {"IN": ["dxx", "ddxx"]}}, {"LOWER": "of"}, _MONTH],
    ]}),
    "period": ([UNITS, _WITHIN_WORDS], {"timeline:period": [
        [*_WITHIN, _NUM, _BUSINESS, _in(UNITS)], [*_WITHIN, _QUANT, _BUSINESS, _in(UNITS)],
        [{"LOWER": "within"}, _in(UNITS)], [_in(["the"], "?"), _in(_w("next coming")), _NUM, _in(UNITS)],
        [_in(_w("next coming")), _QUANT, _in(UNITS)],
    ]}),
    "price": ([_PRICE, _PRICEY], {"objections:price": [
        [_in(_PRICE), _in(_w("is are 's seems seem feels feel looks"), "?"),
         _in(_w("a bit little way too very quite pretty really so rather kinda"), "{1,3}"), _in(_PRICEY)],
    ]}),
    "authority": ([_CHECK, _AUTHORITY], {"objections:authority": [
        [_in(_w("need needs have has got 'll will must gotta 'd would"), "?"), _in(["to"], "?"), _in(_CHECK),
         _in(_w("it this that"), "?"), _in(_w("with by past to over")), _in(_w("my our the"), "?"), _in(_AUTHORITY)],
    ]}),
    "send": ([_SEND, [*_CONTRACTS, *_PROPOSALS, "invite", "invitation"]], {
        "next_steps:send_contract": [[_in(_SEND), _SEND_FILL, _in(_CONTRACTS)]],
        "next_steps:send_proposal": [[_in(_SEND), _SEND_FILL, _in(_PROPOSALS)]],
        "next_steps:meeting": [[_in(_SEND), _SEND_FILL, _in(_w("invite invitation"))]],
    }),
    "meet": ([_MEET, [*_CALLS, *_DEMOS, *_MEETINGS]], {
        "next_steps:call": [[_in(_MEET), _MEET_FILL, _in(_CALLS)]],
        "next_steps:demo": [[_in(_MEET), _MEET_FILL, _in(_DEMOS)]],
        "next_steps:meeting": [[_in(_MEET), _MEET_FILL, _in(_MEETINGS)]],
    }),
    "loop": ([[*_LOOP, *_BRING], ["in"]], {"next_steps:loop_in": [
        [_in(_LOOP), {"IS_PUNCT": False, "OP": "{0,3}"}, {"LOWER": "in"}], [_in(_BRING), _PULL_FILL, {"LOWER": "in"}],
    ]}),
}
