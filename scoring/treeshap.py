"""Exact path-dependent TreeSHAP for many rows at once: the numbers of XGBoost's `pred_contribs=True`, read
from tables.

TreeSHAP of one tree is a sum over its leaves of a product game: a leaf weighs each feature on its path by
"the row goes this leaf's way at every split on the feature" (0 or 1) when the feature is known, and by the
share of training cover going that way when it is not. A row's contributions from a tree therefore depend only
on which way it goes at each split of the tree: a handful of bits. The contributions for every pattern of bits
are computed once per model, and explaining a row becomes finding its bit patterns and adding table rows.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np
import xgboost as xgb
from scipy import sparse

MAX_DEPTH = 8  # deeper trees: pred_contribs
MERGED_NODES = 7  # trees with up to this many splits get one table (2^7 patterns); bigger ones one per leaf
CHUNK_ROWS = 512  # the working set of a chunk stays in the CPU cache


@dataclass(frozen=True)
class Splits:
    """The distinct splits of a forest: a row goes left at split u when `left(values)[u]`."""

    feature: np.ndarray  # int, per split
    threshold: np.ndarray  # float32: numeric splits go left below it
    default_left: np.ndarray  # bool: where a missing value goes
    categorical: np.ndarray  # the categorical splits
    goes_right: np.ndarray  # per categorical split and category code: True when the category goes right

    def left(self, columns: np.ndarray) -> np.ndarray:
        """Which way the rows go at every split (True: left), from the forest's input in columns
        (features x rows, float32), plus a last row that is always False."""
        values = columns[self.feature]
        out = np.zeros((len(self.feature) + 1, columns.shape[1]), dtype=bool)
        with np.errstate(invalid="ignore"):
            np.less(values, self.threshold[:, None], out=out[:-1])  # NaN compares False: goes right
        missing = np.isnan(values)
        out[:-1] |= missing & self.default_left[:, None]
        if len(self.categorical):
            codes = values[self.categorical]
            known = ~missing[self.categorical]
            # XGBoost sends categories it never split on (and invalid codes) left; the last column is all False
            index = np.where(known & (codes >= 0), codes, self.goes_right.shape[1] - 1).astype(np.int64)
            index = np.minimum(index, self.goes_right.shape[1] - 1)
            right = np.take_along_axis(self.goes_right, index, axis=1)
            out[self.categorical] = np.where(known, ~right, out[self.categorical])
        return out


@dataclass(frozen=True)
class Forest:
    """A booster compiled to tables; `contributions` gives what `pred_contribs=True` gives."""

    splits: Splits
    nodes: np.ndarray  # (blocks, K) split of each bit of a block's pattern (padding: the always-False row)
    slot_block: np.ndarray  # per table slot: its block
    slot_base: np.ndarray  # per slot: its offset in `table` (block offset * width + column)
    width: int
    table: np.ndarray  # flat float32 (XGBoost's own precision; half the memory traffic): patterns x width
    adder: sparse.csr_matrix  # features x slots: which feature each slot adds to
    bias: float
    n_features: int

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-feature contributions plus a last `bias` column for the rows of X (float, NaN missing)."""
        columns = np.ascontiguousarray(np.asarray(X, dtype=np.float32).T)
        out = np.empty((self.n_features + 1, len(X)))
        out[-1] = self.bias
        base = self.slot_base[:, None]
        for start in range(0, len(X), CHUNK_ROWS):
            left = self.splits.left(columns[:, start : start + CHUNK_ROWS])
            pattern = left[self.nodes[:, 0]].astype(np.int32)
            for k in range(1, self.nodes.shape[1]):
                pattern |= left[self.nodes[:, k]].astype(np.int32) << k
            pattern *= self.width
            index = pattern[self.slot_block]
            index += base
            out[:-1, start : start + CHUNK_ROWS] = self.adder @ self.table.take(index)
        return out.T


_ARRAYS = ("nodes", "slot_block", "slot_base", "table")
_SPLIT_ARRAYS = ("feature", "threshold", "default_left", "categorical", "goes_right")


