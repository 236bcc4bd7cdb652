import shutil
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from scoring import registry, stored_reasons
from scoring.bands import bands
from scoring.explain import describe, group_of
from scoring.model import LeadScorer
from scoring.rescore import active_cutoffs, rescore, score_leads
from scoring.training import TrainingReport, train
from storage.db import create_schema, json_dumps, json_loads, make_engine
from storage.demo import generate
from storage.demo.load import load_demo
from storage.errors import NotFoundError
from tests.conftest import count


@dataclass
class Trained:
    """A demo database trained twice on the same data."""

    path: Path
    first: TrainingReport
    second: TrainingReport


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    folder = tmp_path_factory.mktemp("trained")
    engine = make_engine(f"sqlite:///{folder / 'hotlead.db'}")
    create_schema(engine)
    list(load_demo(engine, generate(folder / "files", leads=1500, seed=5),
                   lambda _label: nullcontext()))  # type: ignore[arg-type, return-value]
    # One thread: on a busy two-core machine, two OpenMP threads make XGBoost many times slower.
    first = train(engine, scorer=LeadScorer(n_jobs=1))
    second = train(engine, scorer=LeadScorer(n_jobs=1))
    engine.dispose()
    return Trained(folder / "hotlead.db", first, second)


@pytest.fixture
def db(trained: Trained, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a private copy of the trained database."""
    shutil.copy(trained.path, tmp_path / "copy.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    yield engine
    engine.dispose()


def active(engine: Engine) -> str | None:
    version = registry.active_version(engine)
    return version.version if version else None


def test_the_first_training_promotes_its_model(trained: Trained, db: Engine) -> None:
    assert trained.first.promoted
    assert "active_auc_on_holdout" not in trained.first.metrics
    assert registry.list_versions(db)[-1].version == trained.first.version


def test_a_second_training_is_promoted_only_when_it_beats_the_active_model_on_the_holdout(
    trained: Trained, db: Engine
) -> None:
    metrics = trained.second.metrics  # no decision is newer than the first model's: their holdout AUCs decide
    assert metrics["compared_on"] == 0 and metrics["active_auc_on_holdout"] == trained.first.metrics["auc"]
    assert trained.second.promoted == (metrics["auc"] >= metrics["active_auc_on_holdout"] - 0.005)
    assert active(db) == (trained.second.version if trained.second.promoted else trained.first.version)
    assert [v.version for v in registry.list_versions(db)] == [trained.second.version, trained.first.version]


def test_the_holdout_is_the_newest_fifth_of_decisions(trained: Trained, db: Engine) -> None:
    with db.connect() as conn:
        decided = list(conn.exec_driver_sql(
            "SELECT l.external_id FROM outcome o JOIN lead l ON l.id = o.lead_id ORDER BY o.closed_at, l.id"
        ).scalars())
    assert trained.first.holdout_ids == decided[int(len(decided) * 0.8):]
    assert trained.first.metrics["train_leads"] + trained.first.metrics["holdout_leads"] == len(decided)
    assert trained.first.metrics["holdout"] == "time"


def test_the_registered_model_learnt_from_every_decision(trained: Trained, db: Engine) -> None:
    metrics = trained.first.metrics
    assert metrics["deployed_on"] == metrics["train_leads"] + metrics["holdout_leads"]
    version = next(v for v in registry.list_versions(db) if v.version == trained.first.version)
    assert version.metrics["deployed_on"] == metrics["deployed_on"] and version.metrics["refused"] is None


def test_activating_an_unknown_version_raises_listing_the_known_ones(trained: Trained, db: Engine) -> None:
    with pytest.raises(NotFoundError, match="no model version 'v9'") as caught:
        registry.activate(db, "v9")
    assert trained.first.version in str(caught.value) and trained.second.version in str(caught.value)


def test_rollback_after_activating_another_version_brings_back_the_one_before(trained: Trained, db: Engine) -> None:
    registry.activate(db, trained.first.version)
    registry.activate(db, trained.second.version)
    assert registry.rollback(db).version == trained.first.version
    assert active(db) == trained.first.version
    assert [v.status for v in registry.list_versions(db)] == ["retired", "active"]


def test_rollback_without_an_earlier_active_model_raises(trained: Trained, db: Engine) -> None:
    with db.begin() as conn:
        conn.exec_driver_sql("DELETE FROM model_version WHERE status != 'active'")
    with pytest.raises(NotFoundError, match="no earlier active model"):
        registry.rollback(db)


NOW = pd.Timestamp.now(tz="UTC").to_julian_date()  # one moment: as time passes, events do age out of windows


def test_the_first_rescore_writes_one_row_per_active_lead_and_the_next_none(db: Engine) -> None:
    leads = len(active_cutoffs(db))
    first = rescore(db, NOW)
    assert (first.leads, first.written) == (leads, leads)
    assert count(db, "score") == leads
    assert rescore(db, NOW).written == 0
    assert count(db, "score") == leads


def test_a_rescore_writes_only_leads_whose_score_moved(db: Engine) -> None:
    rescore(db, NOW)
    with db.begin() as conn:
        conn.exec_driver_sql("UPDATE score SET probability = probability + 0.01 WHERE id IN "
                             "(SELECT id FROM score ORDER BY id LIMIT 3)")
        conn.exec_driver_sql("UPDATE score SET probability = probability + 0.004 WHERE id IN "
                             "(SELECT id FROM score ORDER BY id DESC LIMIT 3)")
    assert rescore(db, NOW).written == 3


def test_about_a_tenth_of_active_leads_are_hot_and_three_tenths_warm(db: Engine) -> None:
    rescore(db)
    with db.connect() as conn:
        shares = dict(conn.exec_driver_sql(  # leads reps judged keep the band they pinned: not the model's shares
            "SELECT band, count(*) * 1.0 / (SELECT count(*) FROM score WHERE lead_id NOT IN (SELECT lead_id FROM "
            "lead_action)) FROM score WHERE lead_id NOT IN (SELECT lead_id FROM lead_action) GROUP BY band"
        ).all())
    assert abs(shares["hot"] - 0.10) < 0.02
    assert abs(shares["warm"] - 0.30) < 0.03


def test_bands_put_the_top_tenth_hot_and_the_next_three_tenths_warm() -> None:
    percentiles = np.array([0.0, 59.5, 60.5, 89.5, 90.0, 100.0])
    assert list(bands(percentiles)) == ["cold", "cold", "warm", "warm", "hot", "hot"]


def test_history_keeps_the_three_strongest_treeshap_groups_of_pred_contribs_in_sentences(db: Engine) -> None:
    rescore(db, NOW)
    scored = score_leads(db, active_cutoffs(db, NOW))
    contributions = scored.contributions().drop(columns="bias")  # XGBoost's own pred_contribs
    with db.connect() as conn:
        stored = {lead: json_loads(text) for lead, text in conn.exec_driver_sql("SELECT lead_id, reasons FROM score")}
    for position, lead in enumerate(scored.features.index[:60]):
        row = contributions.iloc[position]
        totals = row.groupby([group_of(str(n)) for n in row.index]).sum()
        strongest = totals[totals.abs().sort_values(ascending=False).index[:3]]
        values = scored.features.iloc[position].to_dict()
        stop = scored.stopped[position]  # a stop (an unsubscribe, a bounce) comes first, then the model's reasons
        assert [r["text"] for r in stored[lead] if r["group"] == "stop"] == ([] if stop is None else [stop])
        assert stop is None or stored[lead][0]["text"] == stop
        kept = {r["group"]: r for r in stored[lead] if r["group"] != "stop"}
        assert set(kept) == set(strongest.index), lead
        for group, total in strongest.items():
            assert kept[group]["text"] == describe(str(group), values, float(total), scored.scorer.presence_)
            assert abs(kept[group]["contribution"] - total) < 1e-4


def test_history_reasons_are_the_json_text_json_dumps_gives(db: Engine) -> None:
    scored = score_leads(db, active_cutoffs(db, NOW))
    picked, texts = scored.picked(np.arange(len(scored.features)))
    assert stored_reasons.as_json(picked, texts) == [json_dumps(r) for r in stored_reasons.as_dicts(picked, texts)]


def test_band_shares_belong_to_the_model_and_a_retraining_keeps_them(db: Engine) -> None:
    wide = train(db, shares=(0.2, 0.3))
    assert wide.shares == (0.2, 0.3)
    registry.activate(db, wide.version)
    rescore(db, NOW)
    with db.connect() as conn:
        hot = conn.exec_driver_sql("SELECT avg(band = 'hot') FROM score WHERE id IN (SELECT max(id) FROM score "
                                   "GROUP BY lead_id)").scalar_one()
    assert abs(hot - 0.2) < 0.02
    again = train(db)  # a scheduled retraining asks for no shares: it keeps the active model's
    assert again.shares == (0.2, 0.3)
    assert next(v for v in registry.list_versions(db) if v.version == again.version).params["hot_share"] == 0.2


def test_band_shares_over_a_whole_are_refused_before_training(db: Engine) -> None:
    from scoring.errors import BandError

    with pytest.raises(BandError, match="add up to at most 1"):
        train(db, shares=(0.7, 0.5))
    assert len(registry.list_versions(db)) == 2  # the two of the fixture: nothing was trained
