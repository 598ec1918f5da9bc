"""IMG2IMU's search space: the paper's 16-point grid, finetune vs full variants, conditional strengths."""

from __future__ import annotations

import itertools

import optuna
from optuna.trial import FixedTrial

from automl_har.engines._spec import AskTellGridSampler
from automl_har.methods import get_method
from automl_har.search_spaces import GridTrial, get_space
from automl_har.methods import PRETRAIN, paper_defaults, stage_names
from automl_har.methods.img2imu import Img2ImuParams
from automl_har.search_spaces.img2imu import AUGMENTATION_SUBSETS

PAPER = paper_defaults(Img2ImuParams)
PRETRAINING = stage_names(Img2ImuParams, PRETRAIN)


def test_grid_is_the_papers_sixteen_spectrogram_settings():
    space = get_space("img2imu")
    assert space.grid_size() == 16
    points = set()
    for nfft, delta in itertools.product(*space.grid.values()):
        params = space.space(GridTrial(FixedTrial({"nfft": nfft, "noverlap_delta": delta}), space.grid, space.defaults))
        typed = get_method("img2imu").parse_params(params)
        points.add((typed.nfft, typed.noverlap))
        assert {k: v for k, v in params.items() if k not in space.grid} == {
            k: PAPER[k] for k in params if k not in space.grid}
    assert points == {(n, n - d) for n in (32, 64, 128, 256) for d in (2, 4, 8, 16)}


def test_default_space_keeps_pretraining_fixed_so_one_encoder_serves_all_trials():
    assert get_space("img2imu").defaults == get_space("img2imu", "finetune").defaults == {
        k: PAPER[k] for k in ("nfft", "noverlap_delta", "lr", "epochs")}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(10):
        trial = study.ask()
        params = get_space("img2imu").space(trial)
        assert set(trial.params) == {"nfft", "noverlap_delta", "lr", "epochs"}
        pinned = {k: v for k, v in params.items() if k in PRETRAINING}
        assert set(pinned) >= {"augmentations", "temperature", "queue_size", "moco_dim"}
        assert pinned == {k: PAPER[k] for k in pinned}
        study.tell(trial, 0.0)


def test_full_space_searches_moco_and_only_the_chosen_augmentations_strengths():
    assert len(AUGMENTATION_SUBSETS) == 15 and "" not in AUGMENTATION_SUBSETS
    full = get_space("img2imu", "full")
    point = {**full.defaults, "augmentations": "Hue+Jitter", "hue_max_shift": 0.2, "jitter_magnitude": 0.05,
             "temperature": 0.2, "queue_size": 1024, "moco_dim": 32}
    trial = FixedTrial(point)
    params = full.space(trial)
    assert params["hue_max_shift"] == 0.2 and params["queue_size"] == 1024 and params["moco_dim"] == 32
    assert params["translate_max_fraction"] == PAPER["translate_max_fraction"]  # not chosen: fixed
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        params = full.space(trial)
        get_method("img2imu").parse_params(params)
        chosen = params["augmentations"].split("+")
        assert ("permute_chunks" in trial.params) == ("PermuteX" in chosen)
        seen.add(params["augmentations"])
        study.tell(trial, 0.0)
    assert len(seen) > 5


def test_ask_tell_grid_search_finishes_the_whole_grid():
    study = optuna.create_study(sampler=AskTellGridSampler({"nfft": [32, 64], "noverlap_delta": [2, 4]}, seed=0))
    for _ in range(4):  # optuna's GridSampler calls study.stop() after the last point: an error in ask/tell
        trial = study.ask()
        trial.suggest_categorical("nfft", [32, 64])
        trial.suggest_categorical("noverlap_delta", [2, 4])
        study.tell(trial, 0.5)
    assert {(t.params["nfft"], t.params["noverlap_delta"]) for t in study.trials} == {(32, 2), (32, 4), (64, 2), (64, 4)}
