"""Calibration and stacking recover known coefficients from data generated with them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from humanorai.errors import TrainingError
from humanorai.scoring.ensemble import logit, sigmoid
from humanorai.training.stacking import (
    STACKER_C,
    fit_calibration,
    fit_operating_points,
    fit_stacker,
    fit_two_stage_stacker,
)


def member_scores(rng: np.random.Generator, labels: np.ndarray, strength: float) -> np.ndarray:
    """A member's ``p_human``: its logit leans ``strength`` towards the true label, plus unit noise."""
    return sigmoid(np.where(labels == 1, strength, -strength) + rng.normal(0.0, 1.0, len(labels)))


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
    informative = member_scores(rng, labels, 1.5)
    noise = rng.random(5000)
    stacker = fit_stacker({"good": informative, "noise": noise}, labels)
    assert stacker.members == ("good", "noise")
    good, ignored = stacker.weights
    assert good > 1.0 and abs(ignored) < 0.1


def test_a_two_stage_stacker_weighs_the_first_stage_members_on_their_many_rows_only() -> None:
    """On the many rows ``a`` is the better member; on the few shared rows ``b`` looks better (a quirk of
    those groups). The two-stage stacker keeps the many rows' ratio of ``a`` to ``b``, where a one-stage fit on
    the few rows follows the quirk, and it serves as one stacker: the second stage over the first's logit."""
    rng = np.random.default_rng(4)
    many = rng.integers(0, 2, 20000)
    first_stage = {"a": member_scores(rng, many, 1.5), "b": member_scores(rng, many, 0.5)}
    few = rng.integers(0, 2, 600)
    p_human = {"a": member_scores(rng, few, 0.3), "b": member_scores(rng, few, 1.5), "c": member_scores(rng, few, 1.0)}
    inner = fit_stacker(first_stage, many)
    stacker = fit_two_stage_stacker(first_stage, many, p_human, few)
    assert stacker.members == ("a", "b", "c")
    weight_a, weight_b, weight_c = stacker.weights
    assert weight_a / weight_b == pytest.approx(inner.weights[0] / inner.weights[1], rel=1e-6)
    assert weight_a > weight_b > 0 and weight_c > 0
    one_stage_a, one_stage_b, _ = fit_stacker(p_human, few).weights
    assert one_stage_b > one_stage_a  # what fitting every weight on the few rows would have learnt
    inner_logit = inner.intercept + inner.weights[0] * logit(p_human["a"]) + inner.weights[1] * logit(p_human["b"])
    outer = LogisticRegression(C=STACKER_C, max_iter=1000).fit(np.column_stack([inner_logit, logit(p_human["c"])]),
                                                               few)
    text = {name: float(values[0]) for name, values in p_human.items()}
    assert stacker.p_human(text) == pytest.approx(outer.predict_proba([[inner_logit[0], logit(text["c"])]])[0, 1],
                                                  abs=1e-6)


def test_a_two_stage_stacker_needs_its_first_stage_among_the_members_and_others_beside_them() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 200)
    scores = {name: member_scores(rng, labels, 1.0) for name in "abc"}
    with pytest.raises(TrainingError, match="two-stage"):
        both = {"a": scores["a"], "b": scores["b"]}
        fit_two_stage_stacker(both, labels, both, labels)  # no member beside the first stage
    with pytest.raises(TrainingError, match="two-stage"):
        fit_two_stage_stacker({"a": scores["a"], "d": scores["b"]}, labels, scores, labels)  # no d among them


def test_one_label_only_is_a_training_error() -> None:
    with pytest.raises(TrainingError, match="both labels"):
        fit_calibration(np.array([0.2, 0.7]), np.array([1, 1]))


def test_operating_points_reproduce_their_false_positive_rates_on_the_data_they_were_fitted_on() -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(2000) < 0.5).astype(np.int64)
    scores = {"soft": np.clip(rng.normal(0.35 + 0.3 * labels, 0.15), 0, 1), "majority": rng.random(2000)}
    points, record = fit_operating_points(scores, labels)
    assert record == {"rule": "quantile", "groups": 0, "human_texts": int(labels.sum())}
    human = labels == 1
    for method, p_human in scores.items():
        for point, rate in (("fpr5", 0.05), ("fpr1", 0.01)):
            flagged = np.mean(p_human[human] < points[method][point])
            assert rate - 1.0 / human.sum() <= flagged <= rate  # at most the rate, and as close as the data allows
    with pytest.raises(TrainingError, match="needs human texts"):
        fit_operating_points(scores, np.zeros(2000, dtype=np.int64))


def groups_of_shifted_humans(rng: np.random.Generator, groups: int, per_group: int) -> tuple[np.ndarray, np.ndarray]:
    """Human scores whose level shifts from group to group (as sources differ), and their groups."""
    shifts = rng.normal(0.0, 0.08, groups)
    scores = np.concatenate([np.clip(rng.normal(0.6 + shift, 0.15, per_group), 0, 1) for shift in shifts])
    return scores, np.repeat([f"g{index}" for index in range(groups)], per_group)


def test_with_enough_groups_the_points_hold_on_groups_never_seen() -> None:
    rng = np.random.default_rng(11)
    fitted_scores, fitted_groups = groups_of_shifted_humans(rng, 20, 60)
    labels = np.ones(len(fitted_scores), dtype=np.int64)
    points, record = fit_operating_points({"soft": fitted_scores}, labels, fitted_groups)
    assert record == {"rule": "group-bootstrap", "confidence": 0.8, "resamples": 1000, "groups": 20,
                      "human_texts": 1200}
    plain, _ = fit_operating_points({"soft": fitted_scores}, labels)
    new_scores, _ = groups_of_shifted_humans(np.random.default_rng(12), 400, 60)  # 400 groups never seen
    for point, rate in (("fpr5", 0.05), ("fpr1", 0.01)):
        threshold = points["soft"][point]
        assert threshold < plain["soft"][point]  # a margin for the groups' spread
        assert np.mean(fitted_scores < threshold) <= rate  # still true on the texts it was fitted on
        assert np.mean(new_scores < threshold) <= rate < np.mean(new_scores < plain["soft"][point])
    # the same scores give the same thresholds (the resamples are seeded)
    assert fit_operating_points({"soft": fitted_scores}, labels, fitted_groups)[0] == points


def test_with_one_group_the_points_are_plain_quantiles_and_with_two_they_keep_a_margin() -> None:
    """Four validation groups, as the demo has, are enough to resample: the points keep a margin there."""
    rng = np.random.default_rng(13)
    scores, groups = groups_of_shifted_humans(rng, 4, 100)
    labels = np.ones(len(scores), dtype=np.int64)
    plain = fit_operating_points({"soft": scores}, labels)[0]
    points, record = fit_operating_points({"soft": scores}, labels, np.full(len(scores), "g0"))
    assert record["rule"] == "quantile" and record["groups"] == 1 and points == plain
    for count in (2, 4):
        inside = np.isin(groups, [f"g{index}" for index in range(count)])
        points, record = fit_operating_points({"soft": scores[inside]}, labels[inside], groups[inside])
        assert record["rule"] == "group-bootstrap" and record["groups"] == count
        nominal = fit_operating_points({"soft": scores[inside]}, labels[inside])[0]
        assert all(points["soft"][point] <= nominal["soft"][point] for point in ("fpr5", "fpr1"))
        assert points["soft"]["fpr5"] < nominal["soft"]["fpr5"]
