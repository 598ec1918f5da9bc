"""From a study to a bundle: pick the trial, fetch (or re-train) its checkpoint, log the export
to MLflow, optionally register it; and ``train --config`` (re-run an exported configuration)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import optuna
import torch
from optuna.trial import TrialState

from automl_har.attrs import (
    LATENCY_ATTR, MACS_ATTR, METHOD_TAG, MLFLOW_PARENT_TAG, N_PARAMS_ATTR, PARAMS_TAG, PARENT_RUN_ATTR, TEST_METRIC_PREFIX,
    TRIAL_RUN_ATTR, TRIAL_TAG,
)
from automl_har.errors import ConfigError
from automl_har.export._bundle import (
    CARD_FILE, CONFIG_FILE, check_bundle_folder, experiment_from_config, read_config, write_bundle,
)
from automl_har.export._registry import register_bundle
from automl_har.export._script import require_onnx
from automl_har.objectives import ExperimentSpec, TrialHooks, run_trial
from automl_har.search_spec import SearchSpec, ran_params
from automl_har.selection import trial_spec
from automl_har.storage import find_study, rank_by_validation
from automl_har.tracking import StudyTracker


def load_study(name: str, storage_urls: list[str]) -> tuple[optuna.Study, SearchSpec]:
    """``(study, SearchSpec)`` of the study ``name`` in one of ``storage_urls``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = find_study(name, storage_urls)
    return study, SearchSpec.from_study(study)


