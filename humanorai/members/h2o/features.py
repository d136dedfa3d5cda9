"""Features shared by the three H2O members, stored as plain data.

A bundle's feature set is one or more blocks side by side: TF-IDF word 1–2-grams (the original's),
character 2–5-grams within word boundaries (which travel better to unseen domains), and stylometric
measures (:mod:`humanorai.members.h2o.style`). A TF-IDF block is saved as its vocabulary (a JSON list in
column order), its idf weights (npz) and its parameters (JSON), never as a pickle. Training and serving
both go through :meth:`FeatureSet.transform`, so the features a model was trained on are the features it
is served.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from humanorai.members.h2o.family import BLOCK_DIRS
from humanorai.members.h2o.style import StyleFeatures
from humanorai.settings import FeatureBlock, TfidfSettings
from humanorai.text import TFIDF_DEFAULT, NormalizationSpec, normalize, tokens

#: Character n-grams read the lower-cased text as written (whitespace collapsed), punctuation included.
CHAR_NORMALIZATION = NormalizationSpec(lowercase=True)

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
    #: ``word`` n-grams of tokens, or ``char`` n-grams inside word boundaries (scikit-learn's ``char_wb``).
    block: FeatureBlock = "word"

    @classmethod
    def from_settings(cls, settings: TfidfSettings, block: FeatureBlock) -> TfidfParams:
        """The parameters ``train`` uses for ``block``: the chosen sizes on that block's normalisation."""
        if block == "word":
            return cls(normalization=TFIDF_DEFAULT, max_features=settings.max_features,
                       ngram_range=(1, settings.max_ngram), min_df=settings.min_df)
        return cls(normalization=CHAR_NORMALIZATION, max_features=settings.max_features,
                   ngram_range=settings.char_ngram_range, min_df=settings.min_df, block="char")

    def to_dict(self) -> dict[str, Any]:
        return {
            "block": self.block,
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
            block=data.get("block", "word"),  # bundles from before char features have word blocks only
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
        # Imported here: scikit-learn (and the scipy.stats it loads) costs every serving start a second and a
        # half, and serving never fits.
        from sklearn.feature_extraction.text import TfidfVectorizer

        analyzer = {"analyzer": "word", "tokenizer": tokens} if params.block == "word" else {"analyzer": "char_wb"}
        vectorizer = TfidfVectorizer(
            **analyzer,  # type: ignore[arg-type]
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

    def describe(self) -> str:
        low, high = self.params.ngram_range
        return f"{self.n_features} {self.params.block} {low}-{high}-grams"

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
        count = self._word_counts if self.params.block == "word" else self._char_counts
        for text in texts:
            row = count(normalize(text, self.params.normalization))
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

    def _word_counts(self, normalized_text: str) -> dict[int, int]:
        """Count the vocabulary's word n-grams (joined by one space, as scikit-learn)."""
        words = tokens(normalized_text)
        low, high = self.params.ngram_range
        return self._counts(words[start] if n == 1 else " ".join(words[start:start + n])
                            for n in range(low, high + 1) for start in range(len(words) - n + 1))

    def _char_counts(self, normalized_text: str) -> dict[int, int]:
        """Count the vocabulary's character n-grams exactly as scikit-learn's ``char_wb`` analyzer makes them:
        each word padded with one space on both sides; a word shorter than n gives itself once."""
        low, high = self.params.ngram_range
        grams: list[str] = []
        for word in normalized_text.split():
            padded = f" {word} "
            for n in range(low, high + 1):
                if len(padded) <= n:
                    grams.append(padded)
                    break
                grams.extend(padded[start:start + n] for start in range(len(padded) - n + 1))
        return self._counts(grams)

    def _counts(self, terms: Iterable[str]) -> dict[int, int]:
        row: dict[int, int] = {}
        for term in terms:
            column = self._index.get(term)
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


#: A fitted block of features.
Block = TfidfFeatures | StyleFeatures


@dataclass
class FeatureSet:
    """The H2O members' features: one or more blocks side by side, each scaled on its own (TF-IDF rows
    L2-normalised, stylometric measures standardised)."""

    blocks: list[Block]

    @classmethod
    def fit(cls, texts: list[str], settings: TfidfSettings) -> FeatureSet:
        return cls([StyleFeatures.fit(texts) if block == "style"
                    else TfidfFeatures.fit(texts, TfidfParams.from_settings(settings, block))
                    for block in settings.blocks])

    @property
    def n_features(self) -> int:
        return sum(block.n_features for block in self.blocks)

    def feature_names(self) -> list[str]:
        """Column names used in H2O frames and MOJOs: position-based over all blocks, so any term is safe."""
        width = len(str(self.n_features - 1))
        return [f"t{index:0{width}d}" for index in range(self.n_features)]

    def most_common_columns(self, per_block: int) -> list[int]:
        """Positions, over all blocks, of each TF-IDF block's ``per_block`` terms that most training texts
        contain (lowest idf; ties by position) and of every stylometric column: a narrower view for the
        members whose training time grows with the number of columns."""
        chosen: list[int] = []
        offset = 0
        for block in self.blocks:
            if isinstance(block, TfidfFeatures):
                common = np.argsort(block.idf, kind="stable")[:per_block]
                chosen += sorted(offset + int(position) for position in common)
            else:
                chosen += range(offset, offset + block.n_features)
            offset += block.n_features
        return chosen

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        matrices = [block.transform(texts) for block in self.blocks]
        return matrices[0] if len(matrices) == 1 else sp.hstack(matrices, format="csr")

    def describe(self) -> str:
        return " + ".join(block.describe() for block in self.blocks)

    def preprocessing(self) -> dict[str, Any]:
        """What the manifest records: each block's parameters under the name of its folder."""
        return {BLOCK_DIRS[block.params.block]: block.params.to_dict() for block in self.blocks}

    def save(self, root: Path) -> list[Path]:
        """Write each block into its folder under the bundle ``root``; return the files written."""
        return [path for block in self.blocks for path in block.save(root / BLOCK_DIRS[block.params.block])]

    @classmethod
    def load(cls, root: Path, preprocessing: dict[str, Any]) -> FeatureSet:
        """The blocks a manifest's ``preprocessing`` lists, in the order of :data:`BLOCK_DIRS`."""
        return cls([StyleFeatures.load(root / folder) if block == "style" else TfidfFeatures.load(root / folder)
                    for block, folder in BLOCK_DIRS.items() if folder in preprocessing])
