"""The held-out rows of a bundle: exactly the rows of its test groups, read from the very files it trained on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from humanorai.bundle import read_manifest
from humanorai.corpus import capped, load_corpus
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


def test_the_test_split_is_the_sample_the_training_drew_and_its_count_is_checked(tiny_bundle: Path,
                                                                                 corpus_csv: Path) -> None:
    manifest = read_manifest(tiny_bundle)
    test = manifest.training["split"]["test"]
    assert len(held_out_corpus(manifest, Path.cwd(), as_sampled=True)) == test["rows"]  # trained on every row
    # The same bundle as if trained with --sample-per-group 20 --seed 7: the sample is drawn over the whole
    # corpus, as training draws it, and then cut to the test groups.
    sampled = replace(manifest, command=manifest.command + " --sample-per-group 20 --seed 7",
                      training={**manifest.training, "split": {**manifest.training["split"],
                                                               "test": {**test, "rows": 20 * len(test["groups"])}}})
    everything = load_corpus(corpus_csv, group_column="source", group_pattern=GROUP_PATTERN)
    drawn = capped(everything, 20, 7)
    assert drawn.groups is not None
    expected = [text for text, group in zip(drawn.texts, drawn.groups, strict=True) if group in test["groups"]]
    assert held_out_corpus(sampled, Path.cwd(), as_sampled=True).texts == expected
    miscounted = replace(sampled, training={**sampled.training, "split": {"test": {**test, "rows": 21}}})
    with pytest.raises(DataError, match="20 texts found for the test split, whose report scored 21"):
        held_out_corpus(miscounted, Path.cwd(), as_sampled=True)
