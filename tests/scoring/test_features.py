import tempfile
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from scoring import features
from scoring.features import build_features
from storage.db import create_schema, make_engine
from storage.db import julian as sql_julian
from storage.demo import generate
from storage.demo.load import load_demo
from storage.derived import julian_day
from storage.importers import import_table
from storage.importers.crm import import_crm
from tests.conftest import Snapshots

CUTOFF = datetime(2026, 10, 10, 12, 0)
Event = tuple[str, float, str]  # kind, days before the cutoff (negative: after it), page type


def julian(engine: Engine, moment: datetime) -> float:
    """The day number SQLite gives a moment, as the product's own cutoffs are computed (on either engine)."""
    return julian_day(moment.isoformat(sep=" "))


def features_at_cutoff(engine: Engine, write: Callable[[str, str], Path], events: list[Event]) -> pd.Series:
    """Import one lead with `events`, then featurise it as of CUTOFF."""
    lead_file = write("leads.csv", "external_id,name,account,created_at\nL1,Ada King,Acme,2026-06-01\n")
    import_table(engine, "leads", lead_file)
    if events:
        lines = [f"L1,{kind},{CUTOFF - timedelta(days=days):%Y-%m-%dT%H:%M:%SZ},{page}" for kind, days, page in events]
        activity_file = write("activities.csv", "\n".join(["lead,kind,occurred_at,page_type", *lines]))
        import_table(engine, "activities", activity_file)
    with engine.connect() as conn:
        lead = conn.exec_driver_sql("SELECT id FROM lead WHERE external_id = 'L1'").scalar_one()
    return build_features(engine, pd.Series([julian(engine, CUTOFF)], index=[lead])).iloc[0]


def differences(a: pd.DataFrame, b: pd.DataFrame) -> list[tuple[int, str]]:
    """(lead, feature) pairs where two feature frames disagree (missing equals missing)."""
    same = (a.astype(object) == b.astype(object)) | (a.isna() & b.isna())
    cells = same.stack()
    return list(cells[~cells].index)


