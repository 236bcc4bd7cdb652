"""spaCy without torch: the rules need a blank pipeline and its matchers only, but spaCy's thinc imports torch
when it can (about 200 MB and seconds before the first message is read). Importing spaCy through this module hides
torch while thinc looks for it, then un-hides it, so the transformer reader can still import it when it is used.
A process that has already imported torch keeps it."""

from __future__ import annotations

import sys

if "thinc" not in sys.modules and "torch" not in sys.modules:
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError: thinc goes without
    try:
        import spacy  # noqa: F401
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
