"""MLflow tracking: a parent run per study, a nested run per trial, checkpoints and plots."""

from automl_har.tracking._plots import log_study_plots, write_study_plots
from automl_har.tracking._runs import (
    EXPERIMENT,
    StudyTracker,
    TrialRun,
    close_run,
    log_finished_run,
    rows_as_csv,
    training_experiments,
)

__all__ = [
    "EXPERIMENT",
    "StudyTracker",
    "TrialRun",
    "close_run",
    "log_finished_run",
    "log_study_plots",
    "rows_as_csv",
    "training_experiments",
    "write_study_plots",
]