def forest_to_bytes(forest: Forest) -> bytes:
    """The tables as bytes (numpy's npz), to be kept next to the booster they were compiled from."""
    buffer = io.BytesIO()
    np.savez(buffer, **{name: getattr(forest, name) for name in _ARRAYS},
             **{f"split_{name}": getattr(forest.splits, name) for name in _SPLIT_ARRAYS},
             slot_feature=_slot_features(forest.adder),
             scalars=np.array([forest.width, forest.bias, forest.n_features]))
    return buffer.getvalue()


def _adder(slot_feature: np.ndarray, n_features: int) -> sparse.csr_matrix:
    """features x slots: a 1 where a slot's value adds to a feature."""
    slots = len(slot_feature)
    return sparse.csr_matrix((np.ones(slots, dtype=np.float32), (slot_feature, np.arange(slots))),
                             shape=(n_features, slots))


def _slot_features(adder: sparse.csr_matrix) -> np.ndarray:
    """The feature each slot adds to (the row of each column's one entry)."""
    entries = adder.tocoo()
    return entries.row[np.argsort(entries.col, kind="stable")]


def forest_from_bytes(blob: bytes) -> Forest:
    """Tables saved with `forest_to_bytes`."""
    with np.load(io.BytesIO(blob)) as saved:
        arrays = {name: saved[name] for name in saved.files}
    width, bias, n_features = arrays.pop("scalars").tolist()
    splits = Splits(**{name: arrays.pop(f"split_{name}") for name in _SPLIT_ARRAYS})
    slot_feature = arrays.pop("slot_feature")
    return Forest(splits=splits, adder=_adder(slot_feature, int(n_features)), width=int(width), bias=float(bias),
                  n_features=int(n_features), **arrays)


def compile_booster(booster: xgb.Booster) -> Forest | None:
    """Tables for a binary-logistic gbtree booster with scalar leaves; None where the fast path does not apply."""
    model = json.loads(bytes(booster.save_raw("json")))
    learner = model["learner"]
    params = learner["learner_model_param"]
    gbtree = learner["gradient_booster"]
    if (gbtree.get("name") != "gbtree" or learner.get("objective", {}).get("name") != "binary:logistic"
            or int(gbtree["model"]["gbtree_model_param"].get("num_parallel_tree", 1)) != 1):
        return None
    trees = [_Tree(tree) for tree in gbtree["model"]["trees"]]
    if any(tree.vector_leaf or tree.depth > MAX_DEPTH for tree in trees):
        return None
    base_score = float(str(params["base_score"]).strip("[]"))
    bias = math.log(base_score / (1 - base_score)) + sum(tree.mean_value() for tree in trees)
    return _assemble(trees, bias, int(params["num_feature"]))


class _Tree:
    """One tree of the JSON model."""

    def __init__(self, tree: dict[str, Any]) -> None:
        self.left_child: list[int] = tree["left_children"]
        self.right_child: list[int] = tree["right_children"]
        self.value: list[float] = tree["split_conditions"]  # a leaf's value sits where a split's threshold would
        self.cover: list[float] = tree["sum_hessian"]
        self.feature: list[int] = tree["split_indices"]
        self.default_left: list[int] = tree["default_left"]
        self.vector_leaf = int(tree["tree_param"].get("size_leaf_vector", 1)) > 1
        segments = zip(tree["categories_segments"], tree["categories_sizes"], strict=True)
        self.categories = {node: tuple(int(c) for c in tree["categories"][start : start + size])
                           for node, (start, size) in zip(tree["categories_nodes"], segments, strict=True)}
        self.internal = [n for n, child in enumerate(self.left_child) if child != -1]
        self.paths = self._leaves()
        self.depth = max((len(path) for _, path in self.paths), default=0)

    def split_key(self, node: int) -> tuple[Any, ...]:
        """What decides the way at `node`: feature, threshold, missing goes left, categories going right."""
        cats = self.categories.get(node)
        threshold = 0.0 if cats is not None else np.float32(self.value[node]).item()
        return (int(self.feature[node]), threshold, bool(self.default_left[node]), cats)

    def mean_value(self, node: int = 0) -> float:
        """The cover-weighted mean of the leaves under `node` (the tree's share of the bias)."""
        left, right = self.left_child[node], self.right_child[node]
        if left == -1:
            return float(self.value[node])
        weighted = self.mean_value(left) * self.cover[left] + self.mean_value(right) * self.cover[right]
        return weighted / self.cover[node]

    def _leaves(self) -> list[tuple[float, list[tuple[int, bool, float]]]]:
        """Each leaf's value and path: (node, goes left, cover share of that way) per split on the way."""
        found: list[tuple[float, list[tuple[int, bool, float]]]] = []
        stack: list[tuple[int, list[tuple[int, bool, float]]]] = [(0, [])]
        while stack:
            node, path = stack.pop()
            left, right = self.left_child[node], self.right_child[node]
            if left == -1:
                found.append((float(self.value[node]), path))
                continue
            for child, goes_left in ((left, True), (right, False)):
                stack.append((child, [*path, (node, goes_left, self.cover[child] / self.cover[node])]))
        return found


