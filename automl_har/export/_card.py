"""``MODEL.md``: a short model card written from the bundle's config."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_card(config: Mapping[str, Any]) -> str:
    exp, prov, cost, model = config["experiment"], config["provenance"], config.get("cost", {}), config.get("model", {})
    protocol, window = exp["protocol"], config["window"]
    shots = (f"{protocol['labels_per_class']} labeled windows per class" if protocol.get("labels_per_class")
             else f"{protocol.get('label_ratio')} of the training windows labeled")
    modalities = "; ".join(f"`{m}` {', '.join(v['channels'])} at {v['rate_hz']:g} Hz, {v['window_length']} samples"
                           for m, v in config["modalities"].items())
    metrics = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in config.get("metrics", {}).items())
    lines = [
        f"# {config['method']} on {exp['dataset']}",
        "",
        f"Exported by autohar {prov['versions']['autohar']} from study `{prov.get('study', '-')}`, "
        f"trial {prov.get('trial', '-')} ({prov.get('source', '')}).",
        "",
        "## Data",
        f"- classes ({len(config['classes'])}): {', '.join(config['classes'])}",
        f"- input: {modalities}",
        f"- {_window_text(window)} with {window['overlap']:g} overlap; z-score "
        f"{'per sensor' if exp.get('normalization') == 'sensor' else 'per channel'} with the training subjects' "
        "statistics (in `autohar.yaml`)",
        "",
        "## Protocol",
        f"- subject-wise split (seed {protocol['seed']}), {shots}, {_count(protocol['repeats'], 'seeded label draw')}; "
        f"this model is draw {prov['label_draw']} (seed {prov['draw_seed']}), the best on validation",
        f"- training budget {exp['budget']} of the paper's epochs on {exp['device']}",
        "",
        "## Metrics (macro-F1 over subjects never seen in training; test reported only, never used for selection)",
        "| metric | value |",
        "|---|---|",
        metrics,
        "",
        "## Cost on the exporting CPU",
        f"- latency: {_fmt(cost.get('latency_ms', '-'))} ms per window (batch 1, median of {cost.get('timed_runs', '-')} "
        f"runs after warm-up, {cost.get('torch_threads', '-')} torch threads, {cost.get('cpu', '-')})",
        f"- parameters: {cost.get('n_params', '-')}; MACs per window: {cost.get('macs', '-')} (Conv/Linear/RNN layers)",
        "",
        "## Files",
        f"- `autohar.yaml`: preprocessing, label map, hyperparameters, provenance; model files: "
        f"{', '.join(model.get('files', {}).values()) or '-'}",
        f"- model input: {model.get('input', '-')} "
        + ("(raw windows per modality in the order above, float32 (N, T, C); z-score is inside)"
           if model.get("input") == "windows" else "(the method's network inputs; build them with `autohar predict`)"),
        "",
        "## Limits",
        "- few-label training: expect lower accuracy on devices, placements or people unlike the training data",
        "- the recording must have every channel above; it is resampled to the rate above before windowing",
        "- latency was measured on the exporting machine's CPU; re-measure on the target device",
        "",
    ]
    return "\n".join(lines)


def write_card(path: Path, config: Mapping[str, Any]) -> None:
    Path(path).write_text(render_card(config))


def _window_text(window) -> str:
    """``2.56 s windows``, or the dataset's own length when the experiment named none."""
    return f"{window['window_s']:g} s windows" if window.get("window_s") else "windows of the dataset's default length"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
