"""Scoring quality on public data nobody on this project wrote, imported as any CRM export would be."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from scoring.model import LeadScorer
from scoring.training import training_data
from storage.db import create_schema, make_engine
from storage.importers.crm import import_crm

# where ../shared/data is looked for when --data is not given: beside the checkout, then beside the working folder
DATA_HOMES = (Path(__file__).resolve().parents[2].parent / "shared" / "data", Path("..") / "shared" / "data",
              Path("shared") / "data")


@dataclass(frozen=True)
class DataSet:
    """A public data set and how a user would import it (no code per data set)."""

    name: str
    path: Path  # inside the data folder
    label: str
    drop: tuple[str, ...] = ()
    published: str = ""


DATA_SETS = (
    DataSet("bank_marketing", Path("bank_marketing") / "bank-additional-full.csv", "y", ("duration",),
            "AUC ≈ 0.80 without duration (Moro et al. 2014)"),
    DataSet("online_shoppers", Path("online_shoppers") / "online_shoppers_intention.csv", "Revenue", (),
            "XGBoost auROC 0.937 (Sakar et al. 2019)"),
)


def data_home(given: Path | None = None) -> Path:
    """The folder holding the public data sets: `given`, or the first of DATA_HOMES that exists."""
    if given is not None:
        return given
    return next((home for home in DATA_HOMES if home.is_dir()), DATA_HOMES[0])


def cross_validate(data: DataSet, path: Path, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Import through the CRM importer, build features as scoring does, and cross-validate LeadScorer."""
    with tempfile.TemporaryDirectory(prefix="hotlead-quality-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'quality.db'}")
        create_schema(engine)
        import_crm(engine, path, label=data.label, drop=data.drop)
        prepared = training_data(engine)
        engine.dispose()
    features = prepared.features.dropna(axis=1, how="all")
    features = features.loc[:, features.nunique(dropna=True) > 1]
    labels = prepared.labels
    scores = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    shuffle = np.random.default_rng(seed)
    for train, test in splitter.split(features, labels):
        # Shuffled folds have no time order, so neither may the rows LeadScorer validates on: in row order
        # its "newest 20%" would be one late campaign of the bank data rather than a sample of the fold.
        train = shuffle.permutation(train)
        model = LeadScorer(random_state=seed).fit(features.iloc[train], labels[train])
        scores.append(float(roc_auc_score(labels[test], model.predict_proba(features.iloc[test])[:, 1])))
    return {"auc": float(np.mean(scores)), "std": float(np.std(scores)), "folds": scores, "rows": len(labels),
            "positives": int(labels.sum()), "features": int(features.shape[1]), "published": data.published}


def run(folds: int = 5, home: Path | None = None) -> dict[str, Any]:
    """Cross-validated AUC for every public data set present in `home` (see data_home)."""
    folder = data_home(home)
    result: dict[str, Any] = {}
    for data in DATA_SETS:
        path = folder / data.path
        if not path.exists():
            result[data.name] = {"skipped": f"{path} is not on this machine (pass --data DIR)"}
            continue
        result[data.name] = {**cross_validate(data, path, folds), "file": str(path)}
    return result
