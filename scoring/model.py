"""LeadScorer: a tournament judged on the newest training rows (boosted trees with native categoricals, a
logistic regression, trees boosted from its margin, their blend), time-ordered early stopping, calibrated output
and exact contributions whichever wins."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from scoring.bands import HOT_SHARE, WARM_SHARE, check_shares
from scoring.calibration import platt
from scoring.errors import NotEnoughOutcomesError
from scoring.linear import LinearPart
from scoring.tournament import PREFERRED_FIRST, choose
from scoring.treeshap import Forest, compile_booster, forest_from_bytes, forest_to_bytes
from scoring.value import DealValue

MIN_CLASS = 50
STACKED_DEPTH = 2  # trees boosted from the linear margin correct what a line misses: pairwise interactions


class LeadScorer(ClassifierMixin, BaseEstimator):
    """Lead scores from a tournament of boosted trees and a logistic regression (see `fit`). `fit` expects rows
    oldest first, or shuffled when there is no time (then with `half_lives=()`: there is no newest to weigh)."""

    def __init__(
        self, *, n_estimators: int = 1000, learning_rate: float = 0.1, max_depth: int | None = None,
        depth_grid: tuple[int, ...] = (2, 3), depth_tolerance: float = 0.002,
        min_child_weight: float = 2.0, subsample: float = 0.8, colsample_bytree: float = 0.8,
        reg_lambda: float = 2.0, validation_fraction: float = 0.2, early_stopping_rounds: int = 20,
        max_cat_to_onehot: int = 8, refit: bool = True, n_jobs: int | None = None, random_state: int = 0,
        hot_share: float = HOT_SHARE, warm_share: float = WARM_SHARE, contest: bool = True,
        candidates: tuple[str, ...] = PREFERRED_FIRST, half_lives: tuple[float, ...] = (0.25,),
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.depth_grid = depth_grid
        self.depth_tolerance = depth_tolerance
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.max_cat_to_onehot = max_cat_to_onehot
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.hot_share = hot_share  # the top share of open leads banded hot
        self.warm_share = warm_share  # the next share, banded warm
        self.contest = contest  # also try a logistic regression, stacked trees and a blend (see `tournament.choose`)
        self.candidates = candidates  # the contestants that may win (all are judged)
        self.half_lives = half_lives  # recency half-lives the linear part tries (rows in time order only)

    def _params(self, depth: int, rows: int, *, stacked: bool = False) -> dict[str, Any]:
        """XGBoost's parameters; trees `stacked` on a linear margin start from that margin alone (base score
        one half: zero log-odds), so that their own margin is exactly what they add to the line's."""
        return {
            "objective": "binary:logistic", "eval_metric": "logloss", "eta": self.learning_rate,
            "max_depth": depth, "min_child_weight": self.min_child_weight, "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree, "lambda": self.reg_lambda, "tree_method": "hist",
            "max_cat_to_onehot": self.max_cat_to_onehot, "nthread": self._threads(rows), "seed": self.random_state,
            **({"base_score": 0.5} if stacked else {}),
        }

    def _threads(self, rows: int) -> int:
        """Threads for work on `rows` rows: by default one below 20,000 rows, where OpenMP's spin-waiting on
        a busy two-core machine costs far more than a second thread saves (seen: 1.5 s vs 40 s)."""
        if self.n_jobs is not None:
            return self.n_jobs
        return 2 if rows >= 20_000 else 1

    def fit(self, X: pd.DataFrame, y: Any, sample_weight: np.ndarray | None = None) -> LeadScorer:
        """Train on rows in time order: the newest `validation_fraction` stop the boosting, judge the contestants
        and calibrate. `sample_weight` weighs rows in the trees' training (the validation rows judge unweighted,
        as the leads scored next will be)."""
        check_shares(self.hot_share, self.warm_share)
        labels = np.asarray(y, dtype=float)
        positives = int(labels.sum())
        negatives = len(labels) - positives
        if positives < MIN_CLASS or negatives < MIN_CLASS:
            raise NotEnoughOutcomesError(
                f"need at least {MIN_CLASS} conversions and {MIN_CLASS} non-conversions to train; "
                f"found {positives} and {negatives}"
            )
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.categories_ = {
            c: list(X[c].cat.categories) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)
        }
        split = int(len(X) * (1 - self.validation_fraction))
        for part, name in ((labels[:split], "oldest"), (labels[split:], "newest")):
            if part.min() == part.max():
                share = f"{1 - self.validation_fraction:.0%}" if name == "oldest" else f"{self.validation_fraction:.0%}"
                raise NotEnoughOutcomesError(
                    f"the {name} {share} of the training decisions are all "
                    f"{'conversions' if part[0] else 'non-conversions'}: the rows are not in time order (sorted "
                    "by outcome?); import without --ordered to have the holdout drawn at random")
        self._weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        encoded = self.encode(X)  # once: every contestant and the refit read the same matrix
        self.__dict__.pop("booster_", None)  # a scorer fitted again chooses afresh
        grid = [self.max_depth] if self.max_depth else list(self.depth_grid)
        self.validation_auc_, self.booster_, self.depth_, margin = self._grow(encoded, labels, split, grid)
        self.best_iteration_ = self.booster_.num_boosted_rounds() - 1
        self.calibration_ = platt(margin, labels[split:])
        self.mix_: tuple[float, float] = (1.0, 0.0)
        self.linear_: LinearPart | None = None
        self.half_life_: float | None = None
        self.winner_ = "xgboost"
        self.contestants_ = {"xgboost": self.validation_auc_}
        if self.contest:
            self._contest(encoded, labels, split, margin)
        if self.refit:
            self._refit(encoded, labels)
        self.presence_ = presence(X, labels)
        del self._weight  # not part of the model: never saved
        self.classes_ = np.array([0, 1])  # TreeSHAP tables wait for the first explanation or save (`_compile`)
        return self

    def _grow(
        self, encoded: np.ndarray, labels: np.ndarray, split: int, grid: list[int], base: np.ndarray | None = None,
    ) -> tuple[float, xgb.Booster, int, np.ndarray]:
        """Boost on the older rows, stopping early on the newest (the validation rows decide, as they will for
        the leads scored next), for each depth of `grid`; the best (validation AUC, booster, depth, validation
        margin). Shallow trees suit additive signals and explain fastest: deeper ones must be clearly better.
        `base` is a margin each row starts from (the linear part's, for the trees stacked on it), included in the
        validation margin returned."""
        weight = getattr(self, "_weight", None)
        train = self._dmatrix(encoded[:split], labels[:split], None if base is None else base[:split],
                              None if weight is None else weight[:split])
        valid = self._dmatrix(encoded[split:], labels[split:], None if base is None else base[split:])
        best: tuple[float, xgb.Booster, int, np.ndarray] | None = None
        for depth in sorted(grid):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                booster = xgb.train(
                    self._params(depth, len(encoded), stacked=base is not None), train,
                    num_boost_round=self.n_estimators, evals=[(valid, "valid")],
                    early_stopping_rounds=self.early_stopping_rounds, verbose_eval=False)
            booster = booster[: int(booster.best_iteration) + 1]
            margin = np.asarray(booster.predict(valid, output_margin=True))
            auc = float(roc_auc_score(labels[split:], margin))
            if best is not None and auc <= best[0] + self.depth_tolerance:
                break  # deeper trees did not help: deeper still will not either, and cost more
            best = (auc, booster, depth, margin)
        if best is None:
            raise NotEnoughOutcomesError("no tree depth gave a usable validation AUC: too few distinct decisions")
        return best

    def _categorical(self) -> list[bool]:
        return [str(n) in self.categories_ for n in self.feature_names_in_]

    def _contest(self, encoded: np.ndarray, labels: np.ndarray, split: int, tree: np.ndarray) -> None:
        """The tournament, judged on the same (newest) validation rows as the trees: the boosted trees, a logistic
        regression fitted on the same training rows, trees boosted from the logistic regression's margin (they
        learn only what the line misses, and the line still extrapolates), and the blend of trees and line
        (weights learnt on the validation rows). `tournament.choose` says who wins."""
        y = labels[split:]
        linear = self._line(encoded, labels, split)
        line = linear.margin(encoded)
        straight = line[split:]
        self.contestants_["logistic"] = float(roc_auc_score(y, straight))
        stacked_auc, stacked, stacked_depth, stacked_margin = self._grow(encoded, labels, split, [STACKED_DEPTH],
                                                                         base=line)
        self.contestants_["stacked"] = stacked_auc
        both = LogisticRegression(C=1e6).fit(np.column_stack([tree, straight]), y)
        (a, b), c = both.coef_[0], float(both.intercept_[0])
        if a > 0 and b > 0:
            self.contestants_["blend"] = float(roc_auc_score(y, a * tree + b * straight))
        best = choose(self.contestants_, self.candidates, y)
        if best == "xgboost":
            return
        self.winner_, self.linear_ = best, linear
        if best == "logistic":
            self.mix_, self.calibration_ = (0.0, 1.0), platt(straight, y)
        elif best == "stacked":  # the line's margin plus the trees', in the same log-odds
            self.booster_, self.depth_ = stacked, stacked_depth
            self.best_iteration_ = stacked.num_boosted_rounds() - 1
            self.mix_ = (1.0, 1.0)
            self.calibration_ = platt(stacked_margin, y)  # the line and its trees, as the booster started from it
        else:  # blend: margins in the trees' units, the linear part weighted by b / a
            self.mix_, self.calibration_ = (1.0, float(b / a)), (float(a), c)

    def _line(self, encoded: np.ndarray, labels: np.ndarray, split: int) -> LinearPart:
        """The linear part fitted on the older rows: unweighted, or with the first of `half_lives` whose recency
        weights validate clearly better (by `depth_tolerance`, as a deeper tree must): where the data drift, the
        newest decisions tell most about the next ones. The choice, `half_life_`, holds for the refit on every
        row."""
        y = labels[split:]
        best = LinearPart.fit(encoded[:split], labels[:split], self._categorical())
        best_auc = float(roc_auc_score(y, best.margin(encoded[split:])))
        for half_life in self.half_lives:
            weighted = LinearPart.fit(encoded[:split], labels[:split], self._categorical(), half_life=half_life)
            auc = float(roc_auc_score(y, weighted.margin(encoded[split:])))
            if auc > best_auc + self.depth_tolerance:
                best, best_auc, self.half_life_ = weighted, auc, half_life
                break
        return best

    def _refit(self, encoded: np.ndarray, labels: np.ndarray) -> None:
        """The newest rows matter most for the future: once the contestant and its tree count are known, learn
        again from all rows (10% more trees for 25% more data); the calibration found above still maps margins
        to rates. Trees that carry no weight (a logistic winner) are not grown again."""
        if self.linear_ is not None:
            self.linear_ = LinearPart.fit(encoded, labels, self._categorical(), half_life=self.half_life_)
        if not self.mix_[0]:
            return
        stacked = self.winner_ == "stacked" and self.linear_ is not None
        base = self.linear_.margin(encoded) if stacked and self.linear_ is not None else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.booster_ = xgb.train(self._params(self.depth_, len(encoded), stacked=stacked),
                                      self._dmatrix(encoded, labels, base, getattr(self, "_weight", None)),
                                      num_boost_round=int((self.best_iteration_ + 1) * 1.1))

    def _compile(self) -> Forest | None:
        """The booster's TreeSHAP tables, built once per booster (a refit replaces it) when first needed: a few
        tenths of a second that a candidate only judged on its holdout never spends."""
        if getattr(self, "_tables_of", None) is not self.booster_:
            self._tables: Forest | None = compile_booster(self.booster_)
            self._tables_of = self.booster_
        return self._tables

    def _dmatrix(
        self, encoded: np.ndarray, y: np.ndarray | None = None, base: np.ndarray | None = None,
        weight: np.ndarray | None = None,
    ) -> xgb.DMatrix:
        names = [str(n) for n in self.feature_names_in_]
        types = ["c" if n in self.categories_ else "q" for n in names]
        threads = self._threads(len(encoded))
        if hasattr(self, "booster_"):
            self.booster_.set_param({"nthread": threads})
        return xgb.DMatrix(encoded, label=y, feature_names=names, feature_types=types,
                           enable_categorical=True, nthread=threads, base_margin=base, weight=weight)

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """A float matrix in training column order; categories become their training codes (unknown: missing).

        Building XGBoost's input from numpy is several times faster than from a pandas frame, which matters
        when one lead is explained on demand; training and prediction share this one encoding."""
        names = list(self.feature_names_in_)
        out = np.full((len(X), len(names)), np.nan)
        numeric = [i for i, n in enumerate(names) if n not in self.categories_]
        block = X.reindex(columns=[names[i] for i in numeric])
        try:
            out[:, numeric] = block.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):  # a column of text where numbers were expected: unreadable is missing
            out[:, numeric] = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for name, levels in self.categories_.items():
            if name in X.columns:
                column = X[name]
                if isinstance(column.dtype, pd.CategoricalDtype):  # map its few categories, not every row
                    lookup = np.append(pd.Index(levels).get_indexer(column.cat.categories.astype(object)), -1)
                    codes = lookup[np.asarray(column.cat.codes)].astype(float)
                else:
                    codes = pd.Index(levels).get_indexer(column.astype(object)).astype(float)
                codes[codes < 0] = np.nan
                out[:, names.index(name)] = codes
        return out

    def margin(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's raw log-odds (what TreeSHAP contributions add up to)."""
        return self.encoded_margin(self.encode(X))

    def encoded_margin(self, encoded: np.ndarray) -> np.ndarray:
        """`margin` of rows already encoded with `encode`: the trees', the linear part's or their blend."""
        trees, linear = getattr(self, "mix_", (1.0, 0.0))
        margin = np.zeros(len(encoded))
        if trees:
            margin += trees * np.asarray(self.booster_.predict(self._dmatrix(encoded), output_margin=True))
        if linear and self.linear_ is not None:
            margin += linear * self.linear_.margin(encoded)
        return margin

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2)."""
        slope, intercept = self.calibration_
        p = 1.0 / (1.0 + np.exp(-(slope * self.margin(X) + intercept)))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the calibrated probability is at least one half."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Exact TreeSHAP contributions per feature plus a `bias` column; rows sum to the margin."""
        return pd.DataFrame(self.pred_contribs(self.encode(X)), index=X.index,
                            columns=[*self.feature_names_in_, "bias"])

    def pred_contribs(self, encoded: np.ndarray) -> np.ndarray:
        """XGBoost's own exact TreeSHAP (`pred_contribs=True`) of rows already encoded with `encode`, bias last
        (with the linear part's exact contributions added, weighted, when the winner is linear or a blend)."""
        trees = np.asarray(self.booster_.predict(self._dmatrix(encoded), pred_contribs=True))
        return self._mixed(trees, encoded)

    def _mixed(self, trees: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        weight, linear = getattr(self, "mix_", (1.0, 0.0))
        if not linear or self.linear_ is None:
            return trees
        return weight * trees + linear * self.linear_.contributions(encoded)

    def encoded_contributions(self, encoded: np.ndarray) -> np.ndarray:
        """`contributions` of rows already encoded with `encode`, as an array (bias last), for many rows at once:
        read from the booster's TreeSHAP tables, or from `pred_contribs` where tables do not apply."""
        tables = self._compile()
        if tables is None:
            return self.pred_contribs(encoded).astype(float)
        return self._mixed(tables.contributions(encoded), encoded)

    def log_odds(self, contributions: np.ndarray) -> np.ndarray:
        """Contributions (bias last) in the units of the calibrated probability's log-odds: each times the
        calibration's slope (always positive, so no reason changes sign), its intercept added to the bias; a row
        then adds up to logit(probability)."""
        slope, intercept = self.calibration_
        out = np.asarray(contributions, dtype=float) * slope
        out[:, -1] += intercept
        return out

    def to_bytes(self) -> bytes:
        """The booster and everything needed to use it again (its TreeSHAP tables too), as bytes for the model
        registry."""
        compiled = self._compile()
        tables = forest_to_bytes(compiled) if compiled is not None else b""
        linear: LinearPart | None = getattr(self, "linear_", None)
        state = {"params": self.get_params(), "features": list(self.feature_names_in_),
                 "categories": self.categories_, "calibration": self.calibration_,
                 "best_iteration": self.best_iteration_, "depth": self.depth_, "tables_size": len(tables),
                 "band_thresholds": getattr(self, "band_thresholds_", None),
                 "mix": getattr(self, "mix_", (1.0, 0.0)), "winner": getattr(self, "winner_", "xgboost"),
                 "contestants": getattr(self, "contestants_", {}), "half_life": getattr(self, "half_life_", None),
                 "linear": linear.to_state() if linear is not None else None,
                 "presence": getattr(self, "presence_", {})}
        value: DealValue | None = getattr(self, "value_", None)  # the deal-value model, when trained with one
        value_raw = bytes(value.booster.save_raw("ubj")) if value is not None else b""
        state["value"] = value.header(len(value_raw)) if value is not None else None
        header = json.dumps(state, default=str).encode()
        return len(header).to_bytes(8, "big") + header + tables + value_raw + bytes(self.booster_.save_raw("ubj"))

    @classmethod
    def from_bytes(cls, blob: bytes) -> LeadScorer:
        """Rebuild a fitted scorer saved with `to_bytes`."""
        size = int.from_bytes(blob[:8], "big")
        state = json.loads(blob[8 : 8 + size])
        params = state["params"]
        params["depth_grid"] = tuple(params.get("depth_grid", ()))  # JSON gave it back as a list
        params["candidates"] = tuple(params.get("candidates", PREFERRED_FIRST))
        params["half_lives"] = tuple(params.get("half_lives", ()))  # saved before recency weights: none
        scorer = cls(**params)
        tables_end = 8 + size + state.get("tables_size", 0)  # artifacts saved before the tables have none
        value = state.get("value")  # and those saved before deal values, no value model
        start = tables_end + (value["size"] if value else 0)
        scorer.booster_ = xgb.Booster(model_file=bytearray(blob[start:]))
        scorer.value_ = DealValue.load(value, blob[tables_end:start]) if value else None
        if state.get("tables_size"):
            scorer._tables, scorer._tables_of = forest_from_bytes(blob[8 + size : tables_end]), scorer.booster_
        scorer.feature_names_in_ = np.asarray(state["features"], dtype=object)
        scorer.categories_ = state["categories"]
        scorer.calibration_ = tuple(state["calibration"])
        scorer.best_iteration_ = state["best_iteration"]
        scorer.depth_ = state.get("depth")
        if state.get("band_thresholds"):
            scorer.band_thresholds_ = tuple(state["band_thresholds"])
        scorer.mix_ = tuple(state.get("mix", (1.0, 0.0)))
        scorer.winner_ = state.get("winner", "xgboost")
        scorer.contestants_ = state.get("contestants", {})
        scorer.half_life_ = state.get("half_life")
        scorer.linear_ = LinearPart.from_state(state["linear"]) if state.get("linear") else None
        scorer.presence_ = {k: tuple(v) for k, v in state.get("presence", {}).items()}  # none before they were kept
        scorer.classes_ = np.array([0, 1])
        return scorer


PRESENCE_MIN = 20  # leads on each side before a conversion rate is quoted


def presence(X: pd.DataFrame, labels: np.ndarray) -> dict[str, tuple[float, int, float, int]]:
    """For each numeric feature that is zero for some training leads and above zero for others: the conversion
    rate and count of leads with it above zero, then of leads without it. `why` quotes them when a reason's
    sign is not the one its words suggest ("visited the home page" lowering a score)."""
    rates = {}
    for name in X.columns:
        column = X[name]
        if isinstance(column.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(column):
            continue
        values = np.asarray(column, dtype=float)
        present, absent = values > 0, values == 0
        n_with, n_without = int(present.sum()), int(absent.sum())
        if min(n_with, n_without) >= PRESENCE_MIN:
            rates[str(name)] = (round(float(labels[present].mean()), 4), n_with,
                                round(float(labels[absent].mean()), 4), n_without)
    return rates

