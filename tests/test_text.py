import pytest

from humanorai.errors import InputError
from humanorai.text import (
    NORMALIZATION_VERSION,
    RAW,
    TFIDF_DEFAULT,
    NormalizationSpec,
    check_texts,
    normalize,
    tokens,
)


def test_raw_keeps_case_and_punctuation_and_collapses_whitespace() -> None:
    assert normalize("  Hello,\r\n\tWorld!\u00a0 ", RAW) == "Hello, World!"


def test_tfidf_default_lowercases_and_splits_punctuation_into_tokens() -> None:
    assert normalize("Hello, World! It's — fine.", TFIDF_DEFAULT) == "hello , world ! it's — fine ."
    assert tokens(normalize("Don't stop.", TFIDF_DEFAULT)) == ["don't", "stop", "."]


def test_strip_and_lemmatize_reproduce_the_original_training_cleaning() -> None:
    spec = NormalizationSpec(lowercase=True, punctuation="strip", lemmatize=True)
    assert normalize("The Cats were running, quickly!", spec) == "the cat be run quickly"


def test_compatibility_forms_are_folded() -> None:
    assert normalize("ﬁne", TFIDF_DEFAULT) == "fine"


def test_spec_round_trips_and_refuses_other_versions() -> None:
    assert NormalizationSpec.from_dict(TFIDF_DEFAULT.to_dict()) == TFIDF_DEFAULT
    data = {**TFIDF_DEFAULT.to_dict(), "version": NORMALIZATION_VERSION + 1}
    with pytest.raises(ValueError, match="rebuild the bundle"):
        NormalizationSpec.from_dict(data)


def test_invalid_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="lemmatize"):
        NormalizationSpec(lemmatize=True)
    with pytest.raises(ValueError, match="punctuation"):
        NormalizationSpec(punctuation="drop")  # type: ignore[arg-type]


def test_a_lone_surrogate_is_refused_naming_its_text_and_position() -> None:
    check_texts(["fine", "also fine ✓"])
    with pytest.raises(InputError, match=r"text 1 has an unpaired surrogate \(U\+D800\) at character 2"):
        check_texts(["fine", "x \ud800 y"])
    with pytest.raises(InputError, match="text 0 is empty"):
        check_texts([" \n"])
