"""`hotlead bench crm` at a tiny size: the report's shape and that its counts agree (timings are the bench's to
measure, not the tests' to assert)."""

from __future__ import annotations

from bot.bench import crm


def test_a_tiny_portal_syncs_whole_then_only_what_changed(engine_name: str, db_url: str) -> None:
    report = crm.run(60, 10, 15, 200, paced=False, url=db_url if engine_name == "postgresql" else None)
    assert report["engine"] == engine_name and report["paced"] is False
    assert report["sizes"] == {"contacts": 60, "companies": 10, "deals": 15, "engagements": 200}
    assert report["records"] == {"owners": 20, "companies": 10, "contacts": 60, "deals": 15, "engagements": 200}
    first, second, changed = report["first"], report["second"], report["changed"]
    assert first["answered_429"] == 0 and first["refused"] == 0 and first["searches"] > 0
    assert first["seconds"] >= first["sync_seconds"] > 0 and first["records_per_s"] > 0
    assert changed["contacts"] == 60 and 0 < changed["deals"] <= 15  # every open deal (a fifth of 100 at most)
    assert second["read"] == changed and second["answered_429"] == 0 and second["seconds"] > 0
