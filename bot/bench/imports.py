"""Import throughput and memory on a large generated activity export."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

LEADS = 10_000
PAGES = ("pricing", "demo", "docs", "case_study", "blog", "home")
KINDS = ("page_view", "page_view", "page_view", "email_open", "email_click", "webinar", "form_submit")


def write_leads(path: Path, count: int = LEADS) -> None:
    """A leads file the activity export refers to."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "name", "account", "created_at"])
        for index in range(count):
            writer.writerow([f"B{index:06d}", f"Bench Lead {index}", f"Bench Account {index % 800}", "2026-01-01"])


def write_activities(path: Path, rows: int, *, seed: int = 1, start: datetime = datetime(2026, 1, 1)) -> None:
    """A time-ordered activity export of `rows` rows from `start`, written as a stream."""
    rng = random.Random(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lead", "kind", "occurred_at", "page_type", "url", "campaign"])
        for index in range(rows):
            kind = rng.choice(KINDS)
            page = rng.choice(PAGES) if kind == "page_view" else ""
            when = (start + timedelta(seconds=index * 7)).strftime("%Y-%m-%dT%H:%M:%SZ")
            writer.writerow([f"B{rng.randrange(LEADS):06d}", kind, when, page, f"/{page}" if page else "",
                             "" if page else "nurture"])


def _import_in_child(database: Path, kind: str, file: Path) -> dict[str, Any]:
    env = dict(os.environ, HOTLEAD_DATABASE_URL=f"sqlite:///{database}")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "import", kind, str(file), "--json"],
        env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark import failed: {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["wall_seconds"] = time.perf_counter() - started
    return result


def run(rows: int = 1_000_000, workdir: Path | None = None) -> dict[str, Any]:
    """Import `rows` activities into a fresh SQLite file in a child process; a quarter-size run to show that
    memory stays flat as the file grows; and a quarter-size file of later activities into the table that holds
    the `rows` already (a team's next export: its indexes are big by then)."""
    with tempfile.TemporaryDirectory(prefix="hotlead-bench-", dir=workdir) as tmp:
        folder = Path(tmp)
        leads = folder / "leads.csv"
        write_leads(leads)
        runs: dict[int, dict[str, Any]] = {}
        for size in (rows // 4, rows):
            database = folder / f"bench-{size}.db"
            activities = folder / f"activities-{size}.csv"
            write_activities(activities, size)
            _import_in_child(database, "leads", leads)
            runs[size] = _import_in_child(database, "activities", activities)
            activities.unlink()
        later = folder / "activities-later.csv"
        write_activities(later, rows // 4, seed=2, start=datetime(2026, 1, 1) + timedelta(seconds=rows * 7))
        into_full = _import_in_child(folder / f"bench-{rows}.db", "activities", later)
    full, quarter = runs[rows], runs[rows // 4]
    return {
        "rows": rows,
        "seconds": round(full["seconds"], 3),
        "rows_per_s": round(rows / full["seconds"]),
        "peak_rss_mb": full["peak_rss_mb"],
        "quarter_rows": rows // 4,
        "quarter_rows_per_s": round((rows // 4) / quarter["seconds"]),
        "quarter_peak_rss_mb": quarter["peak_rss_mb"],
        "rss_growth_mb": round(full["peak_rss_mb"] - quarter["peak_rss_mb"], 1),
        "into_full_rows": rows // 4,  # imported into the table holding `rows` already
        "into_full_rows_per_s": round((rows // 4) / into_full["seconds"]),
        "into_full_inserted": into_full["inserted"],
        "into_full_peak_rss_mb": into_full["peak_rss_mb"],
        "wall_seconds_with_startup": round(full["wall_seconds"], 3),
    }
