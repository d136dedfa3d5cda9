"""The held-out rows of a bundle: exactly the rows of its test groups, read from the very files it trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from humanorai.bundle import read_manifest
from humanorai.corpus import load_corpus
from humanorai.errors import DataError
from humanorai.evaluation.held_out import held_out_corpus

GROUP_PATTERN = "^syn/([^/]+)/"


def test_the_held_out_rows_are_every_row_of_the_test_groups(tiny_bundle: Path, corpus_csv: Path) -> None:
    manifest = read_manifest(tiny_bundle)
    test_groups = manifest.training["split"]["test"]["groups"]
    corpus = held_out_corpus(manifest, Path.cwd())
    everything = load_corpus(corpus_csv, group_column="source", group_pattern=GROUP_PATTERN)
    assert everything.groups is not None and corpus.groups is not None
    inside = np.isin(everything.groups, test_groups)
    assert 0 < len(corpus) == int(inside.sum()) < len(everything)
    assert set(corpus.groups) == set(test_groups)
    assert corpus.texts == [text for text, kept in zip(everything.texts, inside, strict=True) if kept]


def test_a_data_file_other_than_the_trained_one_is_refused(tiny_bundle: Path, corpus_csv: Path,
                                                           tmp_path: Path) -> None:
    manifest = read_manifest(tiny_bundle)
    changed = tmp_path / "corpus.csv"
    changed.write_text(corpus_csv.read_text().replace("the", "a", 1))
    with pytest.raises(DataError, match=r"corpus.csv is not the file the bundle was trained on \(.*sha256"):
        held_out_corpus(manifest, Path.cwd(), [changed])
    with pytest.raises(DataError, match="trained on 1 data files, not 2"):
        held_out_corpus(manifest, Path.cwd(), [corpus_csv, corpus_csv])
    with pytest.raises(DataError, match="absent.csv: no such file"):
        held_out_corpus(manifest, Path.cwd(), [tmp_path / "absent.csv"])
    assert len(held_out_corpus(manifest, Path.cwd(), [corpus_csv])) > 0  # the same file, named: accepted