Path = list[tuple[int, bool, float]]  # (node, goes left, cover share of that way) per split on the way


class _Leaf(NamedTuple):
    """A leaf in its block: per step of its path the block bit, the way, the cover share and the leaf's own
    feature slot; per slot the block column."""

    block: int
    value: float
    bit: list[int]
    way: list[bool]
    share: list[float]
    slot: list[int]
    column: list[int]


@dataclass
class _Blocks:
    """Blocks under construction: a block is a set of splits whose bits index its table, and its leaves."""

    splits: dict[tuple[Any, ...], int] = field(default_factory=dict)
    nodes: list[list[int]] = field(default_factory=list)  # per block: its splits, one per pattern bit
    columns: list[list[int]] = field(default_factory=list)  # per block: the features of its table columns
    leaves: list[_Leaf] = field(default_factory=list)

    def add(self, tree: _Tree, nodes: list[int], paths: list[tuple[float, Path]]) -> None:
        block = len(self.nodes)
        self.nodes.append([self.splits.setdefault(tree.split_key(n), len(self.splits)) for n in nodes])
        columns = sorted({tree.feature[n] for n in nodes})
        self.columns.append(columns)
        bit = {n: k for k, n in enumerate(nodes)}
        for value, path in paths:
            unique = sorted({tree.feature[n] for n, _, _ in path})
            self.leaves.append(_Leaf(
                block, value, [bit[n] for n, _, _ in path], [way for _, way, _ in path],
                [share for _, _, share in path], [unique.index(tree.feature[n]) for n, _, _ in path],
                [columns.index(f) for f in unique],
            ))


def _assemble(trees: list[_Tree], bias: float, n_features: int) -> Forest:
    blocks = _Blocks()
    for tree in trees:
        if len(tree.internal) <= MERGED_NODES:
            if tree.internal:  # a lone leaf only moves the bias
                blocks.add(tree, tree.internal, tree.paths)
        else:
            for leaf in tree.paths:
                blocks.add(tree, [n for n, _, _ in leaf[1]], [leaf])
    bits = max((len(nodes) for nodes in blocks.nodes), default=1)
    width = max((len(columns) for columns in blocks.columns), default=1)
    table = _tables(blocks, bits, width)
    never = len(blocks.splits)  # the always-False row `Splits.left` appends: padding bits stay 0
    nodes = np.full((len(blocks.nodes), bits), never, dtype=np.int64)
    slots: list[tuple[int, int, int]] = []  # (feature, block, offset in the flat table)
    for b, (split_ids, columns) in enumerate(zip(blocks.nodes, blocks.columns, strict=True)):
        nodes[b, : len(split_ids)] = split_ids
        slots.extend((feature, b, (b << bits) * width + c) for c, feature in enumerate(columns))
    keys = list(blocks.splits)
    categorical = [u for u, k in enumerate(keys) if k[3] is not None]
    goes_right = np.zeros((len(categorical), max((max(keys[u][3], default=0) for u in categorical), default=0) + 2),
                          dtype=bool)
    for row, u in enumerate(categorical):
        goes_right[row, list(keys[u][3])] = True
    splits = Splits(
        feature=np.array([k[0] for k in keys], dtype=np.int64), threshold=np.array([k[1] for k in keys], np.float32),
        default_left=np.array([k[2] for k in keys], dtype=bool), categorical=np.array(categorical, dtype=np.int64),
        goes_right=goes_right,
    )
    adder = _adder(np.array([s[0] for s in slots], dtype=np.int64), n_features)
    return Forest(splits=splits, nodes=nodes, slot_block=np.array([s[1] for s in slots], dtype=np.int64),
                  slot_base=np.array([s[2] for s in slots], dtype=np.int32), width=width,
                  table=table.ravel().astype(np.float32), adder=adder, bias=bias, n_features=n_features)


