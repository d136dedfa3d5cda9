"""The scores that calibration, the stacker and the operating points are fitted on, and where they came from.

Every number fitted on top of the members must come from scores on texts the scoring model did not train
on. With ``validation`` those are the validation split's: a few whole groups, every member. With
``group-kfold`` the members cheap to retrain also bring out-of-fold scores for every text of the training
split (see :mod:`humanorai.training.out_of_fold`), pooled with their validation scores: each such member's
calibration sees every group but the test split's. The members that are not retrained (the transformers
saw the training split) keep the validation split for their calibration. The stacker and the operating
points need every member's honest score on the same texts: the pooled rows when every member was
retrained, the validation split otherwise — where the stacker's first stage, the retrained members' weights
among themselves, is still fitted on the pooled rows (:func:`~humanorai.training.stacking.fit_two_stage_stacker`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from humanorai.corpus import Corpus
from humanorai.training.out_of_fold import OutOfFold


@dataclass(frozen=True)
class CalibrationData:
    """Raw ``p_human`` to fit on: per member for its calibration, and on shared rows for the ensemble."""

    #: Member → (its raw ``p_human``, the labels of those texts), for its calibration.
    by_member: dict[str, tuple[np.ndarray, np.ndarray]]
    #: The rows where every member has an honest score (the stacker and the operating points) ...
    corpus: Corpus
    #: ... and each member's raw ``p_human`` on them.
    p_human: dict[str, np.ndarray]
    #: What the manifest records under ``training.calibration``.
    record: dict[str, Any]
    #: Where only some members (two or more) were retrained: their raw ``p_human`` on the pooled rows and
    #: those rows' labels, for the stacker's first stage.
    first_stage: tuple[dict[str, np.ndarray], np.ndarray] | None = None


def validation_data(valid: Corpus, valid_scores: dict[str, np.ndarray]) -> CalibrationData:
    """Everything fitted on the validation split (the original recipe)."""
    return CalibrationData(
        by_member={name: (values, valid.labels) for name, values in valid_scores.items()},
        corpus=valid, p_human=valid_scores,
        record={"fitted_on": "validation", "texts": len(valid), "groups": _groups(valid)},
    )


def pooled_data(train: Corpus, out_of_fold: OutOfFold, valid: Corpus,
                valid_scores: dict[str, np.ndarray]) -> CalibrationData:
    """Out-of-fold scores on ``train`` pooled with the validation split's, for the members that have them."""
    pooled = joined(train, valid)
    by_member = {name: (np.concatenate([out_of_fold.p_human[name], values]), pooled.labels)
                 if name in out_of_fold.p_human else (values, valid.labels)
                 for name, values in valid_scores.items()}
    every_member = set(valid_scores) <= set(out_of_fold.p_human)
    corpus = pooled if every_member else valid
    p_human = {name: by_member[name][0] if every_member else values for name, values in valid_scores.items()}
    retrained = [name for name in valid_scores if name in out_of_fold.p_human]
    first_stage = (None if every_member or len(retrained) < 2
                   else ({name: by_member[name][0] for name in retrained}, pooled.labels))
    return CalibrationData(
        by_member=by_member, corpus=corpus, p_human=p_human, first_stage=first_stage,
        record={"fitted_on": "group-kfold", "refit_members": sorted(out_of_fold.p_human),
                "folds": out_of_fold.folds, "validation_groups": _groups(valid),
                "member_texts": {name: len(labels) for name, (_, labels) in by_member.items()},
                "ensemble_texts": len(corpus)},
    )


def joined(first: Corpus, second: Corpus) -> Corpus:
    """The texts of ``first`` then those of ``second``, as one corpus."""
    groups = (None if first.groups is None or second.groups is None
              else np.concatenate([first.groups, second.groups]))
    return Corpus(texts=first.texts + second.texts, labels=np.concatenate([first.labels, second.labels]),
                  groups=groups)


def _groups(corpus: Corpus) -> list[str] | None:
    return None if corpus.groups is None else sorted(set(corpus.groups.tolist()))
