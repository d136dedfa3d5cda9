"""Load, clean and split a labelled corpus, from one file or several.

Input is CSV or JSONL with a text column and a label column (names configurable per file). Labels are 1/0
or HUMAN/AI in any case; anything else is an error that names the file and row. Empty and duplicate texts
are dropped and counted — duplicates across files too. The split is stratified by label, seeded, and
optionally grouped (``group_by``) so that paired texts — an AI rewrite and the human passage it rewrote —
cannot sit on both sides of a split.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from humanorai.bundle import sha256_of
from humanorai.errors import DataError
from humanorai.labels import AI, HUMAN, parse_label
from humanorai.settings import NO_GROUPS_TO_SAMPLE, DataSettings, DataSource


@dataclass(frozen=True)
class Corpus:
    """Clean texts with labels (1 = HUMAN, 0 = AI) and optional group keys."""

    texts: list[str]
    labels: np.ndarray
    groups: np.ndarray | None = None
    dropped_empty: int = 0
    dropped_duplicates: int = 0
    #: The position of each text's data file among those read (see :func:`load_sources`).
    origins: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray) -> Corpus:
        return Corpus(
            texts=[self.texts[i] for i in indices],
            labels=self.labels[indices],
            groups=None if self.groups is None else self.groups[indices],
            origins=None if self.origins is None else self.origins[indices],
        )


def sample_per_group(groups: np.ndarray, labels: np.ndarray, most: int, seed: int) -> np.ndarray:
    """Positions of at most ``most`` texts per group, half of each label where the group has them: every
    group weighs about the same, however many texts its file holds."""
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    for group in sorted(set(groups.tolist())):
        human, machine = (rng.permutation(np.flatnonzero((groups == group) & (labels == label)))
                          for label in (HUMAN, AI))
        take_human = min(len(human), max(most // 2, most - len(machine)))  # room one label lacks goes to the other
        chosen += [human[:take_human], machine[:min(len(machine), most - take_human)]]
    return np.sort(np.concatenate(chosen))


def capped(corpus: Corpus, most: int | None, seed: int) -> Corpus:
    """``corpus`` with at most ``most`` texts per group (see :func:`sample_per_group`); all of it for ``None``."""
    if most is None:
        return corpus
    if corpus.groups is None:
        raise DataError(NO_GROUPS_TO_SAMPLE)
    return corpus.subset(sample_per_group(corpus.groups, corpus.labels, most, seed))


def within_groups(pool: Corpus, like: Corpus) -> Corpus:
    """The texts of ``pool`` whose group is one of ``like``'s groups."""
    if pool.groups is None or like.groups is None:
        raise DataError(NO_GROUPS_TO_SAMPLE)
    return pool.subset(np.flatnonzero(np.isin(pool.groups, np.unique(like.groups))))


@dataclass(frozen=True)
class Split:
    train: Corpus
    valid: Corpus
    test: Corpus
    summary: dict[str, object] = field(default_factory=dict)
    #: Every text of the training split's groups, not only the sampled ones (``--sample-per-group``), for
    #: members given more to learn from (``--h2o-sample-per-group``, ``--bert-sample-per-group``…);
    #: ``None``: nothing beyond ``train``.
    train_pool: Corpus | None = None

    def training_texts(self, most: int | None, seed: int) -> Corpus:
        """A member family's training texts: at most ``most`` per training group, drawn from every text of
        those groups (:attr:`train_pool`); the sampled training split for ``None``. Never a text of a
        validation or test group: the pool holds the training groups only."""
        if most is None:
            return self.train
        return capped(self.train if self.train_pool is None else self.train_pool, most, seed)


def read_table(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Read a CSV or JSONL file (by extension); also return where each row sits, for error messages."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            return frame, [f"row {index + 2}" for index in range(len(frame))]
        if suffix in (".jsonl", ".ndjson"):
            rows, places = [], []
            with path.open(encoding="utf-8") as stream:
                for number, line in enumerate(stream, start=1):
                    if line.strip():
                        try:
                            rows.append(json.loads(line))
                            places.append(f"line {number}")
                        except json.JSONDecodeError as error:
                            raise DataError(f"{path}, line {number}: not valid JSON ({error.msg})") from error
            return pd.DataFrame(rows), places
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path}: empty file; expected a header row, then one row per text") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot be parsed ({error})") from error
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv or .jsonl")


def load_corpus(path: Path, text_column: str = "text", label_column: str = "label",
                group_column: str | None = None, group_pattern: str | None = None) -> Corpus:
    """Read ``path`` and return its clean rows.

    ``group_pattern`` is a regular expression applied to the group column; its first capture group
    (or the whole match) is the group key, e.g. ``^l2r/([^/]+)/`` takes the domain from ``source``.
    """
    return load_sources([DataSource(path, DataSettings(text_column, label_column, group_column, group_pattern))])[0]


