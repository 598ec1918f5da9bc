"""The MLflow UI's view of a study's trials: a saved view on the experiment that ``autohar ui``
links to, so the runs page opens on the trials with no click.

MLflow 3's runs page (3.17) takes its filter and sort from the URL, but its visible columns only
from its own UI state: metric, parameter and tag columns start hidden
(``getDefaultSelectedColumns`` shows Source, Models and Dataset), and no URL parameter, server
option or experiment setting chooses them. What it does read is a *shared view*: an experiment
tag ``mlflow.sharedViewState.<key>`` whose state (filter, sort, ``selectedColumns``) the page
applies when opened with ``?viewStateShareKey=<key>`` (``useSharedExperimentViewState``). So each
study gets one such view:

- filter: the study's trial runs only (tags ``autohar.study`` and ``autohar.kind = trial``), so the
  parent, export and other studies' runs are not among the rows;
- sort: the search value (``val_macro_f1_mean``) descending; sorted by a metric, MLflow lists the
  runs flat instead of folding them under their parent (``shouldNestChildrenAndFetchParents``);
- columns: validation and test macro-F1 means, the duration, and every searched hyperparameter.
"""

from __future__ import annotations

import json
import time
from typing import Iterable

from automl_har.attrs import KIND_TAG, METHOD_TAG, STUDY_TAG, VALUE_METRIC

#: the experiment-tag prefix MLflow's UI reads shared views from
SHARED_VIEW_TAG_PREFIX = "mlflow.sharedViewState."
#: what ``autohar.kind`` says of a trial's run, and of a study's parent run
TRIAL_KIND, STUDY_KIND = "trial", "study"
#: the metric columns every study's view shows, after the search value
VIEW_METRICS = (VALUE_METRIC, "test_macro_f1_mean")


def view_key(study_name: str) -> str:
    """The share key of ``study_name``'s view (letters, digits, ``-`` and ``_``: it goes into a URL)."""
    return "autohar-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in study_name)


def trials_view_state(study_name: str, param_names: Iterable[str], method_column: bool = False) -> dict:
    """The runs page's state for ``study_name``: its trials, best first, with the metric, duration
    and hyperparameter columns (and, for a study over several methods, each trial's method)."""
    quoted = study_name.replace("'", "\\'")
    return {
        "searchFilter": f"tags.`{STUDY_TAG}` = '{quoted}' and tags.`{KIND_TAG}` = '{TRIAL_KIND}'",
        "orderByKey": f"metrics.`{VALUE_METRIC}`",
        "orderByAsc": False,
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "modelVersionFilter": "All Runs",
        "datasetsFilter": [],
        "selectedColumns": [*(f"metrics.`{m}`" for m in VIEW_METRICS), "attributes.`Duration`",
                            *([f"tags.`{METHOD_TAG}`"] if method_column else []),
                            *(f"params.`{name}`" for name in param_names)],
    }


def save_trials_view(client, experiment_id: str, study_name: str, param_names: Iterable[str],
                     method_column: bool = False) -> str:
    """Store (or refresh) the study's view as an experiment tag; its share key."""
    key = view_key(study_name)
    envelope = {"name": f"{study_name}: trials", "createdAt": int(time.time() * 1000),
                "state": json.dumps(trials_view_state(study_name, param_names, method_column))}
    client.set_experiment_tag(experiment_id, SHARED_VIEW_TAG_PREFIX + key, json.dumps(envelope))
    return key
