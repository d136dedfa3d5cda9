"""Binary classification metrics with HUMAN (1) as the positive class."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score

from humanorai.labels import AI, HUMAN, label_name
from humanorai.scoring.ensemble import threshold_at_fpr

#: Equal-width bins of ``p_human`` for the calibration error and the reliability diagram.
CALIBRATION_BINS = 10


def binary_metrics(labels: np.ndarray, p_human: np.ndarray, threshold: float = 0.5,
                   predictions: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy, precision, recall, F1, ROC AUC and log loss, rounded to 6 decimals.

    The label-based metrics use ``predictions`` when given (e.g. a majority vote), else ``p_human >=
    threshold``; ROC AUC and log loss always use ``p_human``.
    """
    if predictions is None:
        predictions = (p_human >= threshold).astype(np.int64)
    clipped = np.clip(p_human, 1e-15, 1 - 1e-15)
    both_classes = len(set(labels.tolist())) == 2
    values = {
        "accuracy": accuracy_score(labels, predictions),
        "precision": precision_score(labels, predictions, pos_label=HUMAN, zero_division=0),
        "recall": recall_score(labels, predictions, pos_label=HUMAN, zero_division=0),
        "f1": f1_score(labels, predictions, pos_label=HUMAN, zero_division=0),
        "roc_auc": roc_auc_score(labels, p_human) if both_classes else float("nan"),
        "log_loss": log_loss(labels, clipped, labels=[0, 1]),
    }
    return {name: round(float(value), 6) for name, value in values.items()}


def confusion(labels: np.ndarray, predictions: np.ndarray) -> dict[str, dict[str, int]]:
    """Counts by true label (outer key) and predicted label (inner key), both named HUMAN / AI."""
    return {label_name(truth): {label_name(guess): int(np.sum((labels == truth) & (predictions == guess)))
                                for guess in (HUMAN, AI)}
            for truth in (HUMAN, AI)}


def reliability(labels: np.ndarray, p_human: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict[str, Any]]:
    """Per equal-width bin of ``p_human``: how many texts, their mean ``p_human`` and the share that is HUMAN.

    Empty bins are kept (count 0, means None) so every model's table has the same rows.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    positions = np.digitize(p_human, edges[1:-1])  # 0 … bins-1; p = 1.0 lands in the last bin
    table = []
    for index in range(bins):
        inside = positions == index
        count = int(inside.sum())
        table.append({
            "lower": round(float(edges[index]), 6), "upper": round(float(edges[index + 1]), 6), "count": count,
            "mean_p_human": round(float(p_human[inside].mean()), 6) if count else None,
            "fraction_human": round(float(labels[inside].mean()), 6) if count else None,
        })
    return table


def expected_calibration_error(table: list[dict[str, Any]]) -> float:
    """ECE: the count-weighted mean gap between mean ``p_human`` and the HUMAN share, over the bins."""
    total = sum(row["count"] for row in table)
    gap = sum(row["count"] * abs(row["mean_p_human"] - row["fraction_human"]) for row in table if row["count"])
    return round(gap / total, 6) if total else float("nan")


def human_flagged_ai(labels: np.ndarray, predictions: np.ndarray) -> float:
    """The share of HUMAN texts called AI: the wrongly accused (NaN without human texts)."""
    human = labels == HUMAN
    return round(float(np.mean(predictions[human] == AI)), 6) if human.any() else float("nan")


def ai_detected_at_fpr(labels: np.ndarray, p_human: np.ndarray, false_positive_rate: float) -> float:
    """The share of AI texts caught when the threshold lets at most ``false_positive_rate`` of the human
    texts be called AI (RAID's measure; the threshold is set on these texts' own human scores)."""
    human, machine = p_human[labels == HUMAN], p_human[labels == AI]
    if not len(human) or not len(machine):
        return float("nan")
    return round(float(np.mean(machine < threshold_at_fpr(human, false_positive_rate))), 6)
