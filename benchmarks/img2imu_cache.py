"""IMG2IMU trial wall time with and without the frozen-encoder embedding cache (issue 3).

One IMG2IMU trial (``repeats`` label draws: per draw the labeled, validation and test windows
go through the spectrogram transform and the frozen ResNet-18) is timed twice on Daphnet (ankle,
50 Hz, 4 s windows, from ``../shared/data/daphnet``):

* without the cache: the embedding stage always recomputes (the pre-trained encoder itself is
  cached in both runs: pre-training is a separate stage, warmed up before timing);
* with the cache: embeddings of every window come from the workspace cache, as in every trial
  of a search after the first one at the same (nfft, noverlap).

Prints one JSON object. Target: >= 20x faster with the cache.

    python benchmarks/img2imu_cache.py [--budget 0.05] [--repeats 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from automl_har.cache import StageCache
from automl_har.data.registry import WindowOptions
from automl_har.objectives import ExperimentSpec, Protocol, TrialHooks, run_trial
from automl_har.objectives.prepared import prepare_data
from automl_har.search_spaces import get_space
from automl_har.workspace import Workspace

DAPHNET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "daphnet"
EMBEDDINGS = "img2imu_embeddings"


class WithoutEmbeddingCache(StageCache):
    """The workspace cache for every stage except the embeddings, which are always recomputed."""

    def get_or_compute(self, stage, key, compute):
        if stage == EMBEDDINGS:
            self.misses += 1
            return compute(), False
        return super().get_or_compute(stage, key, compute)


def timed_trial(params: dict, spec: ExperimentSpec, cache: StageCache) -> tuple[float, dict, float]:
    tags: dict[str, str] = {}
    started = time.perf_counter()
    result = run_trial(params, spec, TrialHooks(cache=cache, set_tag=tags.__setitem__))
    return time.perf_counter() - started, tags, result.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(DAPHNET))
    parser.add_argument("--budget", type=float, default=0.05, help="fraction of the paper's epochs (both stages)")
    parser.add_argument("--repeats", type=int, default=3, help="label draws per trial")
    parser.add_argument("--pretrain-source", default="windows", choices=["windows", "random"])
    parser.add_argument("--workdir", default=None, help="workspace whose cache to use (default: a temporary one)")
    args = parser.parse_args()

    spec = ExperimentSpec(method="img2imu", dataset="daphnet", data_dir=args.data_dir,
                          window=WindowOptions(rate_hz=50.0), protocol=Protocol(repeats=args.repeats), budget=args.budget)
    params = {**get_space("img2imu").defaults, "pretrain_source": args.pretrain_source}
    data = prepare_data(spec)  # loading and windowing are cached per process: not part of the timing
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace.resolve(args.workdir or tmp).create()
        warmup_s, _, _ = timed_trial(params, spec, StageCache(workspace.cache_dir))  # fills both caches
        without_s, without_tags, value_without = timed_trial(params, spec, WithoutEmbeddingCache(workspace.cache_dir))
        with_s, with_tags, value_with = timed_trial(params, spec, StageCache(workspace.cache_dir))
    print(json.dumps({
        "benchmark": "img2imu_embedding_cache",
        "dataset": "daphnet (ankle, 50 Hz, 4 s windows)",
        "windows": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        "budget": args.budget, "repeats": args.repeats, "pretrain_source": args.pretrain_source,
        "nfft": params["nfft"], "noverlap": params["nfft"] - params["noverlap_delta"],
        "first_trial_s": round(warmup_s, 3),
        "trial_s_without_embedding_cache": round(without_s, 3),
        "trial_s_with_embedding_cache": round(with_s, 3),
        "speedup": round(without_s / with_s, 1),
        "target_speedup": 20,
        "val_macro_f1_without_cache": round(value_without, 6),
        "val_macro_f1_with_cache": round(value_with, 6),
        "tags_with_cache": {k: v for k, v in with_tags.items() if k.startswith("cache.")},
        "torch_threads": torch.get_num_threads(),
    }, indent=2))


if __name__ == "__main__":
    main()
