"""Does a tuned configuration beat the paper defaults on label draws the search never used?

:func:`verify_configurations` re-evaluates the defaults and the search's top trials on the same
fresh draws (every fold of a ``folds:K`` split), pairs their test values unit by unit
((fold, draw)), and states a plain verdict. It knows nothing of Optuna or MLflow: the caller
(``autohar verify``, :mod:`automl_har.engines.verify`) reads the study and records the result.

Why this exists: a few-label search selects on a small validation set, so the winner's validation
value is optimistic and its gain may be draw noise (Oliver et al., NeurIPS 2018; Perez, Kiela &
Cho, NeurIPS 2021). See docs/evaluation.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from automl_har.objectives.floors import FLOOR_KINDS, Degeneracy, degeneracy
from automl_har.objectives.protocol import FRESH_DRAWS_START, ExperimentSpec

#: bootstrap resamples of the paired mean difference, and their seed (the CI is reproducible)
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
#: the Wilcoxon signed-rank level the verdict asks for, next to a bootstrap CI above 0
SIGNIFICANCE = 0.05
BEATS = "the tuned configuration beats the defaults on fresh draws"
DOES_NOT = "it does not"


@dataclass(frozen=True)
class PairedComparison:
    """Paired differences ``tuned - default`` over evaluation units (fold, draw).

    Attributes:
        mean: mean difference.
        ci_low / ci_high: 95% percentile-bootstrap interval of the mean difference.
        p_value: two-sided Wilcoxon signed-rank p-value (1.0 when every difference is 0).
        n: number of paired units.
        wins: units where the tuned configuration scored higher.
    """

    mean: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    wins: int


def paired_comparison(tuned: Sequence[float], default: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> PairedComparison:
    """Mean paired difference with a percentile-bootstrap 95% CI and a Wilcoxon signed-rank test."""
    from scipy.stats import wilcoxon

    diff = np.asarray(tuned, dtype=np.float64) - np.asarray(default, dtype=np.float64)
    if diff.ndim != 1 or len(diff) == 0:
        raise ValueError(f"need two equally long, non-empty sequences of paired values, but got {len(tuned)} and {len(default)}")
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    p_value = 1.0 if np.allclose(diff, 0) else float(wilcoxon(diff).pvalue)
    return PairedComparison(float(diff.mean()), float(low), float(high), p_value, len(diff), int((diff > 0).sum()))


@dataclass
class Reevaluation:
    """One configuration re-run on fresh draws: per-unit values in the order of :attr:`units`."""

    label: str  # "defaults" or "trial 7"
    trial: int | None
    params: dict[str, Any]
    search_value: float | None  # its value in the search (None for the defaults when not a trial)
    units: list[tuple[int, int]]
    val_f1: list[float]
    val_accuracy: list[float]
    test_f1: list[float]
    test_accuracy: list[float]
    #: per unit, the test floors of macro-F1 and the classes the model predicts on test
    #: (:mod:`~automl_har.objectives.floors`); empty when the evaluator measured none
    test_majority: list[float] = field(default_factory=list)
    test_linear_probe: list[float] = field(default_factory=list)
    test_classes_predicted: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Mean and std of every metric, e.g. ``test_macro_f1_mean``; the floors' means
        (``test_majority_macro_f1_mean``, ``test_linear_probe_macro_f1_mean``) and the fewest
        classes predicted on test (``test_classes_predicted_min``) when measured."""
        out = {}
        for name, values in (("val_macro_f1", self.val_f1), ("val_accuracy", self.val_accuracy),
                             ("test_macro_f1", self.test_f1), ("test_accuracy", self.test_accuracy)):
            out[f"{name}_mean"], out[f"{name}_std"] = float(np.mean(values)), float(np.std(values))
        for kind, values in zip(FLOOR_KINDS, (self.test_majority, self.test_linear_probe)):
            if values:
                out[f"test_{kind}_macro_f1_mean"] = float(np.mean(values))
        if self.test_classes_predicted:
            out["test_classes_predicted_min"] = float(min(self.test_classes_predicted))
        return out

    @property
    def degeneracy(self) -> Degeneracy:
        """Whether its test macro-F1 is degenerate (:func:`~automl_har.objectives.floors.degeneracy`)."""
        majority = float(np.mean(self.test_majority)) if self.test_majority else float("nan")
        return degeneracy(float(np.mean(self.test_f1)), majority, self.test_classes_predicted, unit="unit")


