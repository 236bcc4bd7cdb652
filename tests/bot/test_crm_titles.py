"""Seniority read from a CRM contact's job title (what the model's firm.seniority needs; CRMs keep only the title)."""

from __future__ import annotations

import pytest

from bot.crm.titles import seniority
from storage.demo.people import SENIORITY_TITLES


@pytest.mark.parametrize(("title", "level"), [
    ("Chief Revenue Officer", "c_level"), ("Co-Founder & CEO", "c_level"), ("cfo", "c_level"), ("CISO", "c_level"),
    ("Founder", "c_level"), ("President", "c_level"), ("Managing Director, DACH", "c_level"),
    ("Geschäftsführer", "c_level"),
    ("Vice President of Marketing", "vp"), ("SVP, Sales", "vp"), ("VP & Head of Sales", "vp"), ("EVP", "vp"),
    ("Head of Growth", "director"), ("IT Director", "director"), ("Director of Finance", "director"),
    ("Sr. Engineering Manager", "manager"), ("Partner Manager", "manager"), ("Team Lead, Support", "manager"),
    ("Account Executive", "individual"), ("Principal Engineer", "individual"), ("Executive Assistant", "individual"),
    ("Leadership Coach", "individual"), ("Cargo handler", "individual"), ("Student", "individual"),
    ("", None), ("   ", None), (None, None),
])
def test_a_title_names_its_level(title: str | None, level: str | None) -> None:
    assert seniority(title) == level


def test_every_demo_title_is_its_own_level() -> None:
    """The demo's people carry both a title and the level it was drawn from: the two agree for every title."""
    assert {title: seniority(title) for level, titles in SENIORITY_TITLES.items() for title in titles} == {
        title: level for level, titles in SENIORITY_TITLES.items() for title in titles}
