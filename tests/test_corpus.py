import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from humanorai.corpus import (
    DataError,
    capped,
    load_corpus,
    load_sources,
    sample_per_group,
    split_corpus,
    within_groups,
)
from humanorai.settings import DataSettings, DataSource
from tests.synthetic import TOPICS, make_rows, write_csv


def test_csv_with_word_labels_and_custom_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("body,who\nfirst text,HUMAN\nsecond text,ai\nthird text,Human\n", encoding="utf-8")
    corpus = load_corpus(path, text_column="body", label_column="who")
    assert corpus.texts == ["first text", "second text", "third text"]
    assert corpus.labels.tolist() == [1, 0, 1]


def test_bad_label_names_the_csv_row(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\nfine,1\nbad one,maybe\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 3: label 'maybe'"):
        load_corpus(path)


def test_bad_label_names_the_jsonl_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "a", "label": 1}) + "\n" + json.dumps({"text": "b", "label": 5}) + "\n")
    with pytest.raises(DataError, match=r"line 2: label 5 "):
        load_corpus(path)


def test_invalid_jsonl_and_missing_columns_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "label": 1}\n{oops\n')
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        load_corpus(broken)
    path = tmp_path / "d.csv"
    path.write_text("content,label\nx,1\n")
    with pytest.raises(DataError, match="no column 'text'"):
        load_corpus(path)
    with pytest.raises(DataError, match="unsupported file type"):
        load_corpus(_touch(tmp_path / "d.xlsx"))


def _touch(path: Path) -> Path:
    path.write_text("")
    return path


def test_empty_and_duplicate_texts_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [{"text": "same", "label": 1}, {"text": "   ", "label": 0}, {"text": "same", "label": 1},
            {"text": "other", "label": 0}, {"text": "", "label": 1}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    corpus = load_corpus(path)
    assert (corpus.texts, corpus.dropped_empty, corpus.dropped_duplicates) == (["same", "other"], 2, 1)


def test_split_is_stratified_seeded_and_disjoint(tmp_path: Path) -> None:
    corpus = load_corpus(write_csv(tmp_path / "d.csv", make_rows(400)))
    split = split_corpus(corpus, seed=5)
    parts = (split.train, split.valid, split.test)
    assert sum(len(part) for part in parts) == 400
    assert len(set(split.train.texts) & set(split.test.texts)) == 0
    for part in parts:
        assert 0.4 < part.labels.mean() < 0.6
    again = split_corpus(corpus, seed=5)
    assert again.test.texts == split.test.texts


def test_grouped_split_keeps_each_group_on_one_side(tmp_path: Path) -> None:
    corpus = load_corpus(write_csv(tmp_path / "d.csv", make_rows(400)), group_column="source",
                         group_pattern=r"^syn/([^/]+)/")
    assert set(corpus.groups.tolist()) == {"sports", "cooking", "finance", "travel", "science", "history"}
    split = split_corpus(corpus)
    groups = [set(part.groups.tolist()) for part in (split.train, split.valid, split.test)]
    assert all(groups) and not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    assert split.summary["grouped"] is True


def test_one_label_only_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\n" + "".join(f"text {i},1\n" for i in range(20)))
    with pytest.raises(DataError, match="only one label"):
        split_corpus(load_corpus(path))


def test_group_pattern_that_does_not_match_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not match"):
        load_corpus(write_csv(tmp_path / "d.csv", make_rows(10)), group_column="source", group_pattern="^l2r/")


def test_several_files_make_one_corpus_with_per_file_counts(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "first.csv", make_rows(40, seed=1))
    renamed = [{"body": row["text"], "who": row["label"], "source": row["source"]} for row in make_rows(30, seed=2)]
    renamed.append({"body": make_rows(40, seed=1)[0]["text"], "who": "1", "source": "syn/sports/human"})
    second = write_csv(tmp_path / "second.csv", renamed)
    columns = DataSettings(group_by="source", group_pattern="^syn/([^/]+)/")
    corpus, files = load_sources([DataSource.parse(str(first), columns),
                                  DataSource.parse(f"{second}#text=body,label=who", columns)])
    assert len(corpus) == 70 and corpus.dropped_duplicates == 1  # the repeat across files is dropped
    assert [(file["rows"], file["kept"], file["human"], file["ai"]) for file in files] == [(40, 40, 20, 20),
                                                                                           (31, 30, 15, 15)]
    assert files[1]["sha256"] == hashlib.sha256(second.read_bytes()).hexdigest()
    assert corpus.groups is not None and set(corpus.groups.tolist()) <= set(TOPICS)


def test_column_overrides_are_checked() -> None:
    assert DataSource.parse("a.csv", DataSettings()).columns == DataSettings()
    assert DataSource.parse("a.csv#group=src", DataSettings()).columns.group_by == "src"
    with pytest.raises(ValueError, match="keys text, label, group"):
        DataSource.parse("a.csv#txt=body", DataSettings())


def test_group_by_needs_a_group_column_in_every_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", make_rows(10))
    with pytest.raises(DataError, match="in every data file"):
        load_sources([DataSource(path, DataSettings(group_by="source")), DataSource(path)])


def test_an_empty_or_header_only_file_is_named(tmp_path: Path) -> None:
    empty = _touch(tmp_path / "empty.csv")
    with pytest.raises(DataError, match=r"empty.csv: empty file; expected a header row"):
        load_corpus(empty)
    header = tmp_path / "header.csv"
    header.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DataError, match="header.csv: no rows to read under the header"):
        load_corpus(header)


def test_missing_or_non_text_values_are_dropped_and_counted_never_read_as_nan(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a real text", "label": 1}\n{"text": null, "label": 0}\n{"label": 1}\n'
                    '{"text": 42, "label": 0}\n{"text": "another text", "label": 0}\n', encoding="utf-8")
    corpus = load_corpus(path)
    assert corpus.texts == ["a real text", "another text"] and corpus.dropped_empty == 3


def test_a_sample_keeps_every_group_and_balances_labels() -> None:
    groups = np.array(["a"] * 10 + ["b"] * 4 + ["c"] * 30)
    labels = np.array([1, 0] * 5 + [1, 1, 1, 0] + [1] * 5 + [0] * 25)
    chosen = sample_per_group(groups, labels, 6, seed=0)
    counts = {group: (int(np.sum(labels[chosen][groups[chosen] == group] == 1)),
                      int(np.sum(labels[chosen][groups[chosen] == group] == 0))) for group in "abc"}
    assert counts == {"a": (3, 3), "b": (3, 1), "c": (3, 3)}
    assert np.array_equal(chosen, sample_per_group(groups, labels, 6, seed=0))  # seeded


def test_capped_takes_at_most_so_many_per_group_and_all_for_none(tmp_path: Path) -> None:
    corpus = load_corpus(write_csv(tmp_path / "d.csv", make_rows(120)), group_column="source",
                         group_pattern=r"^syn/([^/]+)/")
    assert capped(corpus, None, seed=0) is corpus
    _, counts = np.unique(capped(corpus, 8, seed=0).groups, return_counts=True)
    assert counts.tolist() == [8] * 6
    with pytest.raises(DataError, match="needs --group-by"):
        capped(load_corpus(write_csv(tmp_path / "d.csv", make_rows(20))), 8, seed=0)


def test_within_groups_keeps_the_pool_texts_of_those_groups_only(tmp_path: Path) -> None:
    corpus = load_corpus(write_csv(tmp_path / "d.csv", make_rows(120)), group_column="source",
                         group_pattern=r"^syn/([^/]+)/")
    split = split_corpus(capped(corpus, 6, seed=0))
    pool = within_groups(corpus, split.train)
    assert set(pool.groups.tolist()) == set(split.train.groups.tolist())
    assert len(pool) == 20 * len(set(split.train.groups.tolist()))  # every text of those groups


def test_a_family_draws_its_training_texts_from_the_training_groups_pool(tmp_path: Path) -> None:
    corpus = load_corpus(write_csv(tmp_path / "d.csv", make_rows(120)), group_column="source",
                         group_pattern=r"^syn/([^/]+)/")
    split = split_corpus(capped(corpus, 6, seed=0))
    assert split.training_texts(None, seed=0) is split.train
    assert len(split.training_texts(10, seed=0)) == len(split.train)  # no pool: the sampled split, capped
    pooled = replace(split, train_pool=within_groups(corpus, split.train))
    more = pooled.training_texts(10, seed=0)
    _, counts = np.unique(more.groups, return_counts=True)
    assert counts.tolist() == [10] * len(set(split.train.groups.tolist()))  # beyond the sample of 6
    assert set(more.groups.tolist()) == set(split.train.groups.tolist())  # never a validation or test group
