"""What a rep can be; kept apart from the importers so reading the settings loads no database code."""

from __future__ import annotations

REP_ROLES = ("rep", "senior", "bdr", "manager")  # senior reps get hot leads, BDRs warm ones
