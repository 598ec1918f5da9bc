"""Quality of a modality from unlabeled data (Cosmo, Ouyang et al., MobiCom 2022, Sec. 5.2.1).

The clusterability of a modality's features predicts how useful the modality is for
classification. Per modality j: the Hopkins statistic ``H_j`` (about 0.5 for uniformly spread
points, near 1 for tight clusters) and ``c_j = |k* - N_classes|``, where ``k*`` maximizes the
silhouette score of KMeans over ``k = 2 ... 2 N_classes``. The quality is
``q_j = H_j / max(c_j, 1)`` (the paper divides by ``c_j``; ``max`` avoids dividing by zero when
``k*`` hits the class count) and the quality weights are ``beta_QoM_j = q_j / sum_j q_j``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np


def hopkins(x: np.ndarray, sample_fraction: float = 0.1, repeats: int = 5, seed: int = 0) -> float:
    """Hopkins statistic ``H = sum u / (sum u + sum w)`` of the rows of ``x``.

    ``u``: distances from ``m`` points drawn uniformly in the bounding box of ``x`` to their nearest
    row; ``w``: distances from ``m`` sampled rows to their nearest other row. Plain (not d-th
    power) distances; averaged over ``repeats`` seeded draws.

    Args:
        x: ``(n, d)`` points, n >= 3.
        sample_fraction: ``m = max(1, round(sample_fraction * n))`` probes per draw.
        repeats: independent draws averaged.
        seed: seed of the draws.
    """
    from sklearn.neighbors import NearestNeighbors

    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    n = len(x)
    if n < 3:
        raise ValueError(f"the Hopkins statistic needs at least 3 points, but got {n}")
    m = min(n - 1, max(1, int(round(sample_fraction * n))))
    neighbours = NearestNeighbors(n_neighbors=2).fit(x)
    low, high = x.min(axis=0), x.max(axis=0)
    rng = np.random.default_rng([seed, 0x486F706B])  # salted: never replays a caller's own seed-`seed` draw
    values = []
    for _ in range(repeats):
        probes = rng.uniform(low, high, size=(m, x.shape[1]))
        u = neighbours.kneighbors(probes, n_neighbors=1)[0][:, 0]
        rows = rng.choice(n, size=m, replace=False)
        w = neighbours.kneighbors(x[rows], n_neighbors=2)[0][:, 1]  # [:, 0] is the row itself
        total = u.sum() + w.sum()
        values.append(u.sum() / total if total > 0 else 0.5)
    return float(np.mean(values))


def best_cluster_count(x: np.ndarray, k_max: int, seed: int = 0) -> int:
    """``k*``: the k in ``2 ... k_max`` (capped at n - 1) whose KMeans has the best silhouette."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    k_max = min(k_max, len(x) - 1)
    best_k, best_score = 2, -np.inf
    for k in range(2, k_max + 1):
        labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(x)
        if len(np.unique(labels)) < 2:  # duplicate points: fewer distinct clusters than k
            continue
        score = silhouette_score(x, labels)
        if score > best_score:
            best_k, best_score = k, score
    return best_k


@dataclass(frozen=True)
class ModalityQuality:
    """The quality measurement of one modality (Fig. 7 of the paper).

    Attributes:
        hopkins: Hopkins statistic H of its features.
        k_star: KMeans cluster count with the best silhouette.
        cluster_gap: ``c = |k* - n_classes|``.
        quality: ``q = H / max(c, 1)``.
        weight: ``beta_QoM = q / sum q``.
    """

    hopkins: float
    k_star: int
    cluster_gap: int
    quality: float
    weight: float


def quality_weights(features: Mapping[str, np.ndarray], n_classes: int, seed: int = 0) -> dict[str, ModalityQuality]:
    """Quality of every modality from its unlabeled features ``(n, d)``; weights sum to 1.

    Args:
        features: modality (group) name -> features of the same unlabeled windows.
        n_classes: number of classes of the task.
        seed: seed of the Hopkins draws and of KMeans.
    """
    if n_classes < 2:
        raise ValueError(f"quality weights need at least 2 classes, but got {n_classes=}")
    measured = {}
    for name, x in features.items():
        h = hopkins(x, seed=seed)
        k_star = best_cluster_count(x, 2 * n_classes, seed=seed)
        gap = abs(k_star - n_classes)
        measured[name] = (h, k_star, gap, h / max(gap, 1))
    total = sum(q for *_, q in measured.values())
    uniform = 1.0 / len(measured)
    return {
        name: ModalityQuality(h, k_star, gap, q, q / total if total > 0 else uniform)
        for name, (h, k_star, gap, q) in measured.items()
    }
