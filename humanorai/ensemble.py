"""Combine member outputs into the verdict (DESIGN §2).

Majority vote over the members that answered. With five members this is exactly the original app's rule:
HUMAN when at least 3 of 5 vote HUMAN, and ``vote_count`` counts HUMAN votes. With an even number of
members a tie is broken by the members' mean ``p_human`` (HUMAN when it is at least 0.5), so the verdict
never depends on member order.

``p_human`` of the ensemble is the mean of the members' ``p_human``; ``confidence`` is, as everywhere, the
probability of the predicted label in percent. Unlike the original, which averaged the confidences of
members that predicted different labels, a split vote therefore shows a confidence near 50 %.
"""

from __future__ import annotations

from dataclasses import dataclass

from humanorai.labels import AI, HUMAN, label_name


@dataclass(frozen=True)
class Vote:
    """One member's answer for one text."""

    member: str
    p_human: float
    threshold: float

    @property
    def prediction(self) -> int:
        return HUMAN if self.p_human >= self.threshold else AI


@dataclass(frozen=True)
class Verdict:
    prediction: int
    p_human: float
    vote_count: int
    total_models: int
    method: str = "majority"

    @property
    def label(self) -> str:
        return label_name(self.prediction)

    @property
    def confidence(self) -> float:
        return confidence_percent(self.prediction, self.p_human)


def confidence_percent(prediction: int, p_human: float) -> float:
    """Probability of ``prediction`` in percent, rounded to 2 decimals."""
    probability = p_human if prediction == HUMAN else 1.0 - p_human
    return round(100.0 * probability, 2)


def majority_vote(votes: list[Vote]) -> Verdict:
    """The original rule generalised to any number of available members (see module docstring)."""
    if not votes:
        raise ValueError("no member answered; a verdict needs at least one vote")
    vote_count = sum(vote.prediction == HUMAN for vote in votes)
    total = len(votes)
    mean_p_human = sum(vote.p_human for vote in votes) / total
    if 2 * vote_count > total:
        prediction = HUMAN
    elif 2 * vote_count < total:
        prediction = AI
    else:
        prediction = HUMAN if mean_p_human >= 0.5 else AI
    return Verdict(prediction=prediction, p_human=mean_p_human, vote_count=vote_count, total_models=total)
