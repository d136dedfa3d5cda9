"""The original app's voting rule (HUMAN when >= 3 of 5 say HUMAN), its generalisation, and the soft and
stacked methods checked against hand computations."""

import math

import numpy as np
import pytest

from humanorai.errors import InputError
from humanorai.labels import AI, HUMAN
from humanorai.scoring.ensemble import (
    Calibration,
    EnsemblePolicy,
    Stacker,
    Vote,
    confidence_percent,
    majority_vote,
    soft_vote,
    stacked_vote,
    threshold_at_fpr,
)


def votes(*p_human: float) -> list[Vote]:
    return [Vote(f"M{index}", value, 0.5) for index, value in enumerate(p_human)]


@pytest.mark.parametrize(("p_human", "prediction", "vote_count"), [
    ((0.9, 0.8, 0.7, 0.6, 0.55), HUMAN, 5),
    ((0.9, 0.8, 0.7, 0.2, 0.1), HUMAN, 3),
    ((0.9, 0.8, 0.3, 0.2, 0.1), AI, 2),
    ((0.4, 0.3, 0.2, 0.1, 0.0), AI, 0),
])
def test_original_four_cases(p_human: tuple[float, ...], prediction: int, vote_count: int) -> None:
    verdict = majority_vote(votes(*p_human))
    assert (verdict.prediction, verdict.vote_count, verdict.total_models) == (prediction, vote_count, 5)


def test_three_of_five_wins_even_against_a_confident_minority() -> None:
    verdict = majority_vote(votes(0.51, 0.51, 0.51, 0.0, 0.0))
    assert verdict.prediction == HUMAN
    assert verdict.p_human == pytest.approx(0.306)
    assert verdict.confidence == 30.6  # honest: the members' mean leans AI


def test_even_tie_is_broken_by_mean_p_human() -> None:
    assert majority_vote(votes(0.9, 0.6, 0.4, 0.3)).prediction == HUMAN  # mean 0.55
    assert majority_vote(votes(0.7, 0.6, 0.4, 0.1)).prediction == AI  # mean 0.45
    assert majority_vote(votes(0.75, 0.25)).prediction == HUMAN  # mean exactly 0.5


def test_degraded_to_one_member() -> None:
    verdict = majority_vote(votes(0.2))
    assert (verdict.prediction, verdict.vote_count, verdict.total_models, verdict.confidence) == (AI, 0, 1, 80.0)


def test_no_votes_is_an_error() -> None:
    with pytest.raises(ValueError):
        majority_vote([])


def test_threshold_decides_a_members_vote() -> None:
    assert Vote("GBM", 0.45, 0.4).prediction == HUMAN
    assert Vote("GBM", 0.5, 0.5).prediction == HUMAN
    assert Vote("GBM", 0.49, 0.5).prediction == AI


def test_confidence_is_probability_of_predicted_label() -> None:
    assert confidence_percent(HUMAN, 0.87456) == 87.46
    assert confidence_percent(AI, 0.25) == 75.0


def test_soft_vote_follows_the_mean_not_the_count() -> None:
    verdict = soft_vote(votes(0.51, 0.51, 0.51, 0.0, 0.0))  # majority says HUMAN, the mean (0.306) says AI
    assert (verdict.prediction, verdict.vote_count, verdict.method) == (AI, 3, "soft")
    assert verdict.p_human == pytest.approx(0.306)
    assert soft_vote(votes(0.75, 0.25)).prediction == HUMAN  # mean exactly 0.5


def test_stacked_vote_matches_a_hand_computation() -> None:
    stacker = Stacker(members=("M0", "M1"), weights=(2.0, -0.5), intercept=0.25)
    verdict = stacked_vote(votes(0.8, 0.3), stacker)
    by_hand = 1.0 / (1.0 + math.exp(-(0.25 + 2.0 * math.log(0.8 / 0.2) - 0.5 * math.log(0.3 / 0.7))))
    assert verdict.p_human == pytest.approx(by_hand, abs=1e-12)  # 0.9467…
    assert (verdict.prediction, verdict.vote_count, verdict.total_models, verdict.method) == (HUMAN, 1, 2, "stacked")


