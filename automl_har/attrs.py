"""Names under which autohar stores things in Optuna studies and MLflow runs, in one place.

Kept free of imports so that any module (and the CLI, before torch) can use them.
"""

# --- Optuna study user attributes -------------------------------------------------------------
#: the whole SearchSpec, so `autohar worker`, `verify` and `export` can rebuild it
SPEC_ATTR = "autohar_search_spec"
#: the id of the study's MLflow parent run
PARENT_RUN_ATTR = "mlflow_parent_run_id"
#: method and dataset of the study (``ExperimentSpec.as_tags`` keys, written next to its other tags)
METHOD_ATTR = "method"
DATASET_ATTR = "dataset"
#: per verified ``top<K>-r<R>`` key (``verify:top3-r5``): the summary dict
VERIFY_ATTR_PREFIX = "verify:"
#: the key of the last ``autohar verify``
LAST_VERIFY_ATTR = "verify_last"
#: the number of the first trial of the latest ``autohar search`` of the study: "the first trials all
#: failed" is judged from there, so a re-run after a fix is not stopped by the earlier failures
RUN_FIRST_TRIAL_ATTR = "run_first_trial"

# --- Optuna trial user attributes -------------------------------------------------------------
#: the id of the trial's MLflow run
TRIAL_RUN_ATTR = "mlflow_run_id"
#: the ``--param`` values that replaced what the sampler proposed
FIXED_PARAMS_ATTR = "fixed_params"
#: True on a trial closed because the process running it stopped (it does not count towards the total)
INTERRUPTED_ATTR = "interrupted"
#: trial user attr: {"host", "pid", "started"} of the process running it (see engines/_owners.py)
OWNER_ATTR = "owner"
#: why a FAIL trial failed (error text)
FAIL_REASON_ATTR = "fail_reason"
#: test metrics are stored under their own names with this prefix (reported, never given to the sampler)
TEST_METRIC_PREFIX = "test_"
#: the validation floors a trial stores beside its value (objectives/floors.py; reported, never
#: given to the sampler): the fewest classes its model predicted on a unit's validation windows
#: (1: degenerate, marked by `autohar show`), the majority-class and linear-probe macro-F1
VAL_CLASSES_PREDICTED_ATTR = "val_classes_predicted_min"
VAL_FLOOR_ATTRS = (VAL_CLASSES_PREDICTED_ATTR, "val_majority_macro_f1_mean", "val_linear_probe_macro_f1_mean")
#: measured costs of a trial's model (multi-objective searches): batch-1 latency, parameters, MACs
LATENCY_ATTR, N_PARAMS_ATTR, MACS_ATTR = "latency_ms", "n_params", "macs"
COST_ATTRS = (LATENCY_ATTR, N_PARAMS_ATTR, MACS_ATTR)
#: the method's notice that the trial departs from its paper (copied from ``NOTICE_TAG``), for `autohar show`
NOTICE_ATTR = "notice"

#: the method a trial of a ``--method auto`` study runs (its params carry the prefix ``<method>.``)
TRIAL_METHOD_ATTR = "method"
#: on a ``--method auto`` trial that starts from an earlier study's winner: ``<study>#<trial>``
WARM_START_ATTR = "warm_start_from"
#: study user attribute of a ``--method auto`` study: ``{method: why it cannot run}`` for the excluded ones
EXCLUDED_METHODS_ATTR = "methods_excluded"

# --- Optuna trial system attributes of the staged search (engines/staged.py) --------------------
#: the pre-training fields of the trial's arm, ``{name: value}``
STAGED_PRETRAIN_ATTR = "staged:pretrain"
#: the arm's number (0 = the paper's defaults, then in the order the arms started)
STAGED_ARM_ATTR = "staged:arm"
#: the successive-halving rung the trial belongs to (0 = the arm's first trials)
STAGED_RUNG_ATTR = "staged:rung"
#: the fraction of its pre-training the trial runs (``--fidelity epochs``; 1.0 otherwise)
STAGED_FRACTION_ATTR = "staged:pretrain_fraction"

# --- MLflow experiment tags ------------------------------------------------------------------
#: MLflow 3's experiment kind: its UI opens an experiment without it on the GenAI overview
#: (traces), and one of kind ``custom_model_development`` ("Machine learning") on its runs
MLFLOW_EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_EXPERIMENT_KIND = "custom_model_development"

# --- MLflow run tags ---------------------------------------------------------------------------
#: prefix of every autohar tag (``TrialRun.set_tag("cache.pretrain", ...)`` writes ``autohar.cache.pretrain``)
TAG_PREFIX = "autohar."
#: MLflow's own tag that nests a run under its parent
MLFLOW_PARENT_TAG = "mlflow.parentRunId"
STUDY_TAG = "autohar.study"
TRIAL_TAG = "autohar.trial"
ENGINE_TAG = "autohar.engine"
METHOD_TAG = "autohar.method"
DATASET_TAG = "autohar.dataset"
BUDGET_TAG = "autohar.budget"
#: JSON of every hyperparameter value a trial ran (MLflow params are truncated strings)
PARAMS_TAG = "autohar.params"
#: kind of a run that is not a study's trial (``reproduce``, ``pretrain``)
KIND_TAG = "autohar.kind"
#: trial outcome: COMPLETE, PRUNED or FAIL, with the reason of the last two
STATE_TAG = "autohar.state"
#: a staged search's trial: its arm and rung (``STAGED_ARM_ATTR``, ``STAGED_RUNG_ATTR``)
STAGED_ARM_TAG, STAGED_RUNG_TAG = "autohar.staged_arm", "autohar.staged_rung"
#: the fraction of its pre-training a staged trial ran (``STAGED_FRACTION_ATTR``)
STAGED_FRACTION_TAG = "autohar.pretrain_fraction"
FAIL_REASON_TAG = "autohar.fail_reason"
#: a ``--method auto`` trial that starts from an earlier study's winner (``WARM_START_ATTR``)
WARM_START_TAG = "autohar.warm_start"
PRUNE_REASON_TAG = "autohar.prune_reason"
#: why a COMPLETE trial's run has no ``checkpoint/`` (it could not be written, e.g. on a full disk)
CHECKPOINT_ERROR_TAG = "autohar.checkpoint_error"
#: on a trial run that a resumed search closed as its Optuna trial ended (a fault had left it open)
RECONCILED_TAG = "autohar.reconciled"
#: the trial run's metric that is the trial's value (validation macro-F1, mean over the label draws)
VALUE_METRIC = "val_macro_f1_mean"
TRACEBACK_TAG = "autohar.traceback"
#: parent-run tags of the best trial so far
BEST_TRIAL_TAG = "autohar.best_trial"
BEST_VALUE_TAG = "autohar.best_value"
#: parent-run tag of a method-selection study: the method of its best trial
BEST_METHOD_TAG = "autohar.best_method"
#: parent-run tag: the trial whose checkpoint the parent's ``best_checkpoint/`` holds
BEST_CHECKPOINT_TRIAL_TAG = "autohar.best_checkpoint_trial"
#: parent-run tags of the last verify
VERDICT_TAG = "autohar.verify_verdict"
VERIFY_KEY_TAG = "autohar.verify_key"
#: the run tag (``ctx.set_tag(NOTICE_TAG, text)``; MLflow ``autohar.notice``) by which a method says
#: that a run departs from its paper's setting, e.g. img2imu pre-training on windows, not on images
NOTICE_TAG = "notice"