def _tables(blocks: _Blocks, bits: int, width: int) -> np.ndarray:
    """Every block's table, (blocks x 2^bits patterns) x width: each leaf's Shapley values for the pattern."""
    table = np.zeros((len(blocks.nodes) << bits, width))
    if not blocks.leaves:
        return table
    steps = max(len(leaf.bit) for leaf in blocks.leaves)
    players = max(len(leaf.column) for leaf in blocks.leaves)

    def padded(name: str, fill: Any, size: int) -> np.ndarray:
        return np.array([(got := getattr(leaf, name)) + [fill] * (size - len(got)) for leaf in blocks.leaves])

    block = np.array([leaf.block for leaf in blocks.leaves])
    value = np.array([leaf.value for leaf in blocks.leaves])
    bit, way = padded("bit", 0, steps), padded("way", True, steps)
    share, slot = padded("share", 1.0, steps), padded("slot", -1, steps)
    column = padded("column", 0, players)
    # A padding player always follows with share 1: a null player, which changes no one's Shapley value.
    cover = np.stack([np.prod(np.where(slot == k, share, 1.0), axis=1) for k in range(players)], axis=1)
    values = _product_game(cover) * value[:, None, None]  # leaves x masks x players
    patterns = np.arange(1 << bits)
    goes_left = (patterns[None, :, None] >> bit[:, None, :]) & 1 == 1  # leaves x patterns x steps
    follows = (goes_left == way[:, None, :]) | (slot[:, None, :] < 0)
    mask = np.zeros((len(value), len(patterns)), dtype=np.int64)
    for k in range(players):
        mask |= np.all(follows | (slot[:, None, :] != k), axis=2).astype(np.int64) << k
    gathered = np.take_along_axis(values, mask[:, :, None], axis=1)  # leaves x patterns x players
    rows = (block[:, None] << bits) + patterns[None, :]
    flat = (rows[:, :, None] * width + column[:, None, :]).ravel()
    np.add.at(table.reshape(-1), flat, gathered.ravel())
    return table


def _product_game(cover: np.ndarray) -> np.ndarray:
    """Shapley values of the game v(S) = prod over players j of (z_j if j in S else cover_j), for every 0/1
    pattern z of the players (bit j of the mask): leaves x masks x players."""
    leaves, players = cover.shape
    masks = np.arange(1 << players)
    z = ((masks[:, None] >> np.arange(players)[None, :]) & 1).astype(float)  # masks x players
    out = np.zeros((leaves, len(masks), players))
    for i in range(players):
        others = [j for j in range(players) if j != i]
        for size in range(players):
            weight = math.factorial(size) * math.factorial(players - size - 1) / math.factorial(players)
            for chosen in combinations(others, size):
                known = np.prod(z[:, list(chosen)], axis=1) if chosen else np.ones(len(masks))
                unknown = np.prod(cover[:, [j for j in others if j not in chosen]], axis=1)
                out[:, :, i] += weight * unknown[:, None] * known[None, :]
        out[:, :, i] *= z[None, :, i] - cover[:, i, None]
    return out
