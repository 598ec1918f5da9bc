"""MLflow tracking: a parent run per study, a nested run per trial, checkpoints and plots."""

from automl_har.tracking._client import RESUME_HINT, disk_error, tracking_client
from automl_har.tracking._plots import log_study_plots, write_study_plots
from automl_har.tracking._views import STUDY_KIND, TRIAL_KIND, save_trials_view, view_key
from automl_har.tracking._runs import (
    EXPERIMENT,
    StudyTracker,
    TrialRun,
    close_run,
    delete_study_runs,
    log_finished_run,
    rows_as_csv,
    training_experiments,
)

__all__ = [
    "EXPERIMENT",
    "RESUME_HINT",
    "StudyTracker",
    "TrialRun",
    "close_run",
    "delete_study_runs",
    "disk_error",
    "log_finished_run",
    "log_study_plots",
    "rows_as_csv",
    "save_trials_view",
    "tracking_client",
    "STUDY_KIND",
    "TRIAL_KIND",
    "view_key",
    "training_experiments",
    "write_study_plots",
]
