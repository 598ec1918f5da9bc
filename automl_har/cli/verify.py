"""``autohar verify STUDY``: does the tuned configuration beat the paper defaults on fresh draws?"""

from __future__ import annotations


import typer
from rich.console import Console
from rich.table import Table

from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error


@exit_on_user_error
def verify(
    study: str = typer.Argument(..., metavar="STUDY", help="Study name (see `autohar studies`)."),
    top: int = typer.Option(3, "--top", min=1, help="Re-evaluate the K best trials by validation value."),
    repeats: int = typer.Option(6, "--repeats", min=2, help="Fresh label draws (seeds the search never used), per fold; 6 or more can show a significant win."),
    storage: o.Storage = None,
    workdir: o.Workdir = None,
) -> None:
    """Re-evaluate the defaults and the top trials on fresh label draws and compare them on test."""
    from automl_har.cli.studies import load_study_by_name
    from automl_har.engines.verify import verification_summary, verify_study

    loaded = load_study_by_name(study, storage, workdir)
    console = Console()
    console.print(f"verifying {study}: defaults and the top {top} trials on {repeats} fresh label draws "
                  "(every fold of the split)")
    outcome, ran = verify_study(loaded, top=top, repeats=repeats)
    summary = verification_summary(outcome) if ran else outcome
    if not ran:
        console.print(f"already verified with --top {top} --repeats {repeats}; showing the stored result (nothing re-run or re-logged)")
    print_verification(console, summary)


def print_verification(console: Console, summary: dict) -> None:
    """The per-configuration table, the paired gain of the winner, the optimism and the verdict."""
    table = Table(title=f"fresh draws {summary['draws'][0]}..{summary['draws'][-1]} (mean ± std over folds x draws)")
    for column in ("config", "val macro-F1", "val acc", "test macro-F1", "test acc", "test probe", "test majority",
                   "classes"):
        table.add_column(column)
    for label, s in summary["configs"].items():
        floors = [f"{s[key]:.4f}" if key in s else "-" for key in
                  ("test_linear_probe_macro_f1_mean", "test_majority_macro_f1_mean")]
        classes = str(int(s["test_classes_predicted_min"])) if "test_classes_predicted_min" in s else "-"
        table.add_row(label, *[f"{s[f'{m}_mean']:.4f} ± {s[f'{m}_std']:.4f}"
                               for m in ("val_macro_f1", "val_accuracy", "test_macro_f1", "test_accuracy")],
                      *floors, classes)
    console.print(table)
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
