"""What the ensemble's numbers are fitted on: the validation split, or out-of-fold scores pooled with it."""

from __future__ import annotations

import numpy as np

from humanorai.corpus import Corpus
from humanorai.training.calibration_data import pooled_data, validation_data
from humanorai.training.out_of_fold import OutOfFold

TRAIN = Corpus(texts=["t1", "t2", "t3", "t4"], labels=np.array([1, 0, 1, 0]), groups=np.array(["a", "a", "b", "b"]))
VALID = Corpus(texts=["v1", "v2"], labels=np.array([0, 1]), groups=np.array(["c", "c"]))
VALID_SCORES = {"GLM": np.array([0.2, 0.9]), "BERT": np.array([0.3, 0.6])}


def test_validation_uses_the_validation_split_for_everything() -> None:
    data = validation_data(VALID, VALID_SCORES)
    assert data.corpus is VALID and data.p_human is VALID_SCORES
    assert {name: labels.tolist() for name, (_, labels) in data.by_member.items()} == {"GLM": [0, 1], "BERT": [0, 1]}
    assert data.record == {"fitted_on": "validation", "texts": 2, "groups": ["c"]}


def test_a_retrained_member_is_calibrated_on_pooled_scores_and_the_ensemble_on_rows_every_member_has() -> None:
    out_of_fold = OutOfFold({"GLM": np.array([0.8, 0.1, 0.7, 0.4])}, [["a"], ["b"]])
    data = pooled_data(TRAIN, out_of_fold, VALID, VALID_SCORES)
    glm_scores, glm_labels = data.by_member["GLM"]
    assert glm_scores.tolist() == [0.8, 0.1, 0.7, 0.4, 0.2, 0.9] and glm_labels.tolist() == [1, 0, 1, 0, 0, 1]
    bert_scores, bert_labels = data.by_member["BERT"]
    assert bert_scores.tolist() == [0.3, 0.6] and bert_labels.tolist() == [0, 1]  # BERT saw the training split
    assert data.corpus is VALID and data.p_human["GLM"].tolist() == [0.2, 0.9]  # BERT has no honest training score
    assert data.record["fitted_on"] == "group-kfold" and data.record["refit_members"] == ["GLM"]
    assert data.record["member_texts"] == {"GLM": 6, "BERT": 2} and data.record["ensemble_texts"] == 2
    assert data.first_stage is None  # one retrained member: nothing to weigh among themselves


def test_two_retrained_members_beside_one_that_is_not_bring_a_first_stage_on_the_pooled_rows() -> None:
    out_of_fold = OutOfFold({"GLM": np.array([0.8, 0.1, 0.7, 0.4]), "DRF": np.array([0.6, 0.3, 0.5, 0.5])},
                            [["a"], ["b"]])
    data = pooled_data(TRAIN, out_of_fold, VALID, {**VALID_SCORES, "DRF": np.array([0.4, 0.7])})
    assert data.corpus is VALID  # the stacker's second stage: the rows BERT has
    assert data.first_stage is not None
    p_human, labels = data.first_stage
    assert {name: values.tolist() for name, values in p_human.items()} == {
        "GLM": [0.8, 0.1, 0.7, 0.4, 0.2, 0.9], "DRF": [0.6, 0.3, 0.5, 0.5, 0.4, 0.7]}
    assert labels.tolist() == [1, 0, 1, 0, 0, 1]


def test_with_every_member_retrained_the_ensemble_is_fitted_on_every_pooled_row() -> None:
    out_of_fold = OutOfFold({"GLM": np.array([0.8, 0.1, 0.7, 0.4]), "BERT": np.array([0.6, 0.5, 0.9, 0.2])},
                            [["a"], ["b"]])
    data = pooled_data(TRAIN, out_of_fold, VALID, VALID_SCORES)
    assert data.corpus.texts == ["t1", "t2", "t3", "t4", "v1", "v2"]
    assert data.corpus.groups is not None and data.corpus.groups.tolist() == ["a", "a", "b", "b", "c", "c"]
    assert data.p_human["BERT"].tolist() == [0.6, 0.5, 0.9, 0.2, 0.3, 0.6]
    assert data.record["folds"] == [["a"], ["b"]] and data.record["ensemble_texts"] == 6
    assert data.first_stage is None  # every member has the pooled rows: one stage fits them all
