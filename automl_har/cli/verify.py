"""``autohar verify STUDY``: does the tuned configuration beat the paper defaults on fresh draws?"""

from __future__ import annotations

import json

import typer
from rich.console import Console

from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error
from automl_har.cli._progress import StepProgress
from automl_har.cli._tables import Column, output_console, print_table


@exit_on_user_error
def verify(
    study: str = typer.Argument(..., metavar="STUDY", help="Study name (see `autohar studies`)."),
    top: int = typer.Option(3, "--top", min=1, help="Re-evaluate the K best trials by validation value."),
    repeats: int = typer.Option(6, "--repeats", min=2, help="Fresh label draws (seeds the search never used), per fold; 6 or more can show a significant win."),
    storage: o.Storage = None,
    workdir: o.Workdir = None,
    as_json: bool = o.JsonOutput,
) -> None:
    """Re-evaluate the defaults and the top trials on fresh label draws and compare them on test.

    Example: autohar verify supervised-watch --top 3 --repeats 6
    """
    from automl_har.cli.studies import load_study_by_name
    from automl_har.engines.verify import verification_summary, verify_study

    loaded = load_study_by_name(study, storage, workdir)
    console = output_console(stderr=as_json)  # with --json, stdout holds the JSON alone
    console.print(f"verifying {study}: defaults and the top {top} trials on {repeats} fresh label draws "
                  "(every fold of the split)")
    with StepProgress() as progress:
        outcome, ran = verify_study(loaded, top=top, repeats=repeats, progress=progress)
    summary = verification_summary(outcome) if ran else outcome
    if not ran:
        console.print(f"already verified with --top {top} --repeats {repeats}; showing the stored result (nothing re-run or re-logged)")
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    print_verification(output_console(), summary)


def print_verification(console: Console, summary: dict) -> None:
    """The per-configuration table, the paired gain of the winner, the optimism and the verdict."""
    headers = {"val_macro_f1": "val macro-F1", "val_accuracy": "val acc", "test_macro_f1": "test macro-F1",
               "test_accuracy": "test acc"}
    rows = [{"config": label, **s} for label, s in summary["configs"].items()]
    for row in rows:  # mean ± std in one cell, which never splits
        for metric in headers:
            row[f"{metric}_shown"] = f"{row[f'{metric}_mean']:.4f} ± {row[f'{metric}_std']:.4f}"
    columns = [Column("config"), *(Column(f"{metric}_shown", header) for metric, header in headers.items()),
               Column("test_linear_probe_macro_f1_mean", "test probe"), Column("test_majority_macro_f1_mean", "test majority"),
               Column("test_classes_predicted_min", "classes", shown=lambda n: "-" if n is None else str(int(n)))]
    print_table(f"fresh draws {summary['draws'][0]}..{summary['draws'][-1]} (mean ± std over folds x draws)", columns,
                rows, console=console)
    console.print("test probe / majority: the floors on the same draws (a logistic regression on the same labels "
                  "and input / the majority class), macro-F1; classes: the fewest the model predicts on test")
    gain = summary.get("gain")
    if gain is not None:
        console.print(f"winner trial {summary['winner_trial']} - defaults, test macro-F1 paired over {gain['n']} units: "
                      f"{gain['mean']:+.4f}, 95% bootstrap CI [{gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}], "
                      f"Wilcoxon signed-rank p = {gain['p_value']:.3g}, higher in {gain['wins']}/{gain['n']}")
        console.print(f"optimism (search-time validation value - fresh validation mean): {summary['optimism']:+.4f}")
    console.print(f"[bold]verdict: {summary['verdict']}[/]")
    if floors := summary.get("floors"):  # verifications stored before floors existed have none
        console.print(f"[bold]floors: {floors}[/]")
    if baseline := summary.get("baseline"):  # a study over several methods: the winner vs the supervised defaults
        console.print(f"[bold]baseline: {baseline}[/]", markup=True)
