"""OUT: rows appended and flushed, read back after a kill (a torn last line is cut off), and refused when
resuming would mix bundles or damage what is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from humanorai.batch.output import RowWriter, check_output, read_output
from humanorai.batch.rows import column_types, error_row
from humanorai.errors import InputError

MEMBERS = ["GLM", "BERT"]
COLUMNS = list(column_types(MEMBERS))
BUNDLE = "humanorai-test-bundle"


def scored(item_id: str, p_human: float) -> dict[str, Any]:
    """A row shaped as a scored one (the writer's tests need its types, not a model)."""
    return {"id": item_id, "label": "HUMAN" if p_human >= 0.5 else "AI", "p_human": p_human,
            "confidence": 100 * max(p_human, 1 - p_human), "p_human_GLM": p_human, "p_human_BERT": None,
            "vote_count": 1, "total_models": 2, "method": "soft", "operating_point": "balanced", "words": 57,
            "windows": 1, "low_reliability": False, "bundle": BUNDLE, "error": None}


ROWS = [scored("essays/a.pdf", 0.8125), error_row("essays/b.pdf", "PDF without a text layer", MEMBERS, BUNDLE),
        scored('odd, "quoted"\nid', 0.1)]


def write(path: Path, rows: list[dict[str, Any]], resume: bool = False) -> RowWriter:
    with RowWriter(path, COLUMNS, BUNDLE, resume) as writer:
        writer.write(rows)
    return writer


@pytest.mark.parametrize(("name", "resume", "overwrite", "message"), [
    ("out.txt", False, False, "the output must be a .jsonl or .csv file"),
    ("out.jsonl", True, True, "--resume and --overwrite exclude each other"),
    ("exists.jsonl", False, False, "exists: add --resume to skip the inputs it holds and append the others, or "
                                   "--overwrite to start again"),
    ("folder.csv", True, False, "is a folder"),
])
def test_an_out_the_run_could_not_write_is_refused_before_anything_loads(
        tmp_path: Path, name: str, resume: bool, overwrite: bool, message: str) -> None:
    (tmp_path / "exists.jsonl").write_text("")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(InputError, match=message):
        check_output(tmp_path / name, resume, overwrite)
    check_output(tmp_path / "exists.jsonl", resume=True, overwrite=False)
    check_output(tmp_path / "new" / "out.csv", resume=False, overwrite=False)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_rows_round_trip_with_their_types(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "deep" / f"out{suffix}"
    write(path, ROWS)
    frame = read_output(path)
    assert list(frame.columns) == COLUMNS
    assert dict(frame.dtypes.astype(str)) == column_types(MEMBERS)
    assert frame["id"].tolist() == [row["id"] for row in ROWS]
    assert frame["p_human"].iloc[0] == 0.8125 and frame["p_human"].iloc[2] == 0.1
    assert frame["words"].tolist()[0] == 57 and frame["low_reliability"].tolist()[0] is False
    assert frame["p_human_BERT"].isna().all() and pd.isna(frame["label"].iloc[1])
    assert frame["error"].tolist()[1] == "PDF without a text layer" and frame["error"].isna().sum() == 2


def test_jsonl_and_csv_hold_the_same_rows(tmp_path: Path) -> None:
    write(tmp_path / "out.jsonl", ROWS)
    write(tmp_path / "out.csv", ROWS)
    pd.testing.assert_frame_equal(read_output(tmp_path / "out.jsonl"), read_output(tmp_path / "out.csv"))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_resume_keeps_complete_rows_and_cuts_a_torn_last_line(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    write(path, ROWS[:2])
    whole = path.read_bytes()
    write(path, [scored("essays/torn.pdf", 0.3)], resume=True)
    path.write_bytes(path.read_bytes()[:-9])  # a kill in the middle of writing the last row
    writer = write(path, [scored("essays/c.pdf", 0.7)], resume=True)
    assert path.read_bytes().startswith(whole)
    assert read_output(path)["id"].tolist() == ["essays/a.pdf", "essays/b.pdf", "essays/c.pdf"]
    assert writer.written.ids == {"essays/a.pdf", "essays/b.pdf", "essays/c.pdf"} and writer.written.errors == 1


def test_resume_cuts_a_csv_record_torn_inside_a_quoted_line_break(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write(path, ROWS[:1])
    with path.open("a", encoding="utf-8") as stream:
        stream.write('"essays/multi\n')  # the kill came right after a line break inside a quoted id
    write(path, ROWS[2:], resume=True)
    assert read_output(path)["id"].tolist() == ["essays/a.pdf", ROWS[2]["id"]]


def test_resume_rewrites_a_torn_csv_header(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("id,label,p_hu", encoding="utf-8")
    write(path, ROWS[:1], resume=True)
    assert read_output(path)["id"].tolist() == ["essays/a.pdf"]


@pytest.mark.parametrize(("suffix", "damage", "message"), [
    (".jsonl", "a note the user typed\n", "line 2: not a row that humanorai batch writes"),
    (".csv", "just,three,fields\n", f"record 3: 3 fields, not {len(COLUMNS)}"),
    (".csv", 'a,"b"c\n', "record 3: not valid CSV"),
])
def test_resume_refuses_a_complete_line_that_is_not_a_row_and_leaves_the_file_alone(
        tmp_path: Path, suffix: str, damage: str, message: str) -> None:
    path = tmp_path / f"out{suffix}"
    write(path, ROWS[:1])
    with path.open("a", encoding="utf-8") as stream:
        stream.write(damage)
    write_rows = path.read_bytes()
    with path.open("a", encoding="utf-8") as stream:  # a row after it: the damage is in the middle
        stream.write(path.read_text(encoding="utf-8").splitlines(keepends=True)[-2])
    before = path.read_bytes()
    with pytest.raises(InputError, match=message):
        write(path, ROWS[1:], resume=True)
    assert path.read_bytes() == before and before.startswith(write_rows)


def test_resume_refuses_rows_of_another_bundle_or_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write(path, ROWS)
    with pytest.raises(InputError, match="holds rows scored by bundle humanorai-test-bundle, and this run uses other"):
        RowWriter(path, COLUMNS, "other", resume=True)
    path = tmp_path / "out.csv"
    write(path, ROWS)
    with pytest.raises(InputError, match="has other columns than this run's rows"):
        RowWriter(path, list(column_types(["GLM"])), BUNDLE, resume=True)


def test_a_second_writer_of_the_same_out_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with RowWriter(path, COLUMNS, BUNDLE, resume=False) as first:
        with pytest.raises(InputError, match="is being written by another humanorai batch"):
            RowWriter(path, COLUMNS, BUNDLE, resume=True)
        first.write(ROWS[:1])
    write(path, ROWS[1:], resume=True)
    assert len(read_output(path)) == 3


def test_without_resume_an_existing_out_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write(path, ROWS)
    write(path, ROWS[:1])
    assert read_output(path)["id"].tolist() == ["essays/a.pdf"]
