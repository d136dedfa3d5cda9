"""The original app's voting rule (HUMAN when >= 3 of 5 say HUMAN) and its generalisation."""

import pytest

from humanorai.ensemble import Vote, confidence_percent, majority_vote
from humanorai.labels import AI, HUMAN


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
