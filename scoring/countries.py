"""Country names as reps say them, for the ISO 3166 codes CRMs store ("Germany", "the UK" -> DE, GB), and back."""

from __future__ import annotations

_NAMES = {
    "AR": ("argentina",), "AT": ("austria", "österreich"), "AU": ("australia",), "BE": ("belgium",),
    "BR": ("brazil", "brasil"), "CA": ("canada",), "CH": ("switzerland", "schweiz", "suisse"), "CL": ("chile",),
    "CN": ("china",), "CO": ("colombia",), "CZ": ("czechia", "czech republic"), "DE": ("germany", "deutschland"),
    "DK": ("denmark",), "EG": ("egypt",), "ES": ("spain", "españa"), "FI": ("finland",), "FR": ("france",),
    "GB": ("united kingdom", "uk", "u.k.", "great britain", "britain", "england", "scotland", "wales"),
    "GR": ("greece",), "HK": ("hong kong",), "IE": ("ireland",), "IL": ("israel",), "IN": ("india",),
    "ID": ("indonesia",), "IT": ("italy", "italia"), "JP": ("japan",), "KE": ("kenya",), "KR": ("south korea", "korea"),
    "MX": ("mexico", "méxico"), "MY": ("malaysia",), "NG": ("nigeria",), "NL": ("netherlands", "the netherlands",
    "holland"), "NO": ("norway",), "NZ": ("new zealand",), "PH": ("philippines",), "PL": ("poland", "polska"),
    "PT": ("portugal",), "RO": ("romania",), "SA": ("saudi arabia",), "SE": ("sweden",), "SG": ("singapore",),
    "TH": ("thailand",), "TR": ("turkey", "türkiye"), "UA": ("ukraine",), "AE": ("united arab emirates", "uae"),
    "US": ("united states", "usa", "u.s.", "u.s.a.", "america", "the us", "the usa", "the states"),
    "VN": ("vietnam", "viet nam"), "ZA": ("south africa",),
}
CODES = {name: code for code, names in _NAMES.items() for name in names}


def country_code(phrase: str) -> str | None:
    """The ISO code a country's name (or its code) means, or None: "Germany" -> "DE", "the UK" -> "GB"."""
    key = " ".join(phrase.strip().casefold().split())
    key = key.removeprefix("the ") if key.removeprefix("the ") in CODES else key
    if key.upper() in _NAMES:
        return key.upper()
    return CODES.get(key)


_CAPITALISED = {"uk": "the UK", "usa": "the US", "uae": "the UAE", "the netherlands": "the Netherlands"}


def country_name(code: str) -> str:
    """A country's name for its ISO code ("BR" -> "Brazil", "GB" -> "the UK"); the code itself when unknown."""
    names = _NAMES.get(code.strip().upper())
    if not names:
        return code
    short = next((_CAPITALISED[n] for n in names if n in _CAPITALISED), None)
    return short or names[0].title()

