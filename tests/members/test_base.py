"""A batch normalises each text once, and what it holds gives every normalisation the same result as the
submitted text would."""

from __future__ import annotations

import pytest

from humanorai.members.base import TextBatch
from humanorai.text import RAW, TFIDF_DEFAULT, NormalizationSpec, normalize

TRICKY = ["  Hello,\r\n\tWorld!\u00a0 ", "e \u0301 café\u2028next", "ﬁne ﬂow Ｆｕｌｌ", "\u3000ᄀ\u3000ᅡ end",
          "It's — fine.\n\n\nDon't stop", "\u0301leading mark", "tabs\tand\u2003em space"]
SPECS = [RAW, TFIDF_DEFAULT, NormalizationSpec(lowercase=True, punctuation="strip", lemmatize=True),
         NormalizationSpec(punctuation="split")]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_normalising_the_batch_text_equals_normalising_the_original(spec: NormalizationSpec) -> None:
    batch = TextBatch(TRICKY)
    assert batch.texts == [normalize(text, RAW) for text in TRICKY]
    assert batch.normalized(spec) == [normalize(text, spec) for text in TRICKY]


def test_each_normalisation_is_computed_once_per_batch() -> None:
    batch = TextBatch(TRICKY)
    first = batch.normalized(TFIDF_DEFAULT)
    assert batch.normalized(TFIDF_DEFAULT) is first
    assert batch.normalized(RAW) is batch.texts


def test_already_normalised_texts_are_kept_as_given() -> None:
    assert TextBatch(["a  b"], normalized=True).texts == ["a  b"]
    assert TextBatch(["a  b"]).texts == ["a b"]
