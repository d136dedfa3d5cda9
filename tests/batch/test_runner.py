"""A batch run over a folder of every kind of input: each input exactly once in OUT, bad ones as error rows,
the same rows in JSONL and CSV, and a stopped run resumed to the end."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest

from humanorai.batch.inputs import find_inputs
from humanorai.batch.output import read_output
from humanorai.batch.runner import run_batch
from humanorai.documents.readers import read_document
from humanorai.scoring.engine import Engine
from humanorai.settings import BatchSettings, TableColumns
from tests.documents.samples import (
    docx_bytes,
    encrypted_pdf_bytes,
    image_only_pdf_bytes,
    pdf_bytes,
    write,
)
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
TEXTS = [row["text"] for row in make_rows(12, seed=41)]
ERRORS = {
    "essays/bad.txt": "not UTF-8 text (byte 0xe9 at position 3); save it as UTF-8 and try again",
    "essays/blank.txt": "empty: no text to score",
    "essays/locked.pdf": "encrypted PDF: it needs a password to open; save an unprotected copy",
    "essays/scan.pdf": "PDF without a text layer (1 page(s), no text): a scan or images only; run OCR on it first",
    "essays/more/broken.docx": "not a readable DOCX (BadZipFile: File is not a zip file); a password-protected file "
                               "or an old .doc cannot be read: save it as .docx",
    "essays/rows.jsonl#k3": "row 2 has no 'text' (the text column)",
}


@pytest.fixture
def essays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """essays/: good and bad documents of every format, and two tables of rows with ids."""
    monkeypatch.chdir(tmp_path)  # ids are paths as given: relative ones keep them short
    root = Path("essays")
    write(root / "a.pdf", pdf_bytes(TEXTS[0], TEXTS[1]))
    write(root / "b.txt", TEXTS[2].encode())
    write(root / "bad.txt", "café".encode("latin-1"))
    write(root / "blank.txt", b"  \n")
    write(root / "locked.pdf", encrypted_pdf_bytes(TEXTS[3], user_password="secret"))
    write(root / "scan.pdf", image_only_pdf_bytes())
    write(root / "more" / "c.docx", docx_bytes(*TEXTS[4].split(". ", 1)))
    write(root / "more" / "broken.docx", b"PK not a zip")
    pd.DataFrame({"key": ["k1", "k2"], "text": TEXTS[5:7]}).to_csv(root / "rows.csv", index=False)
    write(root / "rows.jsonl", "".join(json.dumps(row) + "\n" for row in [
        {"key": "k1", "text": TEXTS[7]}, {"key": "k3"}, {"key": "k4", "text": TEXTS[8]}]).encode())
    return root


def files(root: Path) -> list[Path]:
    return find_inputs([root], Path("out.jsonl")).files


def settings(out: str, **changes: object) -> BatchSettings:
    return BatchSettings(out=Path(out), columns=TableColumns(id="key"), chunk_size=4, **changes)  # type: ignore[arg-type]


def test_every_input_is_one_row_and_bad_ones_say_why(tiny_engine: Engine, essays: Path) -> None:
    summary = run_batch(tiny_engine, files(essays), settings("out.jsonl"))
    rows = read_output(Path("out.jsonl"))
    assert sorted(rows["id"]) == sorted([
        "essays/a.pdf", "essays/b.txt", "essays/more/c.docx", "essays/rows.csv#k1", "essays/rows.csv#k2",
        "essays/rows.jsonl#k1", "essays/rows.jsonl#k4", *ERRORS])
    assert dict(zip(rows["id"], rows["error"], strict=True)) == {
        **dict.fromkeys(set(rows["id"]) - set(ERRORS), pd.NA), **ERRORS}
    good = rows[rows["error"].isna()]
    assert good["label"].isin(["HUMAN", "AI"]).all() and good["p_human"].between(0, 1).all()
    assert good["p_human_RoBERTa"].notna().all() and (good["windows"] >= 1).all()
    assert rows[rows["error"].notna()]["p_human"].isna().all()
    pdf = tiny_engine.predict([pdf_text(essays / "a.pdf")])[0]
    assert rows.set_index("id").loc["essays/a.pdf", "p_human"] == round(pdf.verdict.p_human, 6)
    assert (summary.scored, summary.errors, summary.skipped, summary.stopped) == (7, 6, 0, False)
    assert summary.ai == int((good["label"] == "AI").sum())
    assert (summary.out_rows, summary.out_errors) == (13, 6)


def pdf_text(path: Path) -> str:
    with path.open("rb") as stream:
        return read_document(path, stream)


def test_jsonl_and_csv_outputs_hold_the_same_rows(tiny_engine: Engine, essays: Path) -> None:
    run_batch(tiny_engine, files(essays), settings("out.jsonl"))
    run_batch(tiny_engine, files(essays), settings("out.csv"))
    pd.testing.assert_frame_equal(read_output(Path("out.jsonl")), read_output(Path("out.csv")))


def test_a_stopped_run_keeps_what_it_scored_and_a_resumed_one_does_the_rest(tiny_engine: Engine,
                                                                             essays: Path) -> None:
    stop = threading.Event()
    stop.set()  # as if Ctrl-C came during the first chunk: that chunk is written, then the run ends
    first = run_batch(tiny_engine, files(essays), settings("out.csv"), stop)
    assert first.stopped and first.scored + first.errors == 4 and len(read_output(Path("out.csv"))) == 4
    second = run_batch(tiny_engine, files(essays), settings("out.csv", resume=True))
    assert not second.stopped and second.skipped == 4 and second.scored + second.errors == 9
    rows = read_output(Path("out.csv"))
    assert len(rows) == 13 and rows["id"].is_unique
    assert (second.out_rows, second.out_errors) == (13, 6)


def test_with_segments_rows_carry_mixed_and_each_segments_text(tiny_engine: Engine, essays: Path) -> None:
    run_batch(tiny_engine, files(essays), settings("out.jsonl", segments=True))
    run_batch(tiny_engine, files(essays), settings("out.csv", segments=True))
    rows = read_output(Path("out.jsonl"))
    pd.testing.assert_frame_equal(rows, read_output(Path("out.csv")))
    assert list(rows.columns[-4:]) == ["mixed", "segments", "bundle", "error"]
    good = rows[rows["error"].isna()].set_index("id")
    assert good["mixed"].notna().all() and rows[rows["error"].notna()]["segments"].isna().all()
    text = pdf_text(essays / "a.pdf")
    expected = tiny_engine.predict([text], segments=True)[0]
    segments = json.loads(good.loc["essays/a.pdf", "segments"])
    assert [(segment["start"], segment["end"], segment["label"]) for segment in segments] == [
        (segment.start, segment.end, segment.label) for segment in expected.segments or []]
    assert "".join(segment["text"] for segment in segments) == text  # the segments' texts make the whole text
    assert good.loc["essays/a.pdf", "mixed"] == expected.mixed
    with pytest.raises(ValueError, match="other columns than this run's rows .* --segments choice"):
        run_batch(tiny_engine, files(essays), settings("out.jsonl", resume=True))  # written with segments
