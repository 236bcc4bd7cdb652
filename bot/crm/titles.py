"""A contact's seniority from its job title: CRMs keep the title (HubSpot's `jobtitle`, Salesforce's `Title`), the
model reads the level (`firm.seniority`: c_level, vp, director, manager, individual, as a CSV import gives it).

Words, not a list of titles: "Chief Revenue Officer", "Co-Founder & CEO", "SVP, Sales", "Head of Growth", "Sr.
Engineering Manager". The highest level a title names wins ("VP & Head of Sales" is vp); a title naming none is an
individual contributor's; no title, no level.
"""

from __future__ import annotations

import re

LEVELS = (  # highest first; each title's words are matched whole, in any case
    ("c_level", r"chief|c[efotmirpsd]o|ciso|cxo|co-?founder|founder|owner|president|managing director|"
                r"general manager|executive director|geschäftsführer|directeur général|pdg"),
    ("vp", r"vp|svp|evp|avp|vice[- ]president|vice pres\.?"),
    ("director", r"director|head|directeur|direktor|leiter|directora?"),
    ("manager", r"manager|mgr|lead|supervisor|team ?lead|responsable|gerente"),
)
_VICE = re.compile(r"\bvice[- ]president\b", re.IGNORECASE)
_PATTERNS = [(level, re.compile(rf"(?<![\w-])(?:{words})(?![\w-])", re.IGNORECASE)) for level, words in LEVELS]


def seniority(title: str | None) -> str | None:
    """The level a job title names: c_level, vp, director, manager, or individual (any other title); None without
    a title."""
    if title is None or not title.strip():
        return None
    text = _VICE.sub("vp", title)  # "Vice President" is a vp, not a president
    for level, pattern in _PATTERNS:
        if pattern.search(text):
            return level
    return "individual"
