"""``autohar search --dry-run``: what a search would do, with nothing recorded.

Three parts: the resolved configuration as the YAML that re-runs it (``--config``), the search
space with trial 0 (the paper's defaults), and the data it would load: per fold, the subjects and
windows of each part. Loading the data also runs every check a real search runs first.
"""

from __future__ import annotations

from rich.console import Console


def print_dry_run(console: Console, experiment, spec) -> None:
    import yaml

    from automl_har.config.build import config_of
    from automl_har.engines import check_search
    from automl_har.objectives.prepared import prepare_folds

    console.print("# resolved configuration: `autohar search --config FILE` runs exactly this", markup=False)
    console.print(yaml.safe_dump(config_of(spec, experiment.engine.name), sort_keys=False).rstrip(), markup=False,
                  soft_wrap=True)
    if spec.selects_method:  # every candidate is checked as a real search checks it
        from automl_har.engines import check_method_selection
        from automl_har.selection import method_spec

        runnable, excluded = check_method_selection(spec, create_workspace=False)
        for method, why in excluded.items():
            console.print(f"\nleft out: {method}: {why}", markup=False, soft_wrap=True)
        specs = [method_spec(spec, method) for method in runnable]
    else:
        check_search(spec, create_workspace=False)  # the space, trial 0 and the data are checked as a real search checks them
        specs = [spec]
    for searched in specs:
        _print_space(console, searched)
    data = specs[0].experiment
    pool = f" (sources {', '.join(data.sources)})" if data.sources else ""
    console.print(f"\ndata: {data.dataset}{pool}, modalities {', '.join(data.modalities or ('all',))}", markup=False)
    for fold in prepare_folds(data):
        parts = []
        for part, subjects in (("train", fold.split.train_subjects), ("validation", fold.split.val_subjects),
                               ("test", fold.split.test_subjects)):
            windows = len(getattr(fold, "train" if part == "train" else "val" if part == "validation" else "test"))
            parts.append(f"{part} {windows} windows of subjects {_subjects(subjects)}")
        console.print(f"  fold {fold.fold}: " + "; ".join(parts), markup=False, soft_wrap=True)
    console.print("\nnothing was recorded (--dry-run)", markup=False)


def _print_space(console: Console, spec) -> None:
    """The method's search space variant: each name, where it is suggested from, trial 0's value."""
    rows = spec.search_space().described(spec.fixed_params)
    console.print(f"\nsearch space {spec.space!r} of {spec.experiment.method}: {len(rows)} parameters "
                  f"(its first trial = the paper's defaults)", markup=False, soft_wrap=True)
    width = max((len(name) for name in rows), default=0)
    for name, (where, first) in rows.items():
        console.print(f"  {name:<{width}}  {where}; trial 0: {first}", markup=False, soft_wrap=True)
    if spec.fixed_params:
        console.print("fixed in every trial (params / --param): "
                      + ", ".join(f"{k}={v}" for k, v in spec.fixed_params.items()), markup=False, soft_wrap=True)


def _subjects(subjects) -> str:
    shown = [str(s) for s in subjects]
    return ",".join(shown) if len(shown) <= 12 else ",".join(shown[:12]) + f",... ({len(shown)})"
