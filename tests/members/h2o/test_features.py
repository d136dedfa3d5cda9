from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from humanorai.members.h2o.features import CHAR_NORMALIZATION, FILES, FeatureSet, TfidfFeatures, TfidfParams
from humanorai.settings import TfidfSettings
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


CHAR_TEXTS = TRAIN + ["A b cd, é naïve   co-op!\n\nWhy?", "x", "Tabs\tand  double  spaces."]


def test_char_transform_equals_scikit_learn_char_wb() -> None:
    params = TfidfParams(normalization=CHAR_NORMALIZATION, max_features=600, min_df=1, ngram_range=(2, 5),
                         block="char")
    fitted = TfidfFeatures.fit(CHAR_TEXTS, params)
    reference = TfidfVectorizer(analyzer="char_wb", lowercase=False, ngram_range=(2, 5), max_features=600,
                                min_df=1, sublinear_tf=True)
    reference.fit([normalize(text, CHAR_NORMALIZATION) for text in CHAR_TEXTS])
    assert fitted.terms == [str(term) for term in reference.get_feature_names_out()]
    held_out = [*HELD_OUT, "a", "I am", "Naïve café!"]  # words shorter than the longest n-gram count once
    expected = reference.transform([normalize(text, CHAR_NORMALIZATION) for text in held_out])
    actual = fitted.transform(held_out)
    assert actual.shape == (len(held_out), 600) and actual.nnz == expected.nnz
    assert abs(actual - expected).max() < 1e-12


def test_a_feature_set_puts_its_blocks_side_by_side_and_saves_each(tmp_path: Path) -> None:
    features = FeatureSet.fit(TRAIN, TfidfSettings(features="word+char", max_features=300))
    assert [block.params.block for block in features.blocks] == ["word", "char"]
    assert features.n_features == 600 and features.feature_names()[-1] == "t599"
    matrix = features.transform(HELD_OUT)
    assert abs(matrix[:, :300] - features.blocks[0].transform(HELD_OUT)).max() == 0
    assert abs(matrix[:, 300:] - features.blocks[1].transform(HELD_OUT)).max() == 0
    written = features.save(tmp_path)
    assert sorted(path.relative_to(tmp_path).as_posix() for path in written) == sorted(
        f"{folder}/{name}" for folder in ("tfidf", "tfidf-char") for name in FILES)
    reloaded = FeatureSet.load(tmp_path, features.preprocessing())
    assert (reloaded.transform(HELD_OUT) != matrix).nnz == 0
    assert list(features.preprocessing()) == ["tfidf", "tfidf-char"]


def test_parameters_from_before_char_features_read_as_a_word_block() -> None:
    data = PARAMS.to_dict()
    del data["block"]
    assert TfidfParams.from_dict(data) == PARAMS
