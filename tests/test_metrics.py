"""The numpy metrics give scikit-learn's values, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from automl_har.metrics import accuracy, macro_f1


@pytest.mark.parametrize("seed", range(8))
def test_macro_f1_and_accuracy_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    n, n_classes = rng.integers(1, 60), rng.integers(1, 8)
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, n_classes + 2, n))  # some unseen classes
    assert macro_f1(y_true, y_pred) == f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert accuracy(y_true, y_pred) == accuracy_score(y_true, y_pred)


def test_edge_cases():
    assert np.isnan(macro_f1(np.array([], int), np.array([], int)))
    assert macro_f1(np.array([2, 2]), np.array([2, 2])) == 1.0
    assert macro_f1(np.array([0, 0]), np.array([1, 1])) == 0.0
    with pytest.raises(ValueError, match="one label per window"):
        accuracy(np.array([0, 1]), np.array([0]))
