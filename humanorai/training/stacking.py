"""Fit the numbers behind the ``stacked`` ensemble and the optional per-member calibration.

Both are logistic regressions on held-out scores — the validation split's, which the members did not train
on (they only early-stopped on it, which makes those scores slightly optimistic; the test split reports the
truth), and with ``--calibration group-kfold`` out-of-fold scores too (see
:mod:`humanorai.training.calibration_data`). Their coefficients go into the manifest as plain numbers and
are applied by :mod:`humanorai.scoring.ensemble`.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def _fit(inputs: np.ndarray, labels: np.ndarray, regularisation_c: float) -> LogisticRegression:
    if len(set(labels.tolist())) != 2:
        raise TrainingError("the held-out scores need both labels to fit calibration or stacking")
    return LogisticRegression(C=regularisation_c, max_iter=1000).fit(inputs, labels)


def fit_operating_points(p_human_by_method: Mapping[str, np.ndarray],
                         labels: np.ndarray) -> dict[str, dict[str, float]]:
    """Per method, the ``p_human`` thresholds at which at most 5 % and 1 % of these human texts are called AI
    (not rounded: a rounded threshold could let one more of them fall below it)."""
    human = labels == HUMAN
    if not human.any():
        raise TrainingError("fitting the operating points needs human texts among the held-out scores")
    return {method: {point: threshold_at_fpr(p_human[human], rate)
                     for point, rate in FALSE_POSITIVE_RATES.items()}
            for method, p_human in p_human_by_method.items()}
