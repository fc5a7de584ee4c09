"""The knn grader's cases shrink through their ``Shrink`` declarations only to cases that
are still true: a shrunk counterexample states what the student's code must give on it."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

import numpy as np
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propgrade.engine import shrinking


def _load() -> ModuleType:
    # graders/ is not a package: load the module from its file, as the engine does.
    spec = importlib.util.spec_from_file_location(
        "knn_common_under_test", ROOT / "graders" / "knn" / "common.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


knn = _load()
SETTINGS = settings(
    max_examples=40, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


def candidates(case: Any) -> list[Any]:
    return list(shrinking.candidates(case))


@SETTINGS
@given(knn.known_distances())
def test_known_distances_stay_known(case: Any) -> None:
    for c in candidates(case):
        X_train, X_test = c.case.X_train, c.case.X_test
        assert X_train.shape[1] == case.case.X_train.shape[1]
        got = np.sqrt(np.sum((X_test - X_train[c.source]) ** 2, axis=1))
        np.testing.assert_array_equal(got, c.length)


def _vote(dists: np.ndarray, y_train: np.ndarray, k: int) -> list[int]:
    nearest = np.argsort(dists, axis=1, kind="stable")[:, :k]
    return [int(np.argmax(np.bincount(y_train[row]))) for row in nearest]


@SETTINGS
@given(st.one_of(knn.nearest_votes(), knn.majority_votes(), knn.tied_votes()))
def test_shrunk_votes_keep_their_expected_labels(case: Any) -> None:
    found = candidates(case)
    if case.dists.shape[0] > 1:
        assert any(c.dists.shape[0] == 1 for c in found)
    for c in found:
        assert c.dists.shape[1] == case.dists.shape[1] and c.k == case.k
        assert _vote(c.dists, c.y_train, c.k) == c.expected.tolist()


@SETTINGS
@given(st.one_of(knn.data(same=True), knn.translations(), knn.scalings()))
def test_the_set_against_itself_stays_one_array_and_a_shift_follows_the_features(
    case: Any,
) -> None:
    for c in candidates(case):
        data = getattr(c, "case", c)
        if data.same:
            assert data.X_test is data.X_train
        if isinstance(c, knn.Moved):
            if c.shift is not None:
                assert c.shift.shape == (data.X_train.shape[1],)
            assert c.factor == case.factor
