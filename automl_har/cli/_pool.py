"""The CLI side of experiments over a pool of datasets (``--datasets``, ``--target``, ``--label-map``,
repeatable ``--data-dir NAME=PATH``), shared by ``autohar search`` and ``autohar lodo``.

What a method needs is read from its tags in the static catalog (no torch import):
``pretraining_data`` (only ``labeled_sources`` methods take ``--datasets``), ``zero_shot``
(``--label-ratio 0``), ``default_window`` and ``normalization`` (what a combined experiment uses
when the user types no window or normalization).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import typer

#: help texts shared by the commands that take a pool
DATASETS_HELP = ("Pool of datasets (comma list: names, name:variant or custom .npz/CSV paths) for methods that "
                 "pre-train on labeled source datasets; the sources are the pool minus --target.")
TARGET_HELP = "Target dataset of a pool (a synonym of --dataset for these methods)."
LABEL_MAP_HELP = "builtin (Presotto et al.'s 10 activities), identity (native class names) or a YAML file (docs/custom-data.md)."
DATA_DIR_HELP = ("Folder of a dataset's files: NAME=PATH (repeatable, for any dataset of the pool) or a bare PATH "
                 "(the target's). Default $AUTOHAR_DATA/<dataset> or ~/.autohar/data/<dataset>.")
NORMALIZATION_HELP = ("channel (a z-score per channel) or sensor (per modality, pooled over its axes) [default: the "
                      "method's, else channel]; a skeleton modality is always pooled (one affine for the whole body).")


@dataclass(frozen=True)
class PoolOptions:
    """What the pool options resolve to for one experiment."""

    target: str
    sources: tuple[str, ...]
    data_dir: Optional[str]
    data_dirs: tuple[tuple[str, str], ...]


def method_tags(method: str) -> dict:
    from automl_har import catalog

    if method in catalog.METHODS:
        return catalog.METHODS[method].tags
    from automl_har.methods import get_method  # registered after the catalog was written (a plugin)

    return get_method(method).tags


def split_list(text: Optional[str]) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip()) if text else ()


def parse_data_dirs(values: Optional[list[str]]) -> tuple[Optional[str], tuple[tuple[str, str], ...]]:
    """``--data-dir`` values -> (the target's bare PATH or None, ``(name, path)`` pairs)."""
    bare, named = None, []
    for value in values or []:
        name, sep, path = value.partition("=")
        if sep and name.strip() and path.strip():
            named.append((name.strip(), path.strip()))
        elif bare is None:
            bare = value
        else:
            raise typer.BadParameter(f"give one bare PATH (the target's folder) and NAME=PATH for the others, but got "
                                     f"{bare!r} and {value!r}", param_hint="--data-dir")
    return bare, tuple(named)


def resolve_pool(method: str, datasets: Optional[str], target: Optional[str], dataset: Optional[str],
                 data_dir_values: Optional[list[str]]) -> PoolOptions | None:
    """The target, sources and folders of a pool experiment; None without ``--datasets``.

    Raises ``typer.BadParameter`` for ``--datasets`` on a method that does not pre-train on labeled
    sources, a ``--target`` outside the pool, or ``--target`` and ``--dataset`` that disagree."""
    from automl_har.data.registry import split_variant

    bare, named = parse_data_dirs(data_dir_values)
    labeled_sources = method_tags(method).get("pretraining_data") == "labeled_sources"
    if target and dataset and target != dataset:
        raise typer.BadParameter(f"--target {target} and --dataset {dataset} disagree; give one of them",
                                 param_hint="--target")
    target = target or dataset
    pool = split_list(datasets)
    if not pool:
        if target and named and not labeled_sources:
            unknown = [name for name, _ in named if name != target]
            if unknown:
                raise typer.BadParameter(f"--data-dir {unknown[0]}=... names a dataset that is not in the experiment "
                                         f"({target}); give --data-dir {target}=PATH or a bare PATH",
                                         param_hint="--data-dir")
        return None if not labeled_sources else PoolOptions(target or "", (), bare, named)
    if not labeled_sources:
        from automl_har import catalog

        sourced = [n for n, card in catalog.METHODS.items() if card.tags.get("pretraining_data") == "labeled_sources"]
        raise typer.BadParameter(f"method {method!r} pre-trains on the target's unlabeled windows; --datasets/--target "
                                 f"are for methods that pre-train on labeled source datasets: {', '.join(sourced)}",
                                 param_hint="--datasets")
    if not target:
        raise typer.BadParameter(f"give --target, one of the pool {', '.join(pool)}", param_hint="--target")
    if len(set(pool)) != len(pool):
        raise typer.BadParameter(f"the pool names a dataset twice ({','.join(pool)}); name each once",
                                 param_hint="--datasets")
    bases = {split_variant(name)[0] for name in pool}  # NAME=PATH may name a variant's base dataset
    outside = [name for name, _ in named if name not in pool and name not in bases]
    if outside:
        raise typer.BadParameter(f"--data-dir {outside[0]}=... is not in the pool ({', '.join(pool)}); fix the name",
                                 param_hint="--data-dir")
    sources = tuple(name for name in pool if name != target)  # a target outside the pool: every one is a source
    return PoolOptions(target, sources, bare, named)


def experiment_data(method: str, *, dataset: Optional[str], datasets: Optional[str], target: Optional[str],
                    data_dir_values: Optional[list[str]], label_map: Optional[str], normalization: Optional[str],
                    chosen: dict) -> dict:
    """The ``ExperimentSpec`` keywords of what an experiment reads: ``dataset``, ``data_dir``,
    ``sources``, ``data_dirs``, ``label_map`` and ``normalization``, from the options, then what a
    preset set (``chosen``, :func:`~automl_har.objectives.presets.apply_preset`), then the method's
    tags. Raises ``typer.BadParameter`` for a missing dataset, a method that needs sources and has
    none, or pool options on a method that takes none."""
    datasets = datasets or ",".join(chosen.get("datasets", ()))
    pool = resolve_pool(method, datasets, target, dataset, data_dir_values)
    fields = {"label_map": label_map or chosen.get("label_map") or "builtin",
              "normalization": normalization or chosen.get("normalization") or default_normalization(method)}
    if pool is None:
        bare, named = parse_data_dirs(data_dir_values)
        dataset = dataset or target or chosen.get("dataset")
        if dataset is None:
            raise typer.BadParameter("give --dataset NAME (or a --preset that names one)", param_hint="--dataset")
        return {**fields, "dataset": dataset, "data_dir": bare or dict(named).get(dataset)}
    if not pool.sources:
        raise typer.BadParameter(f"method {method!r} pre-trains on labeled source datasets; give the pool and its "
                                 "target: --datasets A,B,C --target D (e.g. --preset combined-lodo --target uci-har)",
                                 param_hint="--datasets")
    return {**fields, "dataset": pool.target, "data_dir": pool.data_dir or dict(pool.data_dirs).get(pool.target),
            "sources": pool.sources, "data_dirs": pool.data_dirs}


def window_options(method: str, chosen: dict, *, pool: bool, typed: dict | None = None) -> dict:
    """The ``WindowOptions`` keywords of an experiment: what the user ``typed`` (None values: not
    typed), else the preset's (``chosen``), else the method's tag ``default_window`` for a pool
    experiment, else the dataset's own (overlap 0.5)."""
    window = {"overlap": 0.5, **(dict(method_tags(method).get("default_window") or {}) if pool else {})}
    window.update({k: chosen[k] for k in ("window_s", "rate_hz", "overlap") if k in chosen})
    window.update({k: v for k, v in (typed or {}).items() if v is not None})
    return window


def default_normalization(method: str) -> str:
    return method_tags(method).get("normalization", "channel")


def check_zero_shot(method: str, label_ratio: Optional[float]) -> None:
    if label_ratio == 0 and not method_tags(method).get("zero_shot"):
        raise typer.BadParameter(f"method {method!r} needs labeled target windows; --label-ratio 0 (zero-shot) is "
                                 "for methods that transfer from labeled sources (combined)", param_hint="--label-ratio")