@dataclass
class Verification:
    """The outcome of ``autohar verify``: the defaults, the re-evaluated top trials, and the verdict.

    Attributes:
        key: ``top<K>-r<R>``: what was verified (re-running the same key adds nothing).
        draws: the fresh label-draw numbers (the search used ``0 .. repeats - 1``).
        defaults: the paper defaults re-evaluated.
        tuned: the top trials re-evaluated, best search value first.
        comparisons: trial number -> test macro-F1 paired with the defaults.
        winner: the search's pick (its best trial); ``None`` when the defaults were the best trial.
        optimism: the winner's search-time validation value minus its fresh validation mean.
        baseline: in a study over several methods whose winner is not the supervised baseline, the
            baseline's paper defaults re-evaluated on the same draws (``supervised defaults``).
        baseline_comparison: the winner (or the defaults, when they won) minus the baseline.
    """

    key: str
    draws: list[int]
    defaults: Reevaluation
    tuned: list[Reevaluation]
    comparisons: dict[int, PairedComparison] = field(default_factory=dict)
    winner: Reevaluation | None = None
    optimism: float | None = None
    baseline: Reevaluation | None = None
    baseline_comparison: PairedComparison | None = None

    @property
    def floors_verdict(self) -> str:
        """The floors beside the verdict: where the winner (or the defaults, when they won) stands
        against the majority class and the linear probe on the same fresh draws ("" if unmeasured)."""
        config = self.winner or self.defaults
        summary = config.summary()
        probe, majority = summary.get("test_linear_probe_macro_f1_mean"), summary.get("test_majority_macro_f1_mean")
        if probe is None or majority is None:
            return ""  # an evaluator that measured no floors (hand-made numbers)
        mean = summary["test_macro_f1_mean"]
        text = (f"{config.label} test macro-F1 {mean:.4f} vs floors: majority class {majority:.4f}, linear probe "
                f"{probe:.4f}")
        if (degenerate := config.degeneracy).degenerate:
            return f"{text}: DEGENERATE ({degenerate.reason})"
        return f"{text}: {'above both' if mean > probe else 'BELOW the linear probe (a finding to explain)'}"

    @property
    def configurations(self) -> list[Reevaluation]:
        """Every configuration re-evaluated: the defaults, the top trials, the baseline (if any)."""
        return [self.defaults, *self.tuned, *([self.baseline] if self.baseline is not None else [])]

    @property
    def baseline_verdict(self) -> str:
        """Whether the winner beats the supervised baseline's defaults too (same rule as :attr:`verdict`); ""
        when there is no baseline."""
        b = self.baseline_comparison
        if b is None:
            return ""
        config = self.winner or self.defaults
        beats = b.ci_low > 0 and b.p_value < SIGNIFICANCE
        return (f"{config.label} {'beats' if beats else 'does not beat'} the {self.baseline.label}: test macro-F1 gain "
                f"{b.mean:+.4f}, 95% CI [{b.ci_low:+.4f}, {b.ci_high:+.4f}], p={b.p_value:.3g}")

    @property
    def winner_comparison(self) -> PairedComparison | None:
        return self.comparisons.get(self.winner.trial) if self.winner is not None else None

    @property
    def verdict(self) -> str:
        """Plain: the tuned configuration beats the defaults, or it does not.

        It beats them when both say so: the 95% bootstrap interval of the paired gain lies above 0
        and the Wilcoxon signed-rank test rejects "no difference" at p < 0.05. The percentile
        bootstrap alone is too narrow with a handful of units (5 draws), and with n units the
        smallest two-sided Wilcoxon p is 2^(1 - n), so fewer than 6 units can never show a win.
        """
        c = self.winner_comparison
        if c is None:
            return f"{DOES_NOT}: the search's best trial is the defaults themselves"
        if c.ci_low > 0 and c.p_value < SIGNIFICANCE:
            return BEATS
        detail = f"test macro-F1 gain {c.mean:+.4f}, 95% CI [{c.ci_low:+.4f}, {c.ci_high:+.4f}], p={c.p_value:.3g}"
        if 2.0 ** (1 - c.n) >= SIGNIFICANCE:
            detail += f"; {c.n} paired units cannot reach p < {SIGNIFICANCE}: use --repeats 6 or more"
        return f"{DOES_NOT} ({detail})"

    def rows(self) -> list[dict[str, Any]]:
        """One row per configuration and unit: the CSV artifact."""
        rows = []
        for config in self.configurations:
            for i, (fold, draw) in enumerate(config.units):
                rows.append({"config": config.label, "trial": "" if config.trial is None else config.trial,
                             "fold": fold, "draw": draw, "val_macro_f1": config.val_f1[i],
                             "val_accuracy": config.val_accuracy[i], "test_macro_f1": config.test_f1[i],
                             "test_accuracy": config.test_accuracy[i],
                             **{f"test_{name}": values[i] for name, values in
                                (("majority_macro_f1", config.test_majority),
                                 ("linear_probe_macro_f1", config.test_linear_probe),
                                 ("classes_predicted", config.test_classes_predicted)) if values}})
        return rows

    def metrics(self) -> dict[str, float]:
        """Flat numbers for the study's parent run, prefixed ``verify.<key>.``."""
        prefix = f"verify.{self.key}."
        out = {f"{prefix}defaults.{k}": v for k, v in self.defaults.summary().items()}
        for config in self.tuned:
            out.update({f"{prefix}trial_{config.trial}.{k}": v for k, v in config.summary().items()})
        if (c := self.winner_comparison) is not None:
            out.update({f"{prefix}gain_mean": c.mean, f"{prefix}gain_ci_low": c.ci_low,
                        f"{prefix}gain_ci_high": c.ci_high, f"{prefix}gain_p_value": c.p_value,
                        f"{prefix}optimism": self.optimism, f"{prefix}winner_trial": float(self.winner.trial)})
        if (b := self.baseline_comparison) is not None:
            out.update({f"{prefix}baseline.{k}": v for k, v in self.baseline.summary().items()})
            out.update({f"{prefix}gain_over_baseline_mean": b.mean, f"{prefix}gain_over_baseline_ci_low": b.ci_low,
                        f"{prefix}gain_over_baseline_ci_high": b.ci_high,
                        f"{prefix}gain_over_baseline_p_value": b.p_value})
        out[f"{prefix}beats_defaults"] = float(self.verdict == BEATS)
        out[f"{prefix}degenerate"] = float((self.winner or self.defaults).degeneracy.degenerate)
        return out