def load_sources(sources: Sequence[DataSource]) -> tuple[Corpus, list[dict[str, object]]]:
    """Read every file and return their clean rows as one corpus, with what each file contributed
    (path, sha256, rows read, rows kept, HUMAN and AI kept) for the manifest and reports."""
    if not sources:
        raise DataError("no data file given")
    grouped = {source.columns.group_by is not None for source in sources}
    if len(grouped) > 1:
        raise DataError("--group-by needs a group column in every data file (or in none)")
    texts: list[str] = []
    labels: list[int] = []
    groups: list[str] = []
    origins: list[int] = []
    for index, source in enumerate(sources):
        file_texts, file_labels, file_groups = _read_rows(source)
        texts += file_texts
        labels += file_labels
        groups += file_groups
        origins += [index] * len(file_texts)
    corpus, kept = _clean(texts, np.array(labels, dtype=np.int64), np.array(groups) if grouped == {True} else None)
    kept_origins = np.array(origins, dtype=np.int64)[kept]
    corpus = dataclasses.replace(corpus, origins=kept_origins)
    files: list[dict[str, object]] = []
    for index, source in enumerate(sources):
        mine = kept_origins == index
        human = int(np.sum(corpus.labels[mine] == HUMAN))
        files.append({"path": str(source.path), "sha256": sha256_of(source.path), "rows": origins.count(index),
                      "kept": int(mine.sum()), "human": human, "ai": int(mine.sum()) - human})
    return corpus, files


def _read_rows(source: DataSource) -> tuple[list[str], list[int], list[str]]:
    """Texts, labels and group keys (empty without ``group_by``) of one file, before cleaning."""
    path, columns = source.path, source.columns
    frame, places = read_table(path)
    if frame.empty:
        raise DataError(f"{path}: no rows to read" + (" under the header" if len(frame.columns) else ""))
    for column in (columns.text_column, columns.label_column, columns.group_by):
        if column is not None and column not in frame.columns:
            raise DataError(f"{path}: no column {column!r} (columns: {', '.join(map(str, frame.columns))})")
    labels = []
    for position, value in enumerate(frame[columns.label_column].tolist()):
        try:
            labels.append(parse_label(value))
        except ValueError as error:
            raise DataError(f"{path}, {places[position]}: {error}") from error
    # A missing or non-text value (JSONL null, an absent key, a number) counts as empty, never as "nan".
    texts = [value if isinstance(value, str) else "" for value in frame[columns.text_column].tolist()]
    groups = ([] if columns.group_by is None else
              [_group_key(str(value), columns.group_pattern) for value in frame[columns.group_by].tolist()])
    return texts, labels, groups


def _group_key(value: str, pattern: str | None) -> str:
    if pattern is None:
        return value
    match = re.search(pattern, value)
    if match is None:
        raise DataError(f"group value {value!r} does not match the group pattern {pattern!r}")
    return match.group(1) if match.groups() else match.group(0)


def _clean(texts: list[str], labels: np.ndarray, groups: np.ndarray | None) -> tuple[Corpus, np.ndarray]:
    """Drop empty (or missing) texts and repeated texts (the first occurrence is kept); also return the kept
    positions."""
    keep: list[int] = []
    seen: set[str] = set()
    empty = duplicates = 0
    for index, text in enumerate(texts):
        key = text.strip()
        if not key:
            empty += 1
        elif key in seen:
            duplicates += 1
        else:
            seen.add(key)
            keep.append(index)
    kept = np.array(keep, dtype=np.int64)
    return Corpus(
        texts=[texts[i] for i in kept],
        labels=labels[kept],
        groups=None if groups is None else groups[kept],
        dropped_empty=empty,
        dropped_duplicates=duplicates,
    ), kept


def split_corpus(corpus: Corpus, valid_fraction: float = 0.15, test_fraction: float = 0.15,
                 seed: int = 42) -> Split:
    """Stratified train/valid/test split, grouped when the corpus has groups."""
    if len(set(corpus.labels.tolist())) < 2:
        raise DataError("the data has only one label; training needs both HUMAN and AI texts")
    indices = np.arange(len(corpus))
    rest, test = _split_off(corpus, indices, test_fraction, seed)
    train, valid = _split_off(corpus, rest, valid_fraction / (1.0 - test_fraction), seed + 1)
    parts = {"train": train, "valid": valid, "test": test}
    summary: dict[str, object] = {
        "seed": seed,
        "grouped": corpus.groups is not None,
        **{name: _describe(corpus, part) for name, part in parts.items()},
    }
    return Split(train=corpus.subset(train), valid=corpus.subset(valid), test=corpus.subset(test),
                 summary=summary)


def _split_off(corpus: Corpus, indices: np.ndarray, fraction: float,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    labels = corpus.labels[indices]
    if corpus.groups is None:
        kept, taken = train_test_split(indices, test_size=fraction, stratify=labels, random_state=seed)
        return np.sort(kept), np.sort(taken)
    groups = corpus.groups[indices]
    n_groups = len(set(groups.tolist()))
    n_splits = max(2, min(n_groups, round(1.0 / fraction)))
    if n_groups < 3:
        raise DataError(f"only {n_groups} groups: a grouped train/valid/test split needs at least 3")
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    kept, taken = next(folds.split(indices, labels, groups))
    return indices[kept], indices[taken]


def _describe(corpus: Corpus, indices: np.ndarray) -> dict[str, object]:
    labels = corpus.labels[indices]
    description: dict[str, object] = {"rows": int(len(indices)), "human": int(labels.sum()),
                                      "ai": int(len(labels) - labels.sum())}
    if corpus.groups is not None:
        description["groups"] = sorted(set(corpus.groups[indices].tolist()))
    return description
