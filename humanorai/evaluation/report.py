"""Write an evaluation report as files: ``report.json``, ``report.md``, ``roc.png`` and ``reliability.png``.

The JSON holds every number (NaN, e.g. ROC AUC of a one-label group, becomes null); the Markdown is the
readable summary of the same numbers; the PNGs are drawn with matplotlib's file-only Agg backend, so no
display is needed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot is imported)
from sklearn.metrics import roc_curve  # noqa: E402

from humanorai.evaluation.evaluate import MEASURES, ScoredCorpus, format_metric, report_models  # noqa: E402

REPORT_JSON, REPORT_MD, ROC_PNG, RELIABILITY_PNG = "report.json", "report.md", "roc.png", "reliability.png"
METRIC_COLUMNS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece", "human_flagged_ai")


def write_report(report: dict[str, Any], scored: ScoredCorpus, folder: Path, context: dict[str, str]) -> list[Path]:
    """Write the four files into ``folder`` (created) and return their paths.

    ``context`` (bundle id, data, command…) heads both the JSON and the Markdown.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in (REPORT_JSON, REPORT_MD, ROC_PNG, RELIABILITY_PNG)]
    paths[0].write_text(json.dumps(json_safe({"context": context, **report}), indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(render_markdown(report, context), encoding="utf-8")
    _plot_roc(scored, paths[2])
    _plot_reliability(report, paths[3])
    return paths


def render_markdown(report: dict[str, Any], context: dict[str, str]) -> str:
    lines = ["# Evaluation report", ""]
    lines += [f"- {key}: `{value}`" for key, value in context.items()]
    lines += [f"- texts: {report['texts']} ({report['labels']['HUMAN']} HUMAN, {report['labels']['AI']} AI)",
              f"- best ensemble method on these texts (accuracy, then ROC AUC): **{report['best_method']}**", ""]
    lines += ["## Metrics", "", "HUMAN is the positive class. ECE: expected calibration error over 10 bins. "
              "human_flagged_ai: the share of human texts called AI. `@ fpr5` / `@ fpr1`: the method at the "
              "bundle's operating point (at most 5 % / 1 % of held-out human texts called AI when it was fitted).", ""]
    lines += _metrics_table(report)
    lines += ["", "## Confusion matrices", "", "Rows: true label; columns: predicted.", ""]
    lines += ["| model | HUMAN→HUMAN | HUMAN→AI | AI→HUMAN | AI→AI |", "|---|---|---|---|---|"]
    for name, entry in report_models(report):
        matrix = entry["confusion"]
        lines.append(f"| {name} | {matrix['HUMAN']['HUMAN']} | {matrix['HUMAN']['AI']} | "
                     f"{matrix['AI']['HUMAN']} | {matrix['AI']['AI']} |")
    lines += ["", f"![ROC curves]({ROC_PNG})", "", f"![Reliability diagram]({RELIABILITY_PNG})", ""]
    if "groups" in report:
        lines += _group_table(report["groups"])
    return "\n".join(lines) + "\n"


def _metrics_table(report: dict[str, Any]) -> list[str]:
    lines = ["| model | " + " | ".join(METRIC_COLUMNS) + " |", "|---" * (len(METRIC_COLUMNS) + 1) + "|"]
    for name, entry in report_models(report):
        values = (format_metric(entry["metrics"][column]) for column in METRIC_COLUMNS)
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    return lines


def _group_table(groups: dict[str, dict[str, Any]]) -> list[str]:
    names = [name for name in next(iter(groups.values()))["accuracy"] if "@" not in name]
    lines = ["## Accuracy per group", "", "| group | texts | HUMAN | AI | " + " | ".join(names) + " |",
             "|---" * (len(names) + 4) + "|"]
    for group, entry in groups.items():
        lines.append(f"| {group} | {entry['texts']} | {entry['HUMAN']} | {entry['AI']} | "
                     + " | ".join(format_metric(entry["accuracy"][name]) for name in names) + " |")
    methods = [name for name in next(iter(groups.values()))["accuracy"] if name.startswith("ensemble:")]
    lines += ["", "## Ensemble methods per group", "",
              "| group | method | " + " | ".join(MEASURES) + " |", "|---" * (len(MEASURES) + 2) + "|"]
    for group, entry in groups.items():
        for method in methods:
            values = [(entry[measure] or {}).get(method) for measure in MEASURES]  # roc_auc: None for one label
            lines.append(f"| {group} | {method.removeprefix('ensemble:')} | "
                         + " | ".join(format_metric(value) for value in values) + " |")
    return lines + [""]


def _plot_roc(scored: ScoredCorpus, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(6, 6))
    if len(set(scored.labels.tolist())) == 2:
        curves = {**scored.members, **{f"ensemble: {name}": result for name, result in scored.methods.items()
                                       if name != "majority"}}  # majority's p_human is soft's: one curve
        for name, result in curves.items():
            false_positive, true_positive, _ = roc_curve(scored.labels, result.p_human)
            axes.plot(false_positive, true_positive, label=name, linestyle="--" if "ensemble" in name else "-")
    else:
        axes.text(0.5, 0.5, "one label only: no ROC curve", ha="center")
    axes.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    axes.set(xlabel="false positive rate (AI called HUMAN)", ylabel="true positive rate (HUMAN called HUMAN)",
             title="ROC curves", xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_reliability(report: dict[str, Any], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(6, 6))
    for name, entry in report_models(report):
        if name == "ensemble: majority":
            continue  # same p_human as soft
        rows = [row for row in entry["reliability"] if row["count"]]
        axes.plot([row["mean_p_human"] for row in rows], [row["fraction_human"] for row in rows], marker="o",
                  label=f"{name} (ECE {format_metric(entry['metrics']['ece'])})",
                  linestyle="--" if name.startswith("ensemble") else "-")
    axes.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    axes.set(xlabel="mean p_human in bin", ylabel="share of HUMAN texts in bin", title="Reliability diagram",
             xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def json_safe(value: Any) -> Any:
    """``value`` with every NaN replaced by None, so it writes as strict JSON (null)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    return value