def test_an_activity_at_or_after_the_cutoff_is_not_counted_but_one_a_day_before_is(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    row = features_at_cutoff(engine, write, [("page_view", 1, "pricing"), ("page_view", 0, "pricing"),
                                             ("page_view", -1, "pricing"), ("email_reply", 0, "")])
    assert row["beh.page_pricing_7d"] == 1
    assert row["beh.page_view_90d"] == 1
    assert row["beh.email_reply_90d"] == 0
    assert row["time.days_since_activity"] == 1


def test_counts_fall_into_the_7_30_and_90_day_windows(engine: Engine, write: Callable[[str, str], Path]) -> None:
    row = features_at_cutoff(engine, write, [("email_open", days, "") for days in (3, 20, 60, 100)])
    assert [row[f"beh.email_open_{window}d"] for window in (7, 30, 90)] == [1, 2, 3]


@pytest.mark.parametrize("events", [[], [("page_view", -2, "pricing")]], ids=["nothing", "only-after-the-cutoff"])
def test_days_since_activity_is_90_without_activity(
    engine: Engine, write: Callable[[str, str], Path], events: list[Event]
) -> None:
    assert features_at_cutoff(engine, write, events)["time.days_since_activity"] == 90


@pytest.mark.parametrize(("events", "flag"), [
    ([("email_sent", 15, ""), ("email_sent", 5, "")], 1),
    ([("email_sent", 15, ""), ("email_sent", 5, ""), ("email_reply", 3, "")], 0),
    ([("email_sent", 5, "")], 0),
    ([("email_sent", 30, ""), ("email_sent", 5, "")], 0),
], ids=["two-unanswered", "answered", "one-sent", "one-older-than-21-days"])
def test_no_reply_21d_flags_two_unanswered_emails_in_21_days(
    engine: Engine, write: Callable[[str, str], Path], events: list[Event], flag: int
) -> None:
    assert features_at_cutoff(engine, write, events)["neg.no_reply_21d"] == flag


def test_crm_columns_become_attr_features_numbers_numeric_and_categories_categorical(
    engine: Engine, write: Callable[[str, str], Path]
) -> None:
    export = "deal_id,company size,region,newsletter,won\nD1,120,emea,yes,yes\nD2,,amer,no,no\nD3,800,emea,yes,\n"
    import_crm(engine, write("deals.csv", export), label="won", id_column="deal_id")
    with engine.connect() as conn:
        ids = list(conn.exec_driver_sql("SELECT id FROM lead ORDER BY external_id").scalars())
    frame = build_features(engine, pd.Series(julian(engine, datetime(2027, 1, 1)), index=ids))
    assert pd.api.types.is_float_dtype(frame["attr.company size"])
    assert frame["attr.company size"].fillna(-1).tolist() == [120, -1, 800]
    assert frame["attr.newsletter"].tolist() == [1, 0, 1]
    assert isinstance(frame["attr.region"].dtype, pd.CategoricalDtype)
    assert frame["attr.region"].tolist() == ["emea", "amer", "emea"]


def build_demo(url: str) -> None:
    """A demo database over 2,000 leads: big enough that featurising every lead may load rows differently."""
    engine = make_engine(url)
    create_schema(engine)
    pipeline = generate(Path(tempfile.mkdtemp()) / "files", leads=2100, seed=5)
    list(load_demo(engine, pipeline, lambda _label: nullcontext()))  # type: ignore[arg-type, return-value]
    engine.dispose()


@pytest.fixture
def demo(snapshots: Snapshots, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a private copy of the demo database."""
    snapshots.build("features_demo", build_demo)
    engine = make_engine(snapshots.copy("features_demo", tmp_path, request))
    yield engine
    engine.dispose()


def decisions(engine: Engine) -> pd.Series:
    with engine.connect() as conn:
        day = sql_julian(conn, "closed_at")
        rows = conn.execute(text(f"SELECT lead_id, {day} FROM outcome ORDER BY lead_id")).all()
    return pd.Series([day for _, day in rows], index=[lead for lead, _ in rows], dtype=float)


def activity_after_close(engine: Engine, converted: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM activity a JOIN outcome o ON o.lead_id = a.lead_id "
            f"WHERE o.converted = :converted AND a.day >= {sql_julian(conn, 'o.closed_at')}"), {"converted": converted}
        ).scalar_one())


def test_features_at_a_decision_equal_features_without_anything_that_happened_after_it(demo: Engine) -> None:
    cutoffs = decisions(demo)
    assert activity_after_close(demo, converted=1) > 0  # the demo plants usage after every win
    as_decided = build_features(demo, cutoffs)
    with demo.begin() as conn:
        conn.exec_driver_sql(
            f"DELETE FROM activity WHERE day >= "
            f"(SELECT {sql_julian(conn, 'o.closed_at')} FROM outcome o WHERE o.lead_id = activity.lead_id)"
        )
    assert activity_after_close(demo, converted=1) == 0
    pruned = build_features(demo, cutoffs)
    # acct.* rightly count a colleague's activity after the colleague's own close when it precedes this lead's
    # cutoff, so deleting it changes them; the next test checks them against one cutoff for everyone.
    own = [column for column in as_decided.columns if not column.startswith("acct.")]
    assert differences(as_decided[own], pruned[own]) == []


def test_account_features_ignore_colleagues_activity_at_or_after_the_cutoff(demo: Engine) -> None:
    with demo.connect() as conn:
        ids = list(conn.exec_driver_sql("SELECT id FROM lead").scalars())
        last = conn.exec_driver_sql("SELECT max(day) FROM activity").scalar_one()
    cutoffs = pd.Series(last - 30, index=ids, dtype=float)
    before = build_features(demo, cutoffs)
    assert before["acct.engaged_contacts_30d"].sum() > 0 and before["acct.activity_7d"].sum() > 0
    with demo.begin() as conn:
        conn.execute(text("DELETE FROM activity WHERE day >= :day"), {"day": last - 30})
    assert differences(before, build_features(demo, cutoffs)) == []


def test_one_lead_gets_the_same_features_as_in_a_call_for_every_lead(demo: Engine) -> None:
    with demo.connect() as conn:
        ids = list(conn.exec_driver_sql("SELECT id FROM lead").scalars())
    now = julian(demo, datetime.now())
    cutoffs = pd.Series(now, index=ids, dtype=float)
    decided = decisions(demo)
    cutoffs.loc[decided.index] = decided
    everyone = build_features(demo, cutoffs)
    chosen = [*everyone["acct.engaged_contacts_30d"].nlargest(4).index, *decided.index[:2], *ids[-2:]]
    assert everyone.loc[chosen, ["acct.engaged_contacts_30d", "acct.activity_28d"]].to_numpy().sum() > 0
    for lead in chosen:
        assert differences(build_features(demo, cutoffs.loc[[lead]]), everyone.loc[[lead]]) == [], lead


@pytest.mark.parametrize("shared", [True, False])
def test_reading_in_second_threads_changes_no_feature(demo: Engine, monkeypatch: pytest.MonkeyPatch,
                                                      shared: bool) -> None:
    with demo.connect() as conn:
        ids = list(conn.exec_driver_sql("SELECT id FROM lead").scalars())
    now = julian(demo, datetime.now())
    cutoffs = pd.Series(now, index=ids, dtype=float)
    if not shared:
        decided = decisions(demo)
        cutoffs.loc[decided.index] = decided
    monkeypatch.setattr(features, "PARALLEL_FROM", 0)
    threaded = build_features(demo, cutoffs)
    monkeypatch.setattr(features, "PARALLEL_FROM", 10**9)
    assert differences(threaded, build_features(demo, cutoffs)) == []