def select_trial(study: optuna.Study, trial: str = "best", max_latency_ms: float | None = None):
    """``best`` = highest validation macro-F1 (first objective); a number; or the best-F1 trial
    whose measured latency is at most ``max_latency_ms``."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        raise ConfigError(f"study {study.study_name!r} has no completed trial; run `autohar search` first")
    if max_latency_ms is not None:
        if trial != "best":
            raise ConfigError("give either --trial N or --max-latency-ms, not both")
        measured = [t for t in complete if LATENCY_ATTR in t.user_attrs]
        if not measured:
            raise ConfigError(f"study {study.study_name!r} has no per-trial latency; search with "
                              "--objectives f1,latency (or f1,params) to measure it")
        fast = [t for t in measured if t.user_attrs[LATENCY_ATTR] <= max_latency_ms]
        if not fast:
            lowest = min(t.user_attrs[LATENCY_ATTR] for t in measured)
            raise ConfigError(f"no trial runs within --max-latency-ms {max_latency_ms}; the fastest takes "
                              f"{lowest:.3f} ms, raise the bound")
        return rank_by_validation(fast)[0]
    if trial == "best":
        return rank_by_validation(complete)[0]
    try:
        number = int(trial)
    except ValueError:
        raise ConfigError(f"--trial must be best or a trial number, but got {trial!r}") from None
    found = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not found or found[0].state != TrialState.COMPLETE:
        state = found[0].state.name if found else "missing"
        raise ConfigError(f"trial {number} of study {study.study_name!r} is {state}; pick a COMPLETE trial "
                          "(see `autohar show`)")
    return found[0]


def trial_checkpoint(spec, frozen, progress=None) -> tuple[dict, dict, str]:
    """``(checkpoint, params, source)``: the trial's MLflow artifact, or re-trained when it has none.

    Only trials that were best so far (or every trial of a multi-objective search) keep a
    checkpoint; for the others we re-run :func:`run_trial` with the study's spec and the trial's
    params, which is deterministic under the protocol seed on CPU (decision documented in docs/export.md);
    ``progress`` (``start(label)``, ``update(done, total, what)``) follows that re-training.
    """
    from mlflow import MlflowClient

    run_id = frozen.user_attrs.get(TRIAL_RUN_ATTR)
    params = ran_params(frozen)
    if run_id:
        client = MlflowClient(tracking_uri=spec.resolved_tracking_uri)
        tagged = client.get_run(run_id).data.tags.get(PARAMS_TAG)
        params = json.loads(tagged) if tagged else params
        artifacts = {a.path for a in client.list_artifacts(run_id, "checkpoint")}
        if "checkpoint/model.pt" in artifacts:
            with tempfile.TemporaryDirectory() as tmp:
                from mlflow.artifacts import download_artifacts

                os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bar on the CLI

                path = download_artifacts(run_id=run_id, artifact_path="checkpoint/model.pt", dst_path=tmp,
                                          tracking_uri=spec.resolved_tracking_uri)
                return torch.load(path, map_location="cpu", weights_only=False), params, f"MLflow run {run_id}"
    experiment = replace(spec.experiment, device="cpu")
    result = run_trial(params, experiment, _progress_hooks(progress, f"re-training trial {frozen.number}"))
    return result.checkpoint, params, "re-trained from the study's spec (the trial kept no checkpoint)"


def _progress_hooks(progress, label: str) -> TrialHooks | None:
    if progress is None:
        return None
    progress.start(label)
    return TrialHooks(progress=progress.update)


def export_study(name: str, storage_urls: list[str], out: Path, trial: str = "best", fmt: str = "torchscript",
                 max_latency_ms: float | None = None, register: str | None = None, progress=None) -> dict[str, Any]:
    if fmt in ("onnx", "both"):
        require_onnx()
    check_bundle_folder(out)  # before a re-training that a file in the way would waste
    study, spec = load_study(name, storage_urls)
    frozen = select_trial(study, trial, max_latency_ms)
    spec = trial_spec(spec, frozen)  # a study over several methods: the trial's method and its spec
    checkpoint, params, source = trial_checkpoint(spec, frozen, progress)
    metrics = {"val_macro_f1_mean": float(frozen.values[0]),
               **{k: float(v) for k, v in frozen.user_attrs.items() if k.startswith(TEST_METRIC_PREFIX)}}
    provenance = {"study": name, "trial": frozen.number, "source": source, "storage": spec.storage_url,
                  "sampler": spec.sampler, "sampler_seed": spec.seed, "objectives": list(spec.objectives),
                  "mlflow_run_id": frozen.user_attrs.get(TRIAL_RUN_ATTR, "")}
    config = write_bundle(out, checkpoint, spec.experiment, provenance, metrics, fmt)
    config["provenance"]["export_run_id"] = log_export(spec.resolved_tracking_uri, spec.artifact_uri, out, config,
                                                       study.user_attrs.get(PARENT_RUN_ATTR), register)
    return config


def log_export(tracking_uri: str, artifact_uri: str | None, out: Path, config: Mapping[str, Any],
               parent_run_id: str | None, register: str | None) -> str:
    """An ``export`` MLflow run (nested under the study's run) with the cost metrics and the
    bundle files; with ``register``, the model is logged with ``mlflow.pytorch`` (signature and
    input example), registered under that name and given the alias ``champion``."""
    prov = config["provenance"]
    tracker = StudyTracker(tracking_uri, artifact_uri, str(prov.get("study", "export")))
    tags = {"autohar.export": "true", TRIAL_TAG: str(prov.get("trial", "")), METHOD_TAG: config["method"]}
    if parent_run_id:
        tags[MLFLOW_PARENT_TAG] = parent_run_id
    run = tracker.client.create_run(tracker.experiment_id, run_name=f"export-trial-{prov.get('trial', '')}", tags=tags)
    run_id = run.info.run_id
    try:
        cost = config["cost"]
        for key in (LATENCY_ATTR, N_PARAMS_ATTR, MACS_ATTR):
            tracker.client.log_metric(run_id, key, float(cost[key]))
        for key, value in config["metrics"].items():
            tracker.client.log_metric(run_id, key, float(value))
        for name in (CONFIG_FILE, CARD_FILE):
            tracker.client.log_artifact(run_id, str(Path(out) / name), "bundle")
        if register:
            version = register_bundle(tracking_uri, run_id, Path(out), config, register)
            tracker.client.set_tag(run_id, "autohar.registered", f"{register} v{version}")
    except BaseException:
        tracker.client.set_terminated(run_id, "FAILED")
        raise
    tracker.client.set_terminated(run_id, "FINISHED")
    return run_id


def train_from_config(path: Path, all_labels: bool = False, out: Path | None = None, fmt: str = "torchscript",
                      progress=None):
    """Re-run an exported configuration on CPU. Returns ``(result, exported val macro-F1)``.

    ``all_labels``: one run on every labeled training window (label ratio 1, one draw) instead
    of the exported few-label protocol; its validation F1 is then not comparable to the export's.
    """
    config = read_config(path)
    if out is not None:
        check_bundle_folder(out)
    experiment: ExperimentSpec = replace(experiment_from_config(config), device="cpu")
    if all_labels:
        experiment = replace(experiment, protocol=replace(experiment.protocol, label_ratio=1.0, repeats=1))
    result = run_trial(config["params"], experiment, _progress_hooks(progress, f"training {config['method']}"))
    if out is not None:
        provenance = {"study": config["provenance"].get("study", ""), "trial": config["provenance"].get("trial", ""),
                      "source": f"autohar train --config {path}" + (" --all-labels" if all_labels else "")}
        write_bundle(out, result.checkpoint, experiment, provenance, result.metrics(), fmt)
    return result, float(config["metrics"]["val_macro_f1_mean"])
