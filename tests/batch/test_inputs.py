"""Inputs found up front, read lazily as items whose ids are the same in every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from humanorai.batch.inputs import Item, find_inputs, read_items
from humanorai.errors import InputError
from humanorai.settings import TableColumns
from tests.documents.samples import docx_bytes, pdf_bytes, write


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """essays/ with documents, a table, and files a folder search leaves out."""
    root = tmp_path / "essays"
    write(root / "b.txt", b"Plain text essay.")
    write(root / "a.pdf", pdf_bytes("A PDF essay."))
    write(root / "term" / "c.docx", docx_bytes("A Word essay."))
    write(root / "marks.csv", b"text\nfirst row\nsecond row\n")
    write(root / "photo.png", b"\x89PNG")
    write(root / "README", b"no suffix")
    write(root / ".hidden.txt", b"hidden")
    write(root / ".git" / "x.txt", b"in a hidden folder")
    write(root / "term" / "~$c.docx", b"Word's lock file")
    return root


def test_a_folder_is_searched_recursively_by_suffix_in_sorted_order(folder: Path, tmp_path: Path) -> None:
    found = find_inputs([folder], tmp_path / "out.jsonl")
    assert [path.relative_to(folder).as_posix() for path in found.files] == ["a.pdf", "b.txt", "marks.csv",
                                                                              "term/c.docx"]
    assert dict(found.ignored) == {".png": 1, "(none)": 1}


def test_each_file_is_read_once_and_out_is_not_an_input(folder: Path) -> None:
    out = folder / "scores.csv"
    out.write_text("id,error\n")
    found = find_inputs([folder / "b.txt", folder, Path(f"{folder}/../essays/b.txt")], out)
    assert found.files[0] == folder / "b.txt"
    assert len(found.files) == 4 and out not in found.files


def test_a_missing_input_or_nothing_to_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope: no such file or folder"):
        find_inputs([tmp_path / "nope"], tmp_path / "out.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"nothing to read in .*empty: no .pdf, .docx, .txt, .csv, .jsonl, .ndjson"):
        find_inputs([tmp_path / "empty"], tmp_path / "out.jsonl")


def test_items_are_documents_by_path_and_table_rows_by_path_and_number(folder: Path, tmp_path: Path) -> None:
    files = find_inputs([folder], tmp_path / "out.jsonl").files
    items = {item.id: item for item in read_items(files, TableColumns())}
    assert list(items) == [f"{folder}/a.pdf", f"{folder}/b.txt", f"{folder}/marks.csv#1", f"{folder}/marks.csv#2",
                           f"{folder}/term/c.docx"]
    assert items[f"{folder}/a.pdf"].text.strip() == "A PDF essay."  # type: ignore[union-attr]
    assert items[f"{folder}/term/c.docx"].text == "A Word essay."
    assert items[f"{folder}/marks.csv#2"].text == "second row"


def test_skipped_documents_are_not_opened_and_counting_opens_none(folder: Path, tmp_path: Path) -> None:
    files = find_inputs([folder], tmp_path / "out.jsonl").files
    (folder / "a.pdf").unlink()  # opening a deleted file gives an error item: a skipped one must not be opened
    (folder / "b.txt").unlink()
    (opened,) = read_items(files[:1], TableColumns())
    assert opened.error == "cannot be read (No such file or directory)"
    items = list(read_items(files, TableColumns(), skip={f"{folder}/a.pdf", f"{folder}/b.txt"}))
    assert [(item.id, item.error) for item in items] == [(f"{folder}/marks.csv#1", None),
                                                         (f"{folder}/marks.csv#2", None),
                                                         (f"{folder}/term/c.docx", None)]
    counted = list(read_items(files, TableColumns(), read_documents=False))
    assert counted[:2] == [Item(f"{folder}/a.pdf"), Item(f"{folder}/b.txt")]  # no text, no error: not opened
    assert [item.id for item in counted[2:]] == [item.id for item in items]


def test_unreadable_inputs_are_items_with_their_error(tmp_path: Path) -> None:
    bad_pdf = write(tmp_path / "scan.pdf", b"%PDF-1.4 nothing else")
    other = write(tmp_path / "notes.rtf", b"{\\rtf1}")
    no_text = write(tmp_path / "rows.csv", b"body\nhello\n")
    unreadable = tmp_path / "folder.jsonl"
    unreadable.mkdir()
    items = list(read_items([bad_pdf, other, no_text, unreadable], TableColumns()))
    assert [item.id for item in items] == [str(bad_pdf), str(other), str(no_text), str(unreadable)]
    assert items[0].error is not None and items[0].error.startswith("not a readable PDF")
    assert items[1].error == "unsupported file type '.rtf'; documents can be .pdf, .docx, .txt"
    assert items[2].error == "no column 'text' (columns: body); name it with --text-column"
    assert items[3].error == "cannot be read (Is a directory)"


def test_a_repeated_id_is_an_error_item_so_that_ids_stay_unique(tmp_path: Path) -> None:
    table = write(tmp_path / "t.jsonl", "".join(json.dumps({"id": key, "text": f"text {n}"}) + "\n"
                                                for n, key in enumerate(["a", "b", "a", "a"])).encode())
    items = list(read_items([table], TableColumns(id="id")))
    assert items == [Item(f"{table}#a", "text 0"), Item(f"{table}#b", "text 1"),
                     Item(f"{table}#a (repeat 2)", error="repeats the id 'a': only its first row is scored"),
                     Item(f"{table}#a (repeat 3)", error="repeats the id 'a': only its first row is scored")]
    resumed = [item.id for item in read_items([table], TableColumns(id="id"), skip={f"{table}#a"})]
    assert resumed == [f"{table}#b", f"{table}#a (repeat 2)", f"{table}#a (repeat 3)"]
