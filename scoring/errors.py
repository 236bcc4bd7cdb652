"""The scoring package's exception hierarchy; the CLI and the bot turn these into one clear message."""


class ScoringError(Exception):
    """Base of every error scoring raises on purpose."""


class NotEnoughOutcomesError(ScoringError, ValueError):
    """Too few conversions or non-conversions to learn from."""


class NoModelError(ScoringError, LookupError):
    """No model has been trained and activated yet."""


class BandError(ScoringError, ValueError):
    """Band shares that cannot split the leads (hot must be above 0, hot and warm together at most 100%)."""
