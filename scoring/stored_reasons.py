"""The reasons kept with each score-history row: the strongest groups of a lead's TreeSHAP contributions, in
sentences, as JSON, for tens of thousands of leads at once.

Leads share most of their sentences ("No pricing visits in 90 days"), so each group's sentence is written once
per distinct set of its features' values, and the JSON is assembled from pieces encoded once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

import numpy as np
import pandas as pd

from scoring.explain import SHOWN, Presence, describe, group_of

Column = tuple[np.ndarray, list[Any] | None]  # values (or category codes) and the categories, if any


@dataclass(frozen=True)
class Picked:
    """The `keep` strongest reason groups (either sign) of some rows: group index and summed contribution."""

    groups: tuple[str, ...]
    members: dict[str, tuple[str, ...]]
    order: np.ndarray  # rows x keep: index into `groups`
    totals: np.ndarray  # rows x keep: the group's summed contribution (log-odds)


@lru_cache(maxsize=16)
def _layout(names: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]], np.ndarray]:
    groups = tuple(sorted({group_of(n) for n in names}))
    members = {g: tuple(n for n in names if group_of(n) == g) for g in groups}
    member = np.zeros((len(names), len(groups)))
    for i, name in enumerate(names):
        member[i, groups.index(group_of(name))] = 1.0
    return groups, members, member


def pick(contributions: np.ndarray, names: tuple[str, ...], keep: int) -> Picked:
    """Sum per-feature contributions (columns named `names`; any further column, the bias, is ignored) into
    reason groups and keep the `keep` largest by size."""
    groups, members, member = _layout(names)
    by_group = contributions[:, : len(names)] @ member
    size = -np.abs(by_group)
    keep = min(keep, len(groups))
    top = np.argpartition(size, keep - 1, axis=1)[:, :keep] if keep < len(groups) else np.argsort(size, axis=1)
    order = np.take_along_axis(top, np.argsort(np.take_along_axis(size, top, axis=1), axis=1), axis=1)
    return Picked(groups, members, order, np.take_along_axis(by_group, order, axis=1))


@dataclass(frozen=True)
class Sentences:
    """The sentence of every picked group: `ids` (rows x keep) index `texts`, whose group is `groups[i]`."""

    texts: list[str]
    groups: list[int]
    ids: np.ndarray

    def at(self) -> np.ndarray:
        """The sentences themselves, rows x keep."""
        return np.asarray(self.texts, dtype=object)[self.ids]


def sentences(features: pd.DataFrame, rows: np.ndarray, picked: Picked, presence: Presence | None = None) -> Sentences:
    """The sentence of every picked group, written from row `rows[i]` of `features` (and the sign of its
    contribution, which a sentence explains when it is not the one its words suggest; see explain.describe)."""
    texts: list[str] = []
    groups: list[int] = []
    ids = np.zeros(picked.order.shape, dtype=np.int64)
    for g, group in enumerate(picked.groups):
        where = np.nonzero(picked.order == g)
        if not len(where[0]):
            continue
        at = rows[where[0]]
        names = picked.members[group]
        columns = [_shown(features[name], at, SHOWN.get(name)) for name in names]
        signs = np.sign(picked.totals[where]).astype(np.int64)
        first, inverse = _distinct([_key(column) for column in columns] + [signs])
        distinct = [_values_at(column, first) for column in columns]
        ids[where] = len(texts) + inverse.ravel()
        texts.extend(describe(group, dict(zip(names, values, strict=True)), float(sign), presence)
                     for sign, *values in zip(signs[first].tolist(), *distinct, strict=True))
        groups.extend([g] * len(first))
    return Sentences(texts, groups, ids)


def _distinct(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Where each distinct combination of the keys first appears, and which combination every row has."""
    combined = np.zeros(len(keys[0]), dtype=np.int64)
    for key in keys:  # hashed, not sorted; renumbered after each key so the codes stay small
        codes, uniques = pd.factorize(key)
        combined, _ = pd.factorize(combined * len(uniques) + codes)
    count = int(combined.max()) + 1 if len(combined) else 0
    first = np.empty(count, dtype=np.int64)
    first[combined[::-1]] = np.arange(len(combined))[::-1]
    return first, combined


def _shown(column: pd.Series, at: np.ndarray, shown: Callable[[np.ndarray], np.ndarray] | None) -> Column:
    """The column's values at `at` as the sentences read them: category codes and their categories, or values
    (floats through `shown`, see explain.SHOWN)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.cat.codes)[at].astype(np.int64), list(column.cat.categories)
    values = np.asarray(column)[at]
    if values.dtype.kind == "f":
        values = values.astype(np.float64)
        return (shown(values) if shown is not None else values), None
    return values, None


def _key(column: Column) -> np.ndarray:
    """Numbers that are equal exactly when the values are (category codes; bit patterns of floats)."""
    values, categories = column
    if categories is not None:
        return values
    if values.dtype.kind == "f":
        return (values + 0.0).view(np.int64)  # + 0.0: -0.0 is 0.0
    return pd.factorize(values)[0].astype(np.int64)


def _values_at(column: Column, first: np.ndarray) -> list[Any]:
    """Plain Python values (a category's value; NaN when missing) at positions `first`."""
    values, categories = column
    if categories is not None:
        return [categories[c] if c >= 0 else np.nan for c in values[first].tolist()]
    return values[first].tolist()


def as_json(picked: Picked, said: Sentences) -> list[str]:
    """Each row's reasons as the JSON list of {"contribution", "group", "text"} objects the history keeps
    (the text `storage.db.json_dumps` gives: sorted keys, no spaces, ASCII)."""
    tails = [f',"group":{encode_basestring_ascii(picked.groups[g])},"text":{encode_basestring_ascii(text)}}}'
             for g, text in zip(said.groups, said.texts, strict=True)]
    totals = json.dumps(_rounded(picked.totals).ravel().tolist())[1:-1].split(", ")  # the encoder's own numbers
    pieces = list(map(str.__add__, map(str.__add__, repeat('{"contribution":'), totals),
                      map(tails.__getitem__, said.ids.ravel().tolist())))
    keep = said.ids.shape[1]
    if not keep:
        return ["[]"] * len(said.ids)
    layout = "[" + ",".join(["%s"] * keep) + "]"
    return [layout % row for row in zip(*[iter(pieces)] * keep, strict=True)]


def _rounded(totals: np.ndarray) -> np.ndarray:
    """Contributions to 4 decimals (k / 10,000 exactly, so each prints as its short decimal)."""
    return np.round(totals, 4)


def as_dicts(picked: Picked, said: Sentences) -> list[list[dict[str, Any]]]:
    """The same reasons as Python objects."""
    return [
        [{"text": said.texts[i], "contribution": total, "group": picked.groups[said.groups[i]]}
         for i, total in zip(ids, totals, strict=True)]
        for ids, totals in zip(said.ids.tolist(), _rounded(picked.totals).tolist(), strict=True)
    ]
