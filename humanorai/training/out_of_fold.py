"""Out-of-fold scores: how members score texts of groups they never trained on, for every training text.

Calibration and the stacker learn how the members' scores relate to the truth on unseen texts. Fitted on
the validation split alone, they see a handful of whole groups; out-of-fold scores cover every group of
the training split. The training split's groups are cut into K folds; for each fold, the members cheap to
retrain are trained on the other folds' groups and score the held-out fold's texts, and the scores are
pooled. A fold's models must never see a text of a group they score (that would make the scores look
better than the members do on new groups, and the calibration overconfident), so every fold is checked
for it before its models train: a splitter that leaks is a :class:`TrainingError`, not a quiet optimism.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from humanorai.corpus import Corpus
from humanorai.errors import TrainingError
from humanorai.progress import stage

#: Positions of the texts each fold holds out, from a corpus, a number of folds and a seed.
FoldSplitter = Callable[[Corpus, int, int], list[np.ndarray]]
#: Trains the cheap members on the first corpus and returns their ``p_human`` for the second's texts.
FoldScorer = Callable[[Corpus, Corpus], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class OutOfFold:
    """Each member's out-of-fold ``p_human`` for every text of the corpus, and what each fold held out."""

    p_human: dict[str, np.ndarray]
    #: Per fold, the groups it held out (the number of texts when the corpus has no groups).
    folds: list[list[str] | int]


def group_folds(corpus: Corpus, folds: int, seed: int) -> list[np.ndarray]:
    """Positions held out by each of ``folds`` folds: whole groups (stratified by label as far as groups
    allow), or single texts when the corpus has no groups. Fewer groups than folds: one fold per group."""
    positions = np.arange(len(corpus))
    if corpus.groups is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return [held for _, held in splitter.split(positions, corpus.labels)]
    count = min(folds, len(set(corpus.groups.tolist())))
    if count < 2:
        raise TrainingError("out-of-fold calibration needs at least two groups in the training split")
    grouped = StratifiedGroupKFold(n_splits=count, shuffle=True, random_state=seed)
    return [held for _, held in grouped.split(positions, corpus.labels, corpus.groups)]


def check_fold(corpus: Corpus, held_out: np.ndarray, training: np.ndarray) -> None:
    """Raise unless the fold's training texts and its held-out texts share no group. (They share no text by
    construction: a fold trains on the complement of what it holds out, and the corpus has no duplicates.)"""
    if corpus.groups is not None:
        shared_groups = set(corpus.groups[training].tolist()) & set(corpus.groups[held_out].tolist())
        if shared_groups:
            raise TrainingError(f"out-of-fold leak: groups {', '.join(sorted(shared_groups))} are both "
                                "trained on and scored")


def out_of_fold_scores(corpus: Corpus, folds: int, seed: int, score_fold: FoldScorer,
                       splitter: FoldSplitter = group_folds) -> OutOfFold:
    """Each member's ``p_human`` for every text of ``corpus``, from models that did not train on its group.

    ``splitter`` must hold out every text exactly once; each fold is checked for leaks (:func:`check_fold`)
    before ``score_fold`` trains on it."""
    held_outs = splitter(corpus, folds, seed)
    counts = np.bincount(np.concatenate(held_outs), minlength=len(corpus)) if held_outs else np.zeros(len(corpus))
    if not np.all(counts == 1):
        raise TrainingError("out-of-fold splitter must hold out every training text exactly once")
    scores: dict[str, np.ndarray] = {}
    for number, held_out in enumerate(held_outs, start=1):
        training = np.setdiff1d(np.arange(len(corpus)), held_out)
        check_fold(corpus, held_out, training)
        groups = "" if corpus.groups is None else f" ({len(set(corpus.groups[held_out].tolist()))} groups)"
        with stage(f"Out-of-fold {number}/{len(held_outs)}: scoring {len(held_out)} texts{groups}, "
                   f"training on {len(training)}"):
            fold_scores = score_fold(corpus.subset(training), corpus.subset(held_out))
        for name, values in fold_scores.items():
            scores.setdefault(name, np.full(len(corpus), np.nan))[held_out] = values
    unscored = sorted(name for name, values in scores.items() if np.isnan(values).any())
    if unscored:
        raise TrainingError(f"out-of-fold: {', '.join(unscored)} did not score every held-out fold")
    return OutOfFold(scores, [len(held_out) if corpus.groups is None else sorted(set(corpus.groups[held_out].tolist()))
                              for held_out in held_outs])
