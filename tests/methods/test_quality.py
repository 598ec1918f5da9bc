"""Cosmo's quality of modality (QoM): Hopkins statistic, silhouette cluster count, beta_QoM."""

from __future__ import annotations

import numpy as np
import pytest

from automl_har.methods._quality import best_cluster_count, hopkins, quality_weights


def blobs(n_clusters: int, n: int = 300, dim: int = 2, spread: float = 0.02, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, size=(n_clusters, dim))
    return centres[np.arange(n) % n_clusters] + rng.normal(0, spread, size=(n, dim))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hopkins_is_near_one_half_on_uniform_data(seed):
    x = np.random.default_rng(seed).uniform(0, 1, size=(600, 2))
    assert hopkins(x, seed=seed + 10) == pytest.approx(0.5, abs=0.08)


def test_hopkins_is_near_one_on_well_separated_clusters():
    assert hopkins(blobs(4), seed=0) > 0.9


def test_hopkins_needs_three_points():
    with pytest.raises(ValueError, match="at least 3 points"):
        hopkins(np.zeros((2, 3)))


def test_best_cluster_count_finds_the_number_of_blobs():
    assert best_cluster_count(blobs(5, n=250), k_max=10) == 5


def test_quality_weights_favour_the_clusterable_modality():
    n_classes = 3
    rng = np.random.default_rng(0)
    features = {"clustered": blobs(n_classes, n=240, dim=8), "noise": rng.uniform(0, 1, size=(240, 8))}
    quality = quality_weights(features, n_classes, seed=0)
    assert quality["clustered"].k_star == n_classes and quality["clustered"].cluster_gap == 0
    assert quality["clustered"].quality == pytest.approx(quality["clustered"].hopkins)  # q = H / max(0, 1)
    assert quality["clustered"].hopkins > quality["noise"].hopkins
    assert quality["clustered"].weight > quality["noise"].weight
    assert quality["clustered"].weight + quality["noise"].weight == pytest.approx(1.0)
    gap = quality["noise"].cluster_gap
    assert quality["noise"].quality == pytest.approx(quality["noise"].hopkins / max(gap, 1))


def test_quality_weights_are_seeded():
    features = {"a": blobs(3, n=90, dim=4, spread=0.3), "b": blobs(2, n=90, dim=4, spread=0.3, seed=1)}
    assert quality_weights(features, 3, seed=4) == quality_weights(features, 3, seed=4)
