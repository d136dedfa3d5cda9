"""CSV and JSONL rows as the batch reads them: streamed, numbered, and a bad row is that row's error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from humanorai.batch import tables
from humanorai.batch.tables import TableRow, table_rows
from humanorai.errors import DataError
from humanorai.settings import TableColumns


def test_csv_rows_are_numbered_from_1_and_read_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "CSV_ROWS_PER_READ", 2)  # three pieces for five rows
    path = tmp_path / "t.csv"
    path.write_text("text,key\nfirst,a\n\"two\nlines\",b\n,c\nfourth,d\nfifth,e\n", encoding="utf-8")
    rows = list(table_rows(path, TableColumns()))
    assert [row.key for row in rows] == ["1", "2", "3", "4", "5"]
    assert [row.text for row in rows] == ["first", "two\nlines", "", "fourth", "fifth"]  # empty: scoring says so
    assert [row.key for row in table_rows(path, TableColumns(id="key"))] == ["a", "b", "c", "d", "e"]


def test_a_spreadsheets_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbftext,key\nhello,a\n")
    assert list(table_rows(path, TableColumns(id="key"))) == [TableRow("a", text="hello")]


def test_a_csv_row_without_an_id_is_that_rows_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("body,key\nhello,\n", encoding="utf-8")
    assert list(table_rows(path, TableColumns("body", "key"))) == [
        TableRow("(row 1)", error="row 1 has no 'key' (the id column)")]


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty file"),
    ("body,label\nhello,1\n", "no column 'text' (columns: body, label); name it with --text-column"),
    ("text\n\"never closed\n", "cannot be parsed as UTF-8 CSV"),
])
def test_a_csv_that_cannot_be_read_fails_as_a_whole(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(table_rows(path, TableColumns()))


def test_jsonl_rows_are_numbered_by_line_and_a_bad_line_is_that_rows_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    lines = [json.dumps({"text": "first", "id": 7}), "", "{broken", json.dumps([1, 2]),
             json.dumps({"text": 12, "id": 8}), json.dumps({"id": 9}), json.dumps({"text": "last"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert list(table_rows(path, TableColumns())) == [
        TableRow("1", text="first"),
        TableRow("3", error="line 3 is not valid JSON (Expecting property name enclosed in double quotes)"),
        TableRow("4", error="line 4 is a JSON list, not an object"),
        TableRow("5", error="row 5's 'text' is a int, not text"),
        TableRow("6", error="row 6 has no 'text' (the text column)"),
        TableRow("7", text="last"),
    ]
    assert [row.key for row in table_rows(path, TableColumns(id="id"))] == ["7", "(row 3)", "(row 4)", "8", "9",
                                                                                "(row 7)"]


def test_a_jsonl_file_whose_first_object_lacks_the_text_field_fails_once(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"body": "hello"}) + "\n" + json.dumps({"body": "again"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no column 'text' \(columns: body\)"):
        list(table_rows(path, TableColumns()))


def test_a_table_that_is_not_utf8_fails_as_a_whole(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match="not UTF-8"):
        list(table_rows(path, TableColumns()))
