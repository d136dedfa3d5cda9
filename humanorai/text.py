"""The one text normalisation shared by training and serving.

The original app trained its TF-IDF on lower-cased, punctuation-free, lemmatised text and then scored
raw text at serving time. Here every consumer of text (TF-IDF, transformers, the cache key) calls
:func:`normalize` with a :class:`NormalizationSpec` that the bundle records, so the skew cannot happen:
the bundle says how its text was normalised and serving rebuilds exactly that spec.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal

from humanorai.errors import InputError

#: Bumped whenever :func:`normalize` changes its output for any spec. A bundle built with another
#: version is refused at load time rather than scored with silently different features.
NORMALIZATION_VERSION = 1

Punctuation = Literal["keep", "split", "strip"]

_WHITESPACE = re.compile(r"\s+")
_WORD_OR_PUNCT = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


@dataclass(frozen=True)
class NormalizationSpec:
    """How a text is normalised before a model sees it.

    ``punctuation``: ``keep`` leaves the text as written (whitespace collapsed) for models with
    their own tokenizer; ``split`` makes every word and every punctuation mark a space-separated
    token; ``strip`` drops punctuation marks. ``lemmatize`` needs ``split`` or ``strip``.
    """

    lowercase: bool = False
    punctuation: Punctuation = "keep"
    lemmatize: bool = False
    version: int = NORMALIZATION_VERSION

    def __post_init__(self) -> None:
        if self.punctuation not in ("keep", "split", "strip"):
            raise ValueError(f"punctuation must be keep, split or strip, not {self.punctuation!r}")
        if self.lemmatize and self.punctuation == "keep":
            raise ValueError("lemmatize needs tokenised text: punctuation 'split' or 'strip'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NormalizationSpec:
        version = data.get("version")
        if version != NORMALIZATION_VERSION:
            raise ValueError(
                f"text normalisation version {version!r} is not supported by this humanorai "
                f"(it implements version {NORMALIZATION_VERSION}); rebuild the bundle"
            )
        return cls(
            lowercase=bool(data["lowercase"]),
            punctuation=data["punctuation"],
            lemmatize=bool(data["lemmatize"]),
            version=version,
        )


#: Light cleaning for models that tokenise text themselves (transformers) and for the cache key.
RAW = NormalizationSpec()

#: TF-IDF normalisation chosen by validation AUC on the shared corpus (see docs/preprocessing.md):
#: lower-cased words with punctuation marks kept as tokens of their own.
TFIDF_DEFAULT = NormalizationSpec(lowercase=True, punctuation="split")


def normalize(text: str, spec: NormalizationSpec) -> str:
    """Return ``text`` normalised by ``spec``; tokenised specs give space-separated tokens."""
    text = unicodedata.normalize("NFKC", text)
    if spec.lowercase:
        text = text.lower()
    if spec.punctuation == "keep":
        return _WHITESPACE.sub(" ", text).strip()
    tokens = _WORD_OR_PUNCT.findall(text)
    if spec.punctuation == "strip":
        tokens = [token for token in tokens if _is_word(token)]
    if spec.lemmatize:
        tokens = [_lemma(token) if _is_word(token) else token for token in tokens]
    return " ".join(tokens)


def check_texts(texts: Sequence[str]) -> None:
    """Raise :class:`InputError` naming the first text that cannot be scored: not a string, empty, or not
    encodable as UTF-8 (a lone surrogate such as JSON's ``"\\ud800"``)."""
    if isinstance(texts, str):
        raise InputError("expected a sequence of texts, got a single string")
    if not texts:
        raise InputError("no text given")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"text {position} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise InputError(f"text {position} is empty")
        problem = unencodable(text)
        if problem:
            raise InputError(f"text {position} {problem}")


def unencodable(text: str) -> str | None:
    """Why ``text`` cannot be encoded as UTF-8 (a lone surrogate such as JSON's ``"\\ud800"``), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return (f"has an unpaired surrogate (U+{ord(text[error.start]):04X}) at character {error.start}; "
                "send valid Unicode")
    return None


def tokens(normalized_text: str) -> list[str]:
    """Split text that :func:`normalize` produced with a tokenised spec."""
    return normalized_text.split()


def _is_word(token: str) -> bool:
    return token[0].isalnum() or token[0] == "_"


@lru_cache(maxsize=200_000)
def _lemma(token: str) -> str:
    import simplemma  # imported lazily: its language data costs start-up time only when used

    return str(simplemma.lemmatize(token, lang="en"))
