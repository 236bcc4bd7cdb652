"""The demo's cast: a sales team, companies and the people at them."""

from __future__ import annotations

import random
from dataclasses import dataclass

INDUSTRIES = ("fintech", "software", "healthcare", "retail", "manufacturing", "logistics", "education", "media",
              "insurance", "energy")
COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "NL", "CA", "AU", "ES", "BR", "IN")
SENIORITY_TITLES = {
    "c_level": ("CEO", "CFO", "CTO", "COO", "Chief Revenue Officer"),
    "vp": ("VP Sales", "VP Marketing", "VP Engineering", "VP Operations"),
    "director": ("Director of Sales", "Director of IT", "Head of Growth", "Director of Finance"),
    "manager": ("Sales Manager", "Marketing Manager", "IT Manager", "Procurement Manager"),
    "individual": ("Account Executive", "Analyst", "Engineer", "Marketing Specialist", "Sales Ops Specialist"),
}
SENIORITY_WEIGHTS = (0.08, 0.14, 0.22, 0.3, 0.26)
SOURCES = ("organic", "paid_search", "webinar", "referral", "outbound", "event", "partner")
SOURCE_WEIGHTS = (0.25, 0.2, 0.12, 0.08, 0.2, 0.08, 0.07)
FIRST = ("Jane", "John", "Maria", "Wei", "Aisha", "Carlos", "Priya", "Tom", "Sofia", "Liam", "Noah", "Emma", "Olivia",
         "Lucas", "Mia", "Ethan", "Chloe", "Mateo", "Yuki", "Fatima", "Omar", "Anna", "David", "Elena", "Jonas",
         "Sara", "Ravi", "Grace", "Hugo", "Nina", "Leo", "Zoe", "Ivan", "Maya", "Kofi", "Lena", "Diego", "Ines")
LAST = ("Doe", "Smith", "Garcia", "Chen", "Khan", "Silva", "Patel", "Brown", "Rossi", "Murphy", "Nguyen", "Müller",
        "Kim", "Johnson", "Martin", "Lopez", "Schmidt", "Novak", "Okafor", "Tanaka", "Dubois", "Jensen", "Costa",
        "Ivanova", "Larsen", "Moreau", "Ali", "Santos", "Weber", "Fischer", "Kowalski", "Hughes", "Reyes", "Park")
SYLLABLES = ("ac", "me", "glo", "bex", "ini", "tech", "vor", "lux", "na", "tri", "on", "zen", "qua", "pix", "sol",
             "ar", "ka", "dyn", "ox", "ver", "io", "sy", "cor", "bri", "flo", "ne", "ta", "mo", "ra", "xi")
SUFFIXES = ("Inc", "Labs", "Corp", "Group", "Systems", "Health", "Pay", "Logistics", "Retail", "Energy", "Media",
            "Software", "AG", "Ltd", "GmbH", "Co")


@dataclass(frozen=True)
class DemoRep:
    """A member of the demo sales team."""

    name: str
    role: str
    email: str
    slack_user_id: str
    whatsapp: str
    timezone: str


@dataclass(frozen=True)
class Company:
    """A demo account."""

    name: str
    domain: str
    industry: str
    employees: int
    country: str
    intent: float


@dataclass(frozen=True)
class Person:
    """A demo lead with their hidden buying intent."""

    external_id: str
    name: str
    email: str
    title: str
    seniority: str
    source: str
    company: Company
    intent: float


def make_reps() -> list[DemoRep]:
    """Six reps (two senior, two BDRs) and a sales manager, with Slack ids and WhatsApp numbers the demo documents."""
    team = [
        ("Alex Rivera", "senior", "America/New_York"), ("Sam Taylor", "senior", "America/Chicago"),
        ("Jordan Lee", "rep", "America/Los_Angeles"), ("Casey Morgan", "rep", "Europe/London"),
        ("Riley Brooks", "bdr", "Europe/Berlin"), ("Devon Patel", "bdr", "Asia/Kolkata"),
        ("Morgan Hale", "manager", "America/New_York"),
    ]
    return [
        DemoRep(name, role, f"{name.split()[0].lower()}@hotlead.example", f"U0HL{number:05d}",
                f"+1555010{number:04d}", zone)
        for number, (name, role, zone) in enumerate(team, start=1)
    ]


def make_companies(rng: random.Random, count: int) -> list[Company]:
    """Companies with unique names, an industry, a size and a shared buying intent."""
    companies: list[Company] = []
    names: set[str] = set()
    while len(companies) < count:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        name = f"{stem} {rng.choice(SUFFIXES)}"
        if name in names:
            continue
        names.add(name)
        employees = int(min(50_000, max(5, rng.lognormvariate(5.3, 1.4))))
        domain = f"{stem.lower()}{len(companies)}.example"
        companies.append(
            Company(name, domain, rng.choice(INDUSTRIES), employees, rng.choice(COUNTRIES), rng.gauss(0, 0.7))
        )
    return companies


def make_people(rng: random.Random, companies: list[Company], count: int) -> list[Person]:
    """Leads spread over companies (some with whole buying committees), with seniority and source."""
    weights = [rng.paretovariate(1.6) for _ in companies]
    people: list[Person] = []
    for index in range(count):
        company = rng.choices(companies, weights)[0]
        seniority = rng.choices(tuple(SENIORITY_TITLES), SENIORITY_WEIGHTS)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        people.append(Person(
            external_id=f"L{index + 1:06d}",
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}{index}@{company.domain}",
            title=rng.choice(SENIORITY_TITLES[seniority]),
            seniority=seniority,
            source=rng.choices(SOURCES, SOURCE_WEIGHTS)[0],
            company=company,
            intent=company.intent + rng.gauss(0, 0.75),
        ))
    return people
