"""Binary classification metrics with HUMAN (1) as the positive class."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score

from humanorai.labels import HUMAN


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
