from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from humanorai.members.h2o.features import FILES, TfidfFeatures, TfidfParams
from humanorai.text import TFIDF_DEFAULT, normalize, tokens
from tests.synthetic import make_rows

ROWS = make_rows(200, seed=3)
TRAIN = [row["text"] for row in ROWS[:150]]
HELD_OUT = [row["text"] for row in ROWS[150:]] + ["", "Words the vocabulary never saw: zyzzyva quux."]
PARAMS = TfidfParams(normalization=TFIDF_DEFAULT, max_features=400, min_df=2)


def test_save_and_load_give_exactly_the_same_transform(tmp_path: Path) -> None:
    fitted = TfidfFeatures.fit(TRAIN, PARAMS)
    written = fitted.save(tmp_path / "tfidf")
    assert sorted(path.name for path in written) == sorted(FILES)
    reloaded = TfidfFeatures.load(tmp_path / "tfidf")
    assert reloaded.params == fitted.params
    assert reloaded.terms == fitted.terms
    before, after = fitted.transform(HELD_OUT), reloaded.transform(HELD_OUT)
    assert (before != after).nnz == 0
    assert np.array_equal(before.indices, after.indices) and np.array_equal(before.data, after.data)


def test_transform_equals_scikit_learn_tfidf_vectorizer() -> None:
    fitted = TfidfFeatures.fit(TRAIN, PARAMS)
    reference = TfidfVectorizer(tokenizer=tokens, token_pattern=None, lowercase=False, ngram_range=(1, 2),
                                max_features=400, min_df=2, sublinear_tf=True)
    reference.fit([normalize(text, TFIDF_DEFAULT) for text in TRAIN])
    expected = reference.transform([normalize(text, TFIDF_DEFAULT) for text in HELD_OUT])
    actual = fitted.transform(HELD_OUT)
    assert actual.shape == (len(HELD_OUT), 400)
    assert abs(actual - expected).max() < 1e-12


def test_rows_are_l2_normalised_and_unknown_text_is_all_zero() -> None:
    matrix = TfidfFeatures.fit(TRAIN, PARAMS).transform(HELD_OUT)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    assert np.allclose(norms[:-2], 1.0)
    assert norms[-2] == 0.0


def test_feature_names_are_positional_and_sortable() -> None:
    names = TfidfFeatures.fit(TRAIN, PARAMS).feature_names()
    assert names[0] == "t000" and names[-1] == "t399" and names == sorted(names)
