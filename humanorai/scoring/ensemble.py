"""Combine member outputs into the verdict: majority, soft and stacked voting.

``majority`` (the default) is the original app's rule generalised to any number of available members:
HUMAN when more than half vote HUMAN; with five members exactly "at least 3 of 5". An even tie is broken by
the members' mean ``p_human`` (HUMAN when it is at least 0.5), so the verdict never depends on member order.
``soft`` predicts from the mean ``p_human``. ``stacked`` is a logistic regression over the members' logits,
fitted on held-out scores during training (the manifest's ``training.calibration`` says which) and stored
as plain numbers in the manifest.

Whatever the method, ``vote_count`` counts HUMAN votes (as in the original) and ``confidence`` is the
probability of the predicted label in percent. The ensemble ``p_human`` is the mean of the members' for
``majority`` and ``soft`` and the stacker's output for ``stacked``. Unlike the original, which averaged the
confidences of members that predicted different labels, a split vote therefore shows a confidence near 50 %.

An operating point moves the verdict's threshold: ``balanced`` is each method's own rule; ``fpr5`` and
``fpr1`` call a text AI only when its ensemble ``p_human`` is below the value under which at most 5 % / 1 % of
the held-out human texts fell (fitted during training, stored per method in the manifest).

Members may carry a Platt calibration (fitted on held-out scores, stored in the manifest); the engine applies it
to the member's ``p_human`` before any of this runs, so the member's vote uses the calibrated value too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, get_args

import numpy as np

from humanorai.errors import InputError
from humanorai.labels import AI, HUMAN, label_name
from humanorai.settings import EnsembleMethod, OperatingPoint

MAJORITY, SOFT, STACKED = get_args(EnsembleMethod)
METHODS: tuple[str, ...] = get_args(EnsembleMethod)
BALANCED = "balanced"
OPERATING_POINTS: tuple[str, ...] = get_args(OperatingPoint)
#: Probabilities are clipped this far from 0 and 1 before taking logits (a MOJO may answer exactly 1.0).
LOGIT_EPSILON = 1e-6


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
    method: str = MAJORITY
    operating_point: str = BALANCED

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


def threshold_at_fpr(human_p_human: np.ndarray, false_positive_rate: float) -> float:
    """The ``p_human`` below which (strictly) at most ``false_positive_rate`` of these human texts fall, so
    that calling AI only the texts below it accuses at most that share of them."""
    ordered = np.sort(np.asarray(human_p_human, dtype=np.float64))
    return float(ordered[int(np.floor(false_positive_rate * len(ordered)))])


def logit(p_human: np.ndarray | float) -> np.ndarray:
    clipped = np.clip(np.asarray(p_human, dtype=np.float64), LOGIT_EPSILON, 1.0 - LOGIT_EPSILON)
    return np.log(clipped / (1.0 - clipped))


def sigmoid(value: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(value, dtype=np.float64)))


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of one member: ``sigmoid(slope * logit(p) + intercept)``."""

    slope: float
    intercept: float

    def apply(self, p_human: np.ndarray) -> np.ndarray:
        return sigmoid(self.slope * logit(p_human) + self.intercept)

    def to_dict(self) -> dict[str, float]:
        return {"slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(slope=float(data["slope"]), intercept=float(data["intercept"]))


def calibrated(p_human: Mapping[str, np.ndarray], calibrations: Mapping[str, Calibration]) -> dict[str, np.ndarray]:
    """Each member's ``p_human`` through its calibration, where it has one (the engine and training share
    this, so a bundle's test metrics are those of the path that serves)."""
    return {name: calibrations[name].apply(values) if name in calibrations else values
            for name, values in p_human.items()}


@dataclass(frozen=True)
class Stacker:
    """Logistic regression over the members' logits: ``sigmoid(intercept + Σ weight · logit(p_member))``."""

    members: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float

    def p_human(self, by_member: Mapping[str, float]) -> float:
        inputs = logit(np.array([by_member[name] for name in self.members]))
        return float(sigmoid(self.intercept + float(np.dot(self.weights, inputs))))

    def to_dict(self) -> dict[str, Any]:
        return {"members": list(self.members), "weights": list(self.weights), "intercept": self.intercept,
                "inputs": "logit(p_human) of each member"}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stacker:
        members, weights = tuple(data["members"]), tuple(float(w) for w in data["weights"])
        if len(members) != len(weights):
            raise ValueError(f"stacker has {len(members)} members but {len(weights)} weights")
        return cls(members=members, weights=weights, intercept=float(data["intercept"]))


def majority_vote(votes: list[Vote]) -> Verdict:
    """The original rule generalised to any number of available members (see module docstring)."""
    vote_count, total, mean_p_human = _tally(votes)
    if 2 * vote_count > total:
        prediction = HUMAN
    elif 2 * vote_count < total:
        prediction = AI
    else:
        prediction = HUMAN if mean_p_human >= 0.5 else AI
    return Verdict(prediction=prediction, p_human=mean_p_human, vote_count=vote_count, total_models=total)


def soft_vote(votes: list[Vote]) -> Verdict:
    """HUMAN when the members' mean ``p_human`` is at least 0.5."""
    vote_count, total, mean_p_human = _tally(votes)
    return Verdict(prediction=HUMAN if mean_p_human >= 0.5 else AI, p_human=mean_p_human,
                   vote_count=vote_count, total_models=total, method=SOFT)


def stacked_vote(votes: list[Vote], stacker: Stacker) -> Verdict:
    """The stacker's verdict; needs every member it was fitted on (the caller decides what to do otherwise)."""
    vote_count, total, _ = _tally(votes)
    p_human = stacker.p_human({vote.member: vote.p_human for vote in votes})
    return Verdict(prediction=HUMAN if p_human >= 0.5 else AI, p_human=p_human, vote_count=vote_count,
                   total_models=total, method=STACKED)


@dataclass(frozen=True)
class EnsemblePolicy:
    """The bundle's ensemble settings: its default method and, when trained, the stacker and the
    operating points' thresholds (method → point → ``p_human`` threshold)."""

    default: str = MAJORITY
    stacker: Stacker | None = None
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, ensemble: Mapping[str, Any]) -> EnsemblePolicy:
        stacker = ensemble.get(STACKED)
        thresholds = {method: {point: float(value) for point, value in points.items()}
                      for method, points in ensemble.get("operating_points", {}).items()}
        return cls(default=ensemble.get("method", MAJORITY),
                   stacker=None if stacker is None else Stacker.from_dict(stacker), thresholds=thresholds)

    @property
    def operating_points(self) -> tuple[str, ...]:
        """The operating points this bundle can use (``balanced`` always)."""
        fitted = set.intersection(*(set(points) for points in self.thresholds.values())) if self.thresholds else set()
        return tuple(point for point in OPERATING_POINTS if point == BALANCED or point in fitted)

    def check_point(self, point: str | None) -> str:
        """The operating point to use for a request asking for ``point`` (None = ``balanced``)."""
        if point is None:
            return BALANCED
        if point not in OPERATING_POINTS:
            raise InputError(f"unknown operating point {point!r}; choose from {', '.join(OPERATING_POINTS)}")
        if point not in self.operating_points:
            raise InputError(f"this bundle has no {point} operating point (bundles trained before operating points "
                             f"existed have only balanced); choose from {', '.join(self.operating_points)}")
        return point

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods this bundle can use."""
        return tuple(method for method in METHODS if method != STACKED or self.stacker is not None)

    def check(self, method: str | None) -> str:
        """The method to use for a request asking for ``method`` (None = the bundle's default)."""
        if method is None:
            return self.default
        if method not in METHODS:
            raise InputError(f"unknown ensemble method {method!r}; choose from {', '.join(METHODS)}")
        if method not in self.methods:
            raise InputError("this bundle has no stacked combiner (train it with at least two members); "
                             f"choose from {', '.join(self.methods)}")
        return method

    def combine(self, votes: list[Vote], method: str | None = None, point: str | None = None) -> Verdict:
        """The verdict by ``method`` at operating ``point``. ``stacked`` with one of its members unavailable
        falls back to ``soft`` (the verdict's ``method`` says so): a degraded service keeps answering."""
        chosen, at = self.check(method), self.check_point(point)
        if chosen == STACKED and self.stacker is not None and set(self.stacker.members) <= {v.member for v in votes}:
            verdict = stacked_vote(votes, self.stacker)
        elif chosen == MAJORITY:
            verdict = majority_vote(votes)
        else:  # soft, or stacked without one of its members
            verdict = soft_vote(votes)
        if at == BALANCED:
            return verdict
        threshold = self.thresholds[verdict.method][at]
        return replace(verdict, prediction=HUMAN if verdict.p_human >= threshold else AI, operating_point=at)


def _tally(votes: list[Vote]) -> tuple[int, int, float]:
    """HUMAN votes, members that voted, and their mean ``p_human``."""
    if not votes:
        raise ValueError("no member answered; a verdict needs at least one vote")
    return (sum(vote.prediction == HUMAN for vote in votes), len(votes),
            sum(vote.p_human for vote in votes) / len(votes))
