"""Calibration and stacking recover known coefficients from data generated with them."""

from __future__ import annotations

import numpy as np
import pytest

from humanorai.errors import TrainingError
from humanorai.scoring.ensemble import sigmoid
from humanorai.training.stacking import fit_calibration, fit_operating_points, fit_stacker


def test_platt_scaling_recovers_the_generating_slope_and_intercept() -> None:
    rng = np.random.default_rng(0)
    raw_logits = rng.normal(0.0, 2.0, 20000)
    labels = (rng.random(20000) < sigmoid(0.5 * raw_logits - 0.3)).astype(np.int64)  # over-confident member
    calibration = fit_calibration(sigmoid(raw_logits), labels)
    assert calibration.slope == pytest.approx(0.5, abs=0.05)
    assert calibration.intercept == pytest.approx(-0.3, abs=0.05)


def test_the_stacker_weights_the_informative_member_and_ignores_noise() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 5000)
    informative = sigmoid(np.where(labels == 1, 1.5, -1.5) + rng.normal(0.0, 1.0, 5000))
    noise = rng.random(5000)
    stacker = fit_stacker({"good": informative, "noise": noise}, labels)
    assert stacker.members == ("good", "noise")
    good, ignored = stacker.weights
    assert good > 1.0 and abs(ignored) < 0.1


def test_one_label_only_is_a_training_error() -> None:
    with pytest.raises(TrainingError, match="both labels"):
        fit_calibration(np.array([0.2, 0.7]), np.array([1, 1]))


def test_operating_points_reproduce_their_false_positive_rates_on_the_data_they_were_fitted_on() -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(2000) < 0.5).astype(np.int64)
    scores = {"soft": np.clip(rng.normal(0.35 + 0.3 * labels, 0.15), 0, 1), "majority": rng.random(2000)}
    points = fit_operating_points(scores, labels)
    human = labels == 1
    for method, p_human in scores.items():
        for point, rate in (("fpr5", 0.05), ("fpr1", 0.01)):
            flagged = np.mean(p_human[human] < points[method][point])
            assert rate - 1.0 / human.sum() <= flagged <= rate  # at most the rate, and as close as the data allows
    with pytest.raises(TrainingError, match="needs human texts"):
        fit_operating_points(scores, np.zeros(2000, dtype=np.int64))
