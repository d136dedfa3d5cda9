"""Stylometric features: each measure checked by hand on a small text, standardisation fitted on training
texts only, and the saved block refused when it is not the one this code computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from humanorai.members.h2o.style import MEASURES, TTR_WINDOW, StyleFeatures, style_measures
from tests.synthetic import make_rows

TEXT = ("Hello there! I can't believe it... We went to the park; it was great.\n"
        "Really, truly (mostly) fun: 3 times? Yes.")


def measures_of(text: str) -> dict[str, float]:
    return dict(zip(MEASURES, style_measures(text).tolist(), strict=True))


def test_each_measure_on_a_text_counted_by_hand() -> None:
    measured = measures_of(TEXT)
    # Sentences: "Hello there!" 2 words, "I can't believe it..." 4, "We … great." 8, "Really … times?" 5
    # ("3" is no word), "Yes." 1: 20 words.
    lengths = np.array([2, 4, 8, 5, 1])
    assert measured["sentence_words_mean"] == pytest.approx(lengths.mean())
    assert measured["sentence_words_std"] == pytest.approx(lengths.std())
    assert measured["sentence_words_cv"] == pytest.approx(lengths.std() / lengths.mean())
    words = ["Hello", "there", "I", "can't", "believe", "it", "We", "went", "to", "the", "park", "it", "was", "great",
             "Really", "truly", "mostly", "fun", "times", "Yes"]
    assert measured["word_chars_mean"] == pytest.approx(np.mean([len(word) for word in words]))
    assert measured["long_word_share"] == pytest.approx(1 / 20)  # "believe"
    assert measured["type_token_ratio"] == pytest.approx(19 / 20)  # "it" twice; one window, shorter than 50
    # Function words: there, I, it, we, to, the, it, was.
    assert measured["function_word_rate"] == pytest.approx(8 / 20)
    assert measured["first_person_rate"] == pytest.approx(2 / 20)  # I, We
    assert measured["contraction_rate"] == pytest.approx(1 / 20)
    assert measured["capitalised_rate"] == pytest.approx(5 / 20)  # Hello, I, We, Really, Yes
    per_100 = 100 / 20
    for name, count in {"comma": 1, "semicolon": 1, "colon": 1, "exclamation": 1, "question": 1, "quote": 0,
                        "dash": 0, "parenthesis": 2, "apostrophe": 1, "ellipsis": 1}.items():
        assert measured[f"{name}_per_100_words"] == pytest.approx(count * per_100), name
    assert measured["digit_share"] == pytest.approx(1 / len(TEXT))
    assert measured["line_breaks_per_100_words"] == pytest.approx(per_100)


def test_the_type_token_ratio_does_not_fall_with_length() -> None:
    distinct = [f"w{chr(97 + index // 26)}{chr(97 + index % 26)}" for index in range(TTR_WINDOW)]
    short, long = " ".join(distinct), " ".join(distinct * 8)
    assert measures_of(short)["type_token_ratio"] == measures_of(long)["type_token_ratio"] == 1.0
    assert measures_of("same " * 200)["type_token_ratio"] == pytest.approx(1 / TTR_WINDOW)


def test_a_text_without_words_gives_zeros() -> None:
    assert not style_measures("1234 … ?!").any()
    assert not style_measures("").any()


TRAIN = [row["text"] for row in make_rows(120, seed=5)]


def test_training_texts_are_standardised_and_others_use_the_same_numbers(tmp_path: Path) -> None:
    fitted = StyleFeatures.fit(TRAIN)
    matrix = fitted.transform(TRAIN).toarray()
    varying = matrix.std(axis=0) > 0
    assert np.allclose(matrix.mean(axis=0), 0.0) and np.allclose(matrix.std(axis=0)[varying], 1.0)
    held_out = [TEXT, "Short one."]
    expected = (np.array([style_measures(text) for text in held_out]) - fitted.mean) / fitted.scale
    assert np.array_equal(fitted.transform(held_out).toarray(), expected)
    fitted.save(tmp_path)
    reloaded = StyleFeatures.load(tmp_path)
    assert np.array_equal(reloaded.transform(held_out).toarray(), expected)


def test_a_saved_block_of_another_version_or_shape_is_refused(tmp_path: Path) -> None:
    fitted = StyleFeatures.fit(TRAIN)
    fitted.save(tmp_path)
    params = json.loads((tmp_path / "params.json").read_text())
    (tmp_path / "params.json").write_text(json.dumps({**params, "version": 99}))
    with pytest.raises(ValueError, match="version 99 are not the ones this humanorai computes"):
        StyleFeatures.load(tmp_path)
    (tmp_path / "params.json").write_text(json.dumps(params))
    np.savez(tmp_path / "scale.npz", mean=fitted.mean[:-1], scale=fitted.scale[:-1])
    with pytest.raises(ValueError, match="positive spreads"):
        StyleFeatures.load(tmp_path)
