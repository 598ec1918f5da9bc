"""Classification metrics used for model selection and reporting.

Plain numpy, with the same definitions (and the same float64 arithmetic) as scikit-learn's
``f1_score(average="macro", zero_division=0)`` and ``accuracy_score``: importing
scikit-learn costs a worker process seconds before its first trial.
"""

from __future__ import annotations

import numpy as np


def _as_labels(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred need one label per window, but got {len(y_true)} and {len(y_pred)}")
    return y_true, y_pred


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-averaged F1 over the classes present in ``y_true`` or ``y_pred``.

    Per class ``F1 = 2 TP / (2 TP + FP + FN)``; every class counted here has a true or a
    predicted window, so the denominator is never 0.
    """
    y_true, y_pred = _as_labels(y_true, y_pred)
    if len(y_true) == 0:
        return float("nan")
    classes, true_and_pred = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    t, p = true_and_pred[: len(y_true)], true_and_pred[len(y_true):]
    tp = np.bincount(t[t == p], minlength=len(classes))
    true_count = np.bincount(t, minlength=len(classes))
    pred_count = np.bincount(p, minlength=len(classes))
    return float(np.mean(2.0 * tp / (true_count + pred_count)))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = _as_labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")
