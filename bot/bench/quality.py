"""Scoring quality on public data nobody on this project wrote, imported as any CRM export would be.

Three protocols per data set, the user's first: `as_used`, the product end to end (the file with its newest 20% of
rows left unlabelled, so they are open leads, imported with `--ordered`, trained with `hotlead train`, scored with
`hotlead score`; the open leads' scores against the outcomes the file really had); `forward`, the file's order
taken as time (the data sets are in the order they were collected), the newest 20% held out and LeadScorer fitted
on the older 80%, beside a regularised logistic regression (the plain baseline) and a plain
`xgboost.XGBClassifier()` (hist, defaults) on the same rows, whose fit time is the yardstick for Hotlead's; then
`shuffled`, stratified k-fold cross-validation, which hides drift and is what papers usually report.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from scoring.baseline import baseline_auc
from scoring.model import LeadScorer
from scoring.rescore import rescore
from scoring.training import TrainingData, left_out_columns, train, training_data
from storage.db import create_schema, make_engine
from storage.history import latest_scores
from storage.importers.crm import Stages, import_crm
from storage.queries import lead_ids_by_external_id

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


def prepare(data: DataSet, path: Path) -> tuple[TrainingData, pd.DataFrame]:
    """Import through the CRM importer and build features as scoring does (rows in file order), without the ids
    and leaks training leaves out (judged on every row here: a protocol's own training part may see fewer)."""
    with tempfile.TemporaryDirectory(prefix="hotlead-quality-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'quality.db'}")
        create_schema(engine)
        import_crm(engine, path, label=data.label, drop=data.drop)
        prepared = training_data(engine)
        engine.dispose()
    features = prepared.features.dropna(axis=1, how="all")
    features = features.drop(columns=list(left_out_columns(features, prepared.labels)))  # as `train` leaves out
    return prepared, features.loc[:, features.nunique(dropna=True) > 1]


def as_used(data: DataSet, path: Path, fraction: float = 0.2) -> dict[str, Any]:
    """The product end to end: the newest `fraction` of the file's rows unlabelled (open leads), imported with
    `--ordered`, trained and scored as `hotlead train` and `hotlead score` do; the open leads' AUC."""
    table = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
    cut = int(len(table) * (1 - fraction))
    stages = Stages((), (), ())
    truth = [stages.read(value, row)[1] for row, value in enumerate(table[data.label].iloc[cut:], start=cut + 2)]
    table.insert(0, "Record ID", [f"row-{row}" for row in range(2, len(table) + 2)])  # the file's own row numbers
    table.loc[table.index[cut:], data.label] = ""
    with tempfile.TemporaryDirectory(prefix="hotlead-as-used-") as tmp:
        export = Path(tmp) / path.name
        table.to_csv(export, index=False)
        engine = make_engine(f"sqlite:///{Path(tmp) / 'as_used.db'}")
        create_schema(engine)
        import_crm(engine, export, label=data.label, drop=data.drop, ordered=True)
        started = time.perf_counter()
        report = train(engine)
        seconds = time.perf_counter() - started
        result: dict[str, Any] = {
            "holdout": f"the newest {fraction:.0%} of the file's rows, imported unlabelled (open leads)",
            "open_leads": len(truth), "promoted": report.promoted, "refused": report.metrics["refused"],
            "winner": report.metrics["winner"], "train_seconds": round(seconds, 2)}
        if report.promoted:
            rescore(engine)
            with engine.connect() as conn:
                ids = lead_ids_by_external_id(conn=conn, external_ids=table["Record ID"].iloc[cut:])
                scores = latest_scores(conn=conn, lead_ids=list(ids.values()))
            decided = [(outcome, scores[ids[external_id]].probability)
                       for outcome, external_id in zip(truth, table["Record ID"].iloc[cut:], strict=True)
                       if outcome is not None]  # a row the file itself left open has nothing to compare with
            result["auc"] = _auc(np.array([o for o, _ in decided], dtype=float), np.array([p for _, p in decided]))
        engine.dispose()
    return result


def forward(features: pd.DataFrame, labels: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """The newest 20% of the file's order held out: Hotlead, the logistic baseline and plain XGBoost, fitted on
    the older 80% (Hotlead validates on the newest part of those, as `hotlead train` does with time)."""
    cut = int(len(labels) * 0.8)
    train_x, hold_x, train_y, hold_y = features.iloc[:cut], features.iloc[cut:], labels[:cut], labels[cut:]
    started = time.perf_counter()
    model = LeadScorer(random_state=seed).fit(train_x, train_y)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = xgb.XGBClassifier(tree_method="hist", enable_categorical=True, random_state=seed).fit(
            train_x, train_y)
    plain_seconds = time.perf_counter() - started
    return {"holdout": "newest 20% of the file's order", "auc": _auc(hold_y, model.predict_proba(hold_x)[:, 1]),
            "baseline_auc": baseline_auc(train_x, train_y, hold_x, hold_y),
            "xgboost_auc": _auc(hold_y, plain.predict_proba(hold_x)[:, 1]),
            "train_seconds": round(seconds, 2), "xgboost_train_seconds": round(plain_seconds, 2),
            "holdout_rows": len(hold_y), "holdout_positives": int(hold_y.sum())}


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return round(float(roc_auc_score(y, p)), 4)


def shuffled(features: pd.DataFrame, labels: np.ndarray, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Stratified, shuffled k-fold cross-validation of LeadScorer."""
    scores = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    shuffle = np.random.default_rng(seed)
    for fold, test in splitter.split(features, labels):
        # Shuffled folds have no time order, so neither may the rows LeadScorer validates on: in row order
        # its "newest 20%" would be one late campaign of the bank data rather than a sample of the fold.
        rows = shuffle.permutation(fold)
        model = LeadScorer(random_state=seed, half_lives=()).fit(features.iloc[rows], labels[rows])
        scores.append(float(roc_auc_score(labels[test], model.predict_proba(features.iloc[test])[:, 1])))
    return {"holdout": f"{folds} shuffled stratified folds", "auc": round(float(np.mean(scores)), 4),
            "std": round(float(np.std(scores)), 4), "folds": scores}


def evaluate_data_set(data: DataSet, path: Path, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """The three protocols on one data set, the product as used first."""
    prepared, features = prepare(data, path)
    labels = prepared.labels
    return {"as_used": as_used(data, path), "forward": forward(features, labels, seed),
            "shuffled": shuffled(features, labels, folds, seed),
            "rows": len(labels), "positives": int(labels.sum()), "features": int(features.shape[1]),
            "published": data.published}


def run(folds: int = 5, home: Path | None = None, export: DataSet | None = None) -> dict[str, Any]:
    """The three protocols for every public data set present in `home` (see data_home), or for one `export`
    (any CRM export, its rows oldest first, with the label column and the columns to drop)."""
    if export is not None:
        return {export.name: {**evaluate_data_set(export, export.path, folds), "file": str(export.path)}}
    folder = data_home(home)
    result: dict[str, Any] = {}
    for data in DATA_SETS:
        path = folder / data.path
        if not path.exists():
            result[data.name] = {"skipped": f"{path} is not on this machine (pass --data DIR)"}
            continue
        result[data.name] = {**evaluate_data_set(data, path, folds), "file": str(path)}
    return result
