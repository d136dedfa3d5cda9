"""Out-of-fold scores: every text scored once, by models that never trained on its group, and a splitter
that leaks is caught."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from humanorai.corpus import Corpus
from humanorai.errors import TrainingError
from humanorai.training.out_of_fold import group_folds, out_of_fold_scores

GROUPS = ("arxiv", "yelp", "news", "legal", "sports", "food", "poetry")


def grouped_corpus(per_group: int = 10) -> Corpus:
    """Texts named after their group, half of each group human."""
    groups = np.repeat(GROUPS, per_group)
    return Corpus(texts=[f"{group} text {index}" for index, group in enumerate(groups)],
                  labels=np.tile([1, 0], len(groups) // 2), groups=groups)


class RecordingScorer:
    """A stand-in for training: remembers what each fold trained on and scored, and scores each text by
    how many training texts share its group (0 unless the fold leaks)."""

    def __init__(self) -> None:
        self.folds: list[tuple[set[str], set[str]]] = []

    def __call__(self, training: Corpus, held_out: Corpus) -> Mapping[str, np.ndarray]:
        assert training.groups is not None and held_out.groups is not None
        self.folds.append((set(training.texts), set(held_out.texts)))
        seen = training.groups.tolist()
        return {"GLM": np.array([float(seen.count(group)) for group in held_out.groups])}


def leaking_splitter(corpus: Corpus, folds: int, seed: int) -> list[np.ndarray]:
    """Folds of single texts, ignoring groups: the rest of a held-out text's group stays in training."""
    return np.array_split(np.random.default_rng(seed).permutation(len(corpus)), folds)


def test_every_text_is_scored_once_by_a_fold_that_never_trained_on_its_group() -> None:
    corpus = grouped_corpus()
    scorer = RecordingScorer()
    result = out_of_fold_scores(corpus, 3, 0, scorer)
    assert len(scorer.folds) == 3 == len(result.folds)
    assert sorted(group for fold in result.folds for group in fold) == sorted(GROUPS)  # type: ignore[union-attr]
    assert np.array_equal(result.p_human["GLM"], np.zeros(len(corpus)))  # no fold saw a text of its group
    scored = [text for _, held_out in scorer.folds for text in held_out]
    assert sorted(scored) == sorted(corpus.texts)
    assert all(not training & held_out for training, held_out in scorer.folds)


def test_a_splitter_that_leaks_a_group_into_training_is_refused_before_anything_trains() -> None:
    corpus = grouped_corpus()
    scorer = RecordingScorer()
    with pytest.raises(TrainingError, match="out-of-fold leak: groups"):
        out_of_fold_scores(corpus, 3, 0, scorer, splitter=leaking_splitter)
    assert scorer.folds == []


def test_a_splitter_that_scores_a_text_twice_or_never_is_refused() -> None:
    corpus = grouped_corpus()

    def overlapping(corpus: Corpus, folds: int, seed: int) -> list[np.ndarray]:
        everything = np.arange(len(corpus))
        return [everything[:40], everything[30:]]

    with pytest.raises(TrainingError, match="exactly once"):
        out_of_fold_scores(corpus, 2, 0, RecordingScorer(), splitter=overlapping)


def test_group_folds_keep_groups_whole_and_fall_back_to_one_fold_per_group() -> None:
    corpus = grouped_corpus()
    assert corpus.groups is not None
    folds = group_folds(corpus, 3, seed=1)
    assert len(folds) == 3
    assert all(not set(corpus.groups[a].tolist()) & set(corpus.groups[b].tolist())
               for i, a in enumerate(folds) for b in folds[i + 1:])
    assert len(group_folds(corpus, 20, seed=1)) == len(GROUPS)
    with pytest.raises(TrainingError, match="at least two groups"):
        group_folds(corpus.subset(np.arange(10)), 5, seed=1)
