"""Fit the numbers behind the ``stacked`` ensemble and the optional per-member calibration.

Both are logistic regressions on held-out scores — the validation split's, which the members did not train
on (they only early-stopped on it, which makes those scores slightly optimistic; the test split reports the
truth), and with ``--calibration group-kfold`` out-of-fold scores too (see
:mod:`humanorai.training.calibration_data`). Their coefficients go into the manifest as plain numbers and
are applied by :mod:`humanorai.scoring.ensemble`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from humanorai.errors import TrainingError
from humanorai.labels import HUMAN
from humanorai.scoring.ensemble import Calibration, Stacker, logit, threshold_at_fpr
from humanorai.settings import FALSE_POSITIVE_RATES

#: Platt scaling has two parameters and thousands of texts: effectively unregularised.
CALIBRATION_C = 1e4
#: The stacker's weights are mildly regularised so that two near-duplicate members cannot blow up.
STACKER_C = 1.0
#: An operating point promises at most 5 % (1 %) of human texts called AI on sources the bundle never saw,
#: and sources differ: its threshold keeps the false-positive rate at or below the rate in this share of
#: resamples of the fitting texts' groups (the plain quantile overshot, 5.6-5.9 % on unseen groups;
#: docs/quality.md).
OPERATING_POINT_CONFIDENCE = 0.8
#: Group resamples behind that bound (seeded: the same scores give the same thresholds).
OPERATING_POINT_RESAMPLES = 1000
#: With human texts of one group there is nothing to resample: the plain quantile is used. Two to four groups
#: still say something: fitted on four groups' scores, the plain quantile called 7.1 % of the humans of unseen
#: groups AI at ``fpr5``, the resampled bound 5.3 % (docs/quality.md, "The stacker where most groups lack
#: the transformers' scores").
OPERATING_POINT_MIN_GROUPS = 2


def fit_calibration(p_human: np.ndarray, labels: np.ndarray) -> Calibration:
    """Platt scaling of one member's held-out ``p_human`` against their labels."""
    model = _fit(logit(p_human).reshape(-1, 1), labels, CALIBRATION_C)
    return Calibration(slope=round(float(model.coef_[0, 0]), 8), intercept=round(float(model.intercept_[0]), 8))


def fit_stacker(p_human: Mapping[str, np.ndarray], labels: np.ndarray) -> Stacker:
    """Logistic regression over the members' logits (member order as given)."""
    names = tuple(p_human)
    inputs = np.column_stack([logit(p_human[name]) for name in names])
    model = _fit(inputs, labels, STACKER_C)
    return Stacker(members=names, weights=tuple(round(float(w), 8) for w in model.coef_[0]),
                   intercept=round(float(model.intercept_[0]), 8))


def fit_two_stage_stacker(first_stage: Mapping[str, np.ndarray], first_labels: np.ndarray,
                          p_human: Mapping[str, np.ndarray], labels: np.ndarray) -> Stacker:
    """The stacker when only some members have honest scores on many groups (``first_stage``: the H2O trio's
    out-of-fold scores) and every member on a few (``p_human``: the validation split's). Their weights among
    themselves are fitted where many groups inform them; the few shared rows fit only how their combination
    weighs against the other members: four numbers there instead of six for the five-member bundle
    (docs/quality.md, "The stacker where most groups lack the transformers' scores"). The two stages compose
    into one logistic regression over every member's logit, served as any stacker is."""
    inner = fit_stacker(first_stage, first_labels)
    others = tuple(name for name in p_human if name not in inner.members)
    if not others or not set(inner.members) <= set(p_human):
        raise TrainingError("a two-stage stacker needs its first-stage members among all members, and others")
    combined = inner.intercept + sum(weight * logit(p_human[name])
                                     for name, weight in zip(inner.members, inner.weights, strict=True))
    outer = _fit(np.column_stack([combined, *(logit(p_human[name]) for name in others)]), labels, STACKER_C)
    scale = float(outer.coef_[0, 0])
    weight_of = {**{name: scale * weight for name, weight in zip(inner.members, inner.weights, strict=True)},
                 **{name: float(weight) for name, weight in zip(others, outer.coef_[0, 1:], strict=True)}}
    return Stacker(members=tuple(p_human), weights=tuple(round(weight_of[name], 8) for name in p_human),
                   intercept=round(float(outer.intercept_[0]) + scale * inner.intercept, 8))


def _fit(inputs: np.ndarray, labels: np.ndarray, regularisation_c: float) -> LogisticRegression:
    if len(set(labels.tolist())) != 2:
        raise TrainingError("the held-out scores need both labels to fit calibration or stacking")
    return LogisticRegression(C=regularisation_c, max_iter=1000).fit(inputs, labels)


def fit_operating_points(p_human_by_method: Mapping[str, np.ndarray], labels: np.ndarray,
                         groups: np.ndarray | None = None) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Per method, the ``p_human`` thresholds at which at most 5 % and 1 % of these human texts are called AI
    (not rounded: a rounded threshold could let one more of them fall below it) — and, where the human texts
    come from enough ``groups``, at which that holds in :data:`OPERATING_POINT_CONFIDENCE` of resamples of
    their groups (:func:`thresholds_for_new_groups`). Also the record of the rule used, for the manifest."""
    human = labels == HUMAN
    if not human.any():
        raise TrainingError("fitting the operating points needs human texts among the held-out scores")
    human_groups = None if groups is None else groups[human]
    count = 0 if human_groups is None else len(np.unique(human_groups))
    if human_groups is None or count < OPERATING_POINT_MIN_GROUPS:
        points = {method: {point: threshold_at_fpr(p_human[human], rate)
                           for point, rate in FALSE_POSITIVE_RATES.items()}
                  for method, p_human in p_human_by_method.items()}
        return points, {"rule": "quantile", "groups": count, "human_texts": int(human.sum())}
    points = {method: thresholds_for_new_groups(p_human[human], human_groups)
              for method, p_human in p_human_by_method.items()}
    return points, {"rule": "group-bootstrap", "confidence": OPERATING_POINT_CONFIDENCE,
                    "resamples": OPERATING_POINT_RESAMPLES, "groups": count, "human_texts": int(human.sum())}


def thresholds_for_new_groups(human_p_human: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Per operating point, the highest threshold (a human score, or the plain quantile if lower) whose share
    of human texts called AI — texts strictly below it — is at most the point's rate in
    :data:`OPERATING_POINT_CONFIDENCE` of :data:`OPERATING_POINT_RESAMPLES` resamples of the groups (with
    replacement, each group whole; seeded, so every method sees the same resamples)."""
    candidates = np.unique(human_p_human)
    names, group_of = np.unique(groups, return_inverse=True)
    below = np.stack([np.searchsorted(np.sort(human_p_human[group_of == index]), candidates, side="left")
                      for index in range(len(names))])  # groups x candidates: human texts below each candidate
    sizes = np.bincount(group_of, minlength=len(names))
    picks = np.random.default_rng(0).multinomial(len(names), np.full(len(names), 1 / len(names)),
                                                 size=OPERATING_POINT_RESAMPLES)  # times each group is drawn
    upper = np.quantile((picks @ below) / (picks @ sizes)[:, None], OPERATING_POINT_CONFIDENCE, axis=0)
    thresholds = {}
    for point, rate in FALSE_POSITIVE_RATES.items():
        allowed = candidates[upper <= rate]
        nominal = threshold_at_fpr(human_p_human, rate)
        thresholds[point] = min(nominal, float(allowed.max())) if len(allowed) else float(candidates[0])
    return thresholds