#: (params, draws) -> {"units", "val_f1", "val_accuracy", "test_f1", "test_accuracy"}: per-unit lists
Evaluator = Callable[[Mapping[str, Any], Sequence[int]], dict]


def fresh_draws(repeats: int) -> list[int]:
    """Label-draw numbers no search uses (searches draw ``0 .. repeats - 1``, below the start)."""
    return list(range(FRESH_DRAWS_START, FRESH_DRAWS_START + repeats))


def evaluate_on_draws(spec: ExperimentSpec, hooks=None) -> Evaluator:
    """An evaluator that runs :func:`run_trial` on the given draws (every fold of the split)."""
    from automl_har.objectives._trial import run_trial

    def evaluate(params: Mapping[str, Any], draws: Sequence[int]) -> dict[str, list]:
        result = run_trial(params, spec, hooks, draws=draws)
        return {"units": result.units, "val_f1": result.val_f1, "val_accuracy": result.val_accuracy,
                "test_f1": result.test_f1, "test_accuracy": result.test_accuracy,
                "test_majority": [f.majority["macro_f1"] for f in result.floors["test"]],
                "test_linear_probe": [f.linear_probe["macro_f1"] for f in result.floors["test"]],
                "test_classes_predicted": result.classes_predicted["test"]}

    return evaluate


def verify_configurations(defaults: Mapping[str, Any], top: Sequence[tuple[int, Mapping[str, Any], float]],
                          repeats: int, evaluate: Evaluator,
                          defaults_trial: tuple[int, float] | None = None,
                          announce: Callable[[str], None] | None = None,
                          baseline: tuple[str, Mapping[str, Any], Evaluator] | None = None) -> Verification:
    """Re-evaluate ``defaults`` and the ``top`` trials (number, params, search value; best first)
    on ``repeats`` fresh draws, and compare each with the defaults on test macro-F1.

    ``defaults_trial`` is (number, search value) of the trial that ran the defaults, if any: when
    it is the search's best, the winner is the defaults and nothing is claimed. ``announce(label)``
    is called before each configuration runs (a progress bar's new line). ``baseline``: (label,
    params, evaluator) of another method's defaults (the supervised baseline of a study over several
    methods), re-evaluated on the same draws and compared with the winner (or the defaults).
    """
    draws = fresh_draws(repeats)

    def rerun(label: str, trial: int | None, params: Mapping[str, Any], value: float | None) -> Reevaluation:
        if announce is not None:
            announce(label)
        return Reevaluation(label, trial, dict(params), value, **evaluate(params, draws))

    default_number, default_value = defaults_trial or (None, None)
    reference = rerun("defaults", default_number, defaults, default_value)
    tuned = [rerun(f"trial {n}", n, p, v) for n, p, v in top]
    verification = Verification(f"top{len(top)}-r{repeats}", draws, reference, tuned)
    for config in tuned:
        verification.comparisons[config.trial] = paired_comparison(config.test_f1, reference.test_f1)
    if tuned and (default_value is None or tuned[0].search_value > default_value):
        verification.winner = tuned[0]
        verification.optimism = float(tuned[0].search_value - np.mean(tuned[0].val_f1))
    if baseline is not None:
        label, params, evaluate_baseline = baseline
        if announce is not None:
            announce(label)
        verification.baseline = Reevaluation(label, None, dict(params), None, **evaluate_baseline(params, draws))
        chosen = verification.winner or reference
        verification.baseline_comparison = paired_comparison(chosen.test_f1, verification.baseline.test_f1)
    return verification