def test_stacker_ignores_member_order_and_survives_certain_members() -> None:
    stacker = Stacker(members=("M1", "M0"), weights=(1.0, 1.0), intercept=0.0)
    assert stacker.p_human({"M0": 1.0, "M1": 0.0}) == pytest.approx(0.5)  # clipped logits cancel, no inf/nan


def test_calibration_matches_a_hand_computation() -> None:
    calibration = Calibration(slope=1.5, intercept=-0.2)
    p = np.array([0.1, 0.5, 0.9])
    by_hand = [1.0 / (1.0 + math.exp(-(1.5 * math.log(v / (1 - v)) - 0.2))) for v in p]
    assert calibration.apply(p) == pytest.approx(by_hand, abs=1e-12)
    assert Calibration.from_dict(calibration.to_dict()) == calibration


def test_policy_reads_the_manifest_and_refuses_unknown_methods() -> None:
    stacker = Stacker(members=("M0", "M1"), weights=(1.0, 1.0), intercept=0.0)
    policy = EnsemblePolicy.from_manifest({"method": "soft", "stacked": stacker.to_dict()})
    assert (policy.default, policy.methods, policy.stacker) == ("soft", ("majority", "soft", "stacked"), stacker)
    assert policy.combine(votes(0.9, 0.2)).method == "soft"
    assert policy.combine(votes(0.9, 0.2), "majority").method == "majority"
    with pytest.raises(InputError, match="unknown ensemble method 'mean'"):
        policy.check("mean")
    without_stacker = EnsemblePolicy.from_manifest({"method": "majority"})
    assert without_stacker.methods == ("majority", "soft")
    with pytest.raises(InputError, match="no stacked combiner"):
        without_stacker.combine(votes(0.9), "stacked")


def test_stacked_falls_back_to_soft_when_one_of_its_members_is_missing() -> None:
    policy = EnsemblePolicy(stacker=Stacker(members=("M0", "M1"), weights=(1.0, 1.0), intercept=0.0))
    verdict = policy.combine([Vote("M0", 0.7, 0.5)], "stacked")
    assert (verdict.method, verdict.p_human) == ("soft", 0.7)


def test_threshold_at_a_false_positive_rate_lets_at_most_that_share_of_humans_below() -> None:
    human = np.array([0.9, 0.2, 0.6, 0.4, 0.8, 0.3, 0.7, 0.5, 0.95, 0.85])
    assert threshold_at_fpr(human, 0.1) == 0.3  # one of ten (0.2) lies below
    assert threshold_at_fpr(human, 0.05) == 0.2  # none may: below the lowest
    assert threshold_at_fpr(human, 0.25) == 0.4  # floor(2.5) = 2 below: 0.2, 0.3


def test_an_operating_point_moves_the_threshold_of_the_verdicts_method() -> None:
    points = {"majority": {"fpr5": 0.3, "fpr1": 0.1}, "soft": {"fpr5": 0.35, "fpr1": 0.15}}
    policy = EnsemblePolicy.from_manifest({"method": "majority", "operating_points": points})
    assert policy.operating_points == ("balanced", "fpr5", "fpr1")
    mostly_ai = votes(0.4, 0.3, 0.2)  # mean p_human 0.3: AI by every method's own rule
    assert policy.combine(mostly_ai).prediction == AI
    at_fpr1 = policy.combine(mostly_ai, "majority", "fpr1")
    assert (at_fpr1.prediction, at_fpr1.operating_point, at_fpr1.vote_count) == (HUMAN, "fpr1", 0)
    assert policy.combine(mostly_ai, "soft", "fpr5").prediction == AI  # 0.3 < 0.35
    assert policy.combine(mostly_ai, "majority", "fpr5").prediction == HUMAN  # 0.3 >= 0.3
    with pytest.raises(InputError, match="unknown operating point 'fpr2'"):
        policy.check_point("fpr2")


def test_a_bundle_without_operating_points_offers_only_balanced() -> None:
    policy = EnsemblePolicy.from_manifest({"method": "majority"})
    assert policy.operating_points == ("balanced",) and policy.check_point(None) == "balanced"
    with pytest.raises(InputError, match="this bundle has no fpr5 operating point"):
        policy.combine(votes(0.9), "majority", "fpr5")
