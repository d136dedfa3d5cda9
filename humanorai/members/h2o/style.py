"""Stylometric features: how a text is written, not which words it uses.

Word and character n-grams learn the topics and phrasings of the training domains; measures of style —
how much sentence lengths vary, how often punctuation and function words occur, how varied the
vocabulary is — may travel further to domains the models never saw (issue 11 measures whether they do).
Each text gives a short vector of such measures, computed from the text as written; training fits their
mean and spread, and both training and serving standardise through :meth:`StyleFeatures.transform`.
Saved as plain data: the measure names and version (JSON) and the mean and spread (npz).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from humanorai.settings import FeatureBlock

#: Bumped whenever :func:`style_measures` changes its output; a bundle built with another version is
#: refused at load time rather than scored with different features.
STYLE_VERSION = 1

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
#: English function words (articles, pronouns, prepositions, conjunctions, auxiliaries): their rate is a
#: classic marker of style that does not depend on the topic.
FUNCTION_WORDS = frozenset({
    "a", "an", "the", "this", "that", "these", "those", "i", "me", "my", "mine", "we", "us", "our", "you", "your",
    "he", "him", "his", "she", "her", "it", "its", "they", "them", "their", "what", "which", "who", "whom",
    "whose", "of", "in", "on", "at", "by", "for", "with", "about", "against", "between", "into", "through",
    "during", "before", "after", "above", "below", "to", "from", "up", "down", "over", "under", "again", "once",
    "and", "but", "or", "nor", "so", "yet", "if", "because", "as", "until", "while", "than", "though", "although",
    "whether", "not", "no", "only", "very", "too", "also", "just", "can", "could", "will", "would", "shall",
    "should", "may", "might", "must", "do", "does", "did", "is", "are", "was", "were", "be", "been", "being",
    "have", "has", "had", "there", "here", "then", "when", "where", "why", "how", "all", "any", "both", "each",
    "few", "more", "most", "other", "some", "such", "own", "same"
})
_FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves"})
#: Marks counted per 100 words, by name.
PUNCTUATION = {"comma": ",", "semicolon": ";", "colon": ":", "exclamation": "!", "question": "?",
               "quote": "\"“”", "dash": "—–", "parenthesis": "()", "apostrophe": "'’"}
#: Words per window of the moving-average type/token ratio (MATTR): a plain type/token ratio falls with
#: length, so texts of different lengths could not be compared.
TTR_WINDOW = 50
#: The measures, in column order.
MEASURES = (
    "sentence_words_mean", "sentence_words_std", "sentence_words_cv", "word_chars_mean", "long_word_share",
    "type_token_ratio", "function_word_rate", "first_person_rate", "contraction_rate", "capitalised_rate",
    *(f"{name}_per_100_words" for name in PUNCTUATION), "ellipsis_per_100_words", "digit_share",
    "line_breaks_per_100_words",
)


def style_measures(text: str) -> np.ndarray:
    """The :data:`MEASURES` of one text as written (no normalisation: case, punctuation and line breaks
    are what is measured). A text without words gives zeros."""
    words = _WORD.findall(text)
    if not words:
        return np.zeros(len(MEASURES))
    lowered = [word.lower() for word in words]
    sentences = np.array([count for count in (len(_WORD.findall(part)) for part in _SENTENCE_END.split(text))
                          if count], dtype=np.float64)
    lengths = np.array([len(word) for word in words], dtype=np.float64)
    per_100 = 100.0 / len(words)
    mean, spread = float(sentences.mean()), float(sentences.std())
    return np.array([
        mean, spread, spread / mean, float(lengths.mean()), float(np.mean(lengths >= 7)),
        _moving_type_token_ratio(lowered),
        sum(word in FUNCTION_WORDS for word in lowered) / len(words),
        sum(word in _FIRST_PERSON for word in lowered) / len(words),
        sum("'" in word or "’" in word for word in words) / len(words),
        sum(word[0].isupper() for word in words) / len(words),
        *(sum(text.count(mark) for mark in marks) * per_100 for marks in PUNCTUATION.values()),
        (text.count("...") + text.count("…")) * per_100,
        sum(character.isdigit() for character in text) / len(text),
        text.count("\n") * per_100,
    ])


def _moving_type_token_ratio(words: list[str]) -> float:
    """Distinct words per window of :data:`TTR_WINDOW`, averaged over every window (one window for a
    shorter text)."""
    width = min(TTR_WINDOW, len(words))
    counts: dict[str, int] = {}
    for word in words[:width]:
        counts[word] = counts.get(word, 0) + 1
    ratios = [len(counts)]
    for start in range(1, len(words) - width + 1):
        leaving, entering = words[start - 1], words[start + width - 1]
        counts[leaving] -= 1
        if not counts[leaving]:
            del counts[leaving]
        counts[entering] = counts.get(entering, 0) + 1
        ratios.append(len(counts))
    return float(np.mean(ratios)) / width


PARAMS_FILE = "params.json"
SCALE_FILE = "scale.npz"
FILES = (PARAMS_FILE, SCALE_FILE)


@dataclass(frozen=True)
class StyleParams:
    """What the block's columns are; ``block`` names it beside the TF-IDF blocks."""

    measures: tuple[str, ...] = MEASURES
    version: int = STYLE_VERSION
    block: FeatureBlock = "style"

    def to_dict(self) -> dict[str, Any]:
        return {"block": self.block, "measures": list(self.measures), "version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StyleParams:
        if data.get("version") != STYLE_VERSION or tuple(data.get("measures", ())) != MEASURES:
            raise ValueError(f"stylometric features version {data.get('version')!r} are not the ones this "
                             f"humanorai computes (version {STYLE_VERSION}); rebuild the bundle")
        return cls()


@dataclass
class StyleFeatures:
    """Standardised :func:`style_measures`: ``(measure - mean) / spread``, both fitted on training texts,
    so that a linear model's regularisation weighs them like the TF-IDF columns."""

    mean: np.ndarray
    scale: np.ndarray
    params: StyleParams = StyleParams()

    @classmethod
    def fit(cls, texts: list[str]) -> StyleFeatures:
        measures = _measure(texts)
        spread = measures.std(axis=0)
        return cls(mean=measures.mean(axis=0), scale=np.where(spread > 0, spread, 1.0))

    @property
    def n_features(self) -> int:
        return len(self.params.measures)

    def describe(self) -> str:
        return f"{self.n_features} stylometric measures"

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        return sp.csr_matrix((_measure(texts) - self.mean) / self.scale)

    def save(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / PARAMS_FILE).write_text(json.dumps(self.params.to_dict(), indent=2), encoding="utf-8")
        np.savez(directory / SCALE_FILE, mean=self.mean, scale=self.scale)
        return [directory / name for name in FILES]

    @classmethod
    def load(cls, directory: Path) -> StyleFeatures:
        params = StyleParams.from_dict(json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8")))
        with np.load(directory / SCALE_FILE, allow_pickle=False) as archive:
            mean, scale = (np.asarray(archive[key], dtype=np.float64) for key in ("mean", "scale"))
        if mean.shape != (len(params.measures),) or scale.shape != mean.shape or not np.all(scale > 0):
            raise ValueError(f"{directory / SCALE_FILE}: expected {len(params.measures)} means and positive "
                             "spreads")
        return cls(mean=mean, scale=scale, params=params)


def _measure(texts: list[str]) -> np.ndarray:
    return np.array([style_measures(text) for text in texts], dtype=np.float64).reshape(len(texts), len(MEASURES))
