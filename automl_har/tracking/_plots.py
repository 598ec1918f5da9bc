"""Study summary plots (PNG) for the parent run: history, importances, parallel coordinates."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import optuna

from automl_har.attrs import TAG_PREFIX
from automl_har.tracking._runs import StudyTracker

PLOTS = {
    "optimization_history.png": "plot_optimization_history",
    "param_importances.png": "plot_param_importances",
    "parallel_coordinate.png": "plot_parallel_coordinate",
}


def write_study_plots(study: optuna.Study, folder: Path) -> dict[str, str]:
    """Write every plot that the study's trials allow; returns ``{file: error}`` for the others
    (e.g. importances need two completed trials with different values)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    skipped = {}
    for filename, function in PLOTS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = getattr(optuna_plots, function)(study)
            figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            figure.set_size_inches(9, 5.5)
            figure.tight_layout()
            figure.savefig(folder / filename, dpi=100)
        except Exception as err:  # noqa: BLE001 - a plot the data cannot support is skipped, not fatal
            skipped[filename] = f"{type(err).__name__}: {err}"
        finally:
            plt.close("all")
    return skipped


def log_study_plots(study: optuna.Study, tracker: StudyTracker) -> dict[str, str]:
    """Write the plots and log them to the parent run under ``plots/``."""
    with tempfile.TemporaryDirectory() as tmp:
        skipped = write_study_plots(study, Path(tmp))
        for png in sorted(Path(tmp).glob("*.png")):
            tracker.log_parent_artifact(png, "plots")
    if skipped:
        tracker.set_parent_tags({f"{TAG_PREFIX}plot_skipped.{k}": v[:250] for k, v in skipped.items()})
    return skipped
