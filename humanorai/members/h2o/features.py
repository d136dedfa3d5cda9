"""TF-IDF features shared by the three H2O members, stored as plain data.

The vectorizer is saved as its vocabulary (a JSON list in column order), its idf weights (npz) and its
parameters (JSON), never as a pickle. Training and serving both go through :meth:`TfidfFeatures.transform`,
so the features a model was trained on are the features it is served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from humanorai.settings import TfidfSettings
from humanorai.text import TFIDF_DEFAULT, NormalizationSpec, normalize, tokens

VOCABULARY_FILE = "vocabulary.json"
IDF_FILE = "idf.npz"
PARAMS_FILE = "params.json"
FILES = (VOCABULARY_FILE, IDF_FILE, PARAMS_FILE)


@dataclass(frozen=True)
class TfidfParams:
    """Everything besides vocabulary and idf that decides the output of ``transform``."""

    normalization: NormalizationSpec
    max_features: int = 5000
    ngram_range: tuple[int, int] = (1, 2)
    min_df: int = 2
    sublinear_tf: bool = True

    @classmethod
    def from_settings(cls, settings: TfidfSettings) -> TfidfParams:
        """The parameters ``train`` uses: the chosen sizes on the default TF-IDF normalisation."""
        return cls(normalization=TFIDF_DEFAULT, max_features=settings.max_features,
                   ngram_range=(1, settings.max_ngram), min_df=settings.min_df)

    def to_dict(self) -> dict[str, Any]:
        return {
            "normalization": self.normalization.to_dict(),
            "max_features": self.max_features,
            "ngram_range": list(self.ngram_range),
            "min_df": self.min_df,
            "sublinear_tf": self.sublinear_tf,
            "norm": "l2",
            "smooth_idf": True,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TfidfParams:
        low, high = data["ngram_range"]
        return cls(
            normalization=NormalizationSpec.from_dict(data["normalization"]),
            max_features=int(data["max_features"]),
            ngram_range=(int(low), int(high)),
            min_df=int(data["min_df"]),
            sublinear_tf=bool(data["sublinear_tf"]),
        )


@dataclass
class TfidfFeatures:
    """A fitted TF-IDF: ``transform(texts)`` gives an L2-normalised CSR matrix, one row per text."""

    params: TfidfParams
    terms: list[str]
    idf: np.ndarray
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.terms) != len(self.idf):
            raise ValueError(f"{len(self.terms)} terms but {len(self.idf)} idf weights")
        self._index = {term: index for index, term in enumerate(self.terms)}

    @classmethod
    def fit(cls, texts: list[str], params: TfidfParams) -> TfidfFeatures:
        """Learn vocabulary and idf from ``texts`` (the training split only)."""
        vectorizer = TfidfVectorizer(
            analyzer="word",
            tokenizer=tokens,
            token_pattern=None,
            lowercase=False,
            ngram_range=params.ngram_range,
            max_features=params.max_features,
            min_df=params.min_df,
            sublinear_tf=params.sublinear_tf,
        )
        vectorizer.fit([normalize(text, params.normalization) for text in texts])
        terms = [str(term) for term in vectorizer.get_feature_names_out()]
        return cls(params=params, terms=terms, idf=np.asarray(vectorizer.idf_, dtype=np.float64))

    @property
    def n_features(self) -> int:
        return len(self.terms)

    def feature_names(self) -> list[str]:
        """Column names used in H2O frames and MOJOs: position-based, so any term text is safe."""
        width = len(str(self.n_features - 1))
        return [f"t{index:0{width}d}" for index in range(self.n_features)]

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """TF-IDF rows equal to scikit-learn's ``TfidfVectorizer.transform`` with the same vocabulary.

        Counting is done here rather than by scikit-learn, whose per-call overhead (about 1.5 ms) would
        dominate the latency of a single text; the test suite checks both agree.
        """
        indptr = [0]
        indices: list[int] = []
        counts: list[float] = []
        for text in texts:
            row = self._term_counts(tokens(normalize(text, self.params.normalization)))
            for column in sorted(row):
                indices.append(column)
                counts.append(row[column])
            indptr.append(len(indices))
        column_index = np.array(indices, dtype=np.int32)
        values = np.array(counts, dtype=np.float64)
        if self.params.sublinear_tf:
            values = np.log(values) + 1.0
        values *= self.idf[column_index]
        row_of_value = np.repeat(np.arange(len(texts)), np.diff(indptr))
        norms = np.sqrt(np.bincount(row_of_value, weights=values * values, minlength=len(texts)))
        norms[norms == 0.0] = 1.0
        values /= norms[row_of_value]
        return sp.csr_matrix((values, column_index, np.array(indptr, dtype=np.int32)),
                             shape=(len(texts), self.n_features))

    def _term_counts(self, words: list[str]) -> dict[int, int]:
        """Count the vocabulary's n-grams in ``words`` (n-grams joined by one space, as scikit-learn)."""
        row: dict[int, int] = {}
        low, high = self.params.ngram_range
        for n in range(low, high + 1):
            for start in range(len(words) - n + 1):
                column = self._index.get(words[start] if n == 1 else " ".join(words[start:start + n]))
                if column is not None:
                    row[column] = row.get(column, 0) + 1
        return row

    def save(self, directory: Path) -> list[Path]:
        """Write the three data files into ``directory`` and return their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / VOCABULARY_FILE).write_text(json.dumps(self.terms, ensure_ascii=False), encoding="utf-8")
        np.savez(directory / IDF_FILE, idf=self.idf)
        (directory / PARAMS_FILE).write_text(json.dumps(self.params.to_dict(), indent=2), encoding="utf-8")
        return [directory / name for name in FILES]

    @classmethod
    def load(cls, directory: Path) -> TfidfFeatures:
        terms = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        with np.load(directory / IDF_FILE, allow_pickle=False) as archive:
            idf = np.asarray(archive["idf"], dtype=np.float64)
        params = TfidfParams.from_dict(json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8")))
        return cls(params=params, terms=terms, idf=idf)
