from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from humanorai.members.h2o.features import CHAR_NORMALIZATION, FILES, FeatureSet, TfidfFeatures, TfidfParams
from humanorai.members.h2o.style import FILES as STYLE_FILES
from humanorai.members.h2o.style import MEASURES
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
    features = FeatureSet.fit(TRAIN, TfidfSettings(features="style+char+word", max_features=300))
    assert [block.params.block for block in features.blocks] == ["word", "char", "style"]  # column order is fixed
    style_width = len(MEASURES)
    assert features.n_features == 600 + style_width and features.feature_names()[-1] == f"t{599 + style_width}"
    matrix = features.transform(HELD_OUT)
    for block, (start, end) in zip(features.blocks, [(0, 300), (300, 600), (600, 600 + style_width)], strict=True):
        assert abs(matrix[:, start:end] - block.transform(HELD_OUT)).max() == 0
    written = features.save(tmp_path)
    assert sorted(path.relative_to(tmp_path).as_posix() for path in written) == sorted(
        [f"{folder}/{name}" for folder in ("tfidf", "tfidf-char") for name in FILES]
        + [f"style/{name}" for name in STYLE_FILES])
    reloaded = FeatureSet.load(tmp_path, features.preprocessing())
    assert (reloaded.transform(HELD_OUT) != matrix).nnz == 0
    assert list(features.preprocessing()) == ["tfidf", "tfidf-char", "style"]
    assert features.describe() == f"300 word 1-2-grams + 300 char 2-5-grams + {style_width} stylometric measures"


def test_the_most_common_columns_are_each_blocks_lowest_idf_terms_and_every_style_column() -> None:
    features = FeatureSet.fit(TRAIN, TfidfSettings(features="word+char+style", max_features=300))
    chosen = features.most_common_columns(40)
    assert chosen == sorted(chosen) and len(chosen) == 80 + len(MEASURES)
    for block, (start, end) in zip(features.blocks[:2], [(0, 300), (300, 600)], strict=True):
        inside = np.array([position - start for position in chosen if start <= position < end])
        left = np.setdiff1d(np.arange(end - start), inside)
        assert len(inside) == 40 and block.idf[inside].max() <= block.idf[left].min()
        # lowest idf = in most training texts: checked against a count of the texts each term is in
        if block.params.block == "word":
            unigrams = [term for term in np.array(block.terms)[inside] if " " not in term]
            texts_with = [sum(term in tokens(normalize(text, block.params.normalization)) for text in TRAIN)
                          for term in unigrams]
            assert unigrams and min(texts_with) >= len(TRAIN) / 4
    assert chosen[-len(MEASURES):] == list(range(600, 600 + len(MEASURES)))


def test_a_block_named_twice_or_unknown_is_refused() -> None:
    with pytest.raises(ValueError, match="names a block twice"):
        TfidfSettings(features="word+word")
    with pytest.raises(ValueError, match="each block must be one of word, char, style, not 'chars'"):
        TfidfSettings(features="word+chars")


def test_parameters_from_before_char_features_read_as_a_word_block() -> None:
    data = PARAMS.to_dict()
    del data["block"]
    assert TfidfParams.from_dict(data) == PARAMS
