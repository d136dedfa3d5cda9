"""Confusion matrix, reliability table and calibration error against counts done by hand."""

from __future__ import annotations

import numpy as np
import pytest

from humanorai.evaluation.metrics import confusion, expected_calibration_error, reliability

LABELS = np.array([1, 1, 1, 0, 0, 0])
P_HUMAN = np.array([0.95, 0.85, 0.15, 0.05, 0.12, 1.0])


def test_confusion_counts_by_true_then_predicted_label() -> None:
    predictions = (P_HUMAN >= 0.5).astype(np.int64)
    assert confusion(LABELS, predictions) == {"HUMAN": {"HUMAN": 2, "AI": 1}, "AI": {"HUMAN": 1, "AI": 2}}


def test_reliability_bins_and_expected_calibration_error() -> None:
    table = reliability(LABELS, P_HUMAN, bins=10)
    assert [row["count"] for row in table] == [1, 2, 0, 0, 0, 0, 0, 0, 1, 2]  # p = 1.0 lands in the last bin
    assert table[1] == {"lower": 0.1, "upper": 0.2, "count": 2, "mean_p_human": 0.135, "fraction_human": 0.5}
    assert table[2]["mean_p_human"] is None
    # bins: [0.05]→0 HUMAN, [0.15, 0.12]→½, [0.85]→1, [0.95, 1.0]→½
    by_hand = (1 * 0.05 + 2 * abs(0.135 - 0.5) + 1 * abs(0.85 - 1) + 2 * abs(0.975 - 0.5)) / 6
    assert expected_calibration_error(table) == pytest.approx(by_hand, abs=1e-6)
