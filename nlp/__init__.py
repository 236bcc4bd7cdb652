"""Reading conversations: sentiment, urgency and buying signals per message."""

from nlp import blank  # noqa: F401  (first: spaCy without torch, see nlp/blank.py)
from nlp.analyze import MODES, Reader, analyze, reader
from nlp.types import SPAN_KINDS, Signals, Span

__all__ = ["MODES", "SPAN_KINDS", "Reader", "Signals", "Span", "analyze", "reader"]
