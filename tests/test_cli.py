"""The ``humanorai`` command as a user runs it: a real subprocess, real bundle, real JVMs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from humanorai import cli
from humanorai.errors import BundleError
from humanorai.segmentation import segment_spans
from tests.conftest import TINY_TRAIN_ARGS, TrainRun, h2o_jvm_pids, humanorai_command, run_cli
from tests.synthetic import make_rows, write_csv

pytestmark = pytest.mark.slow
SAMPLE = make_rows(3, seed=99)[0]["text"]


def test_train_reports_every_stage_and_leaves_no_jvm(trained_bundle: TrainRun) -> None:
    _, result, jvms_before = trained_bundle
    for stage in ("Reading", "Splitting", "Fitting TF-IDF", "Starting H2O", "Training DRF", "Training GBM",
                  "Training GLM", "Training BERT", "Exporting BERT to ONNX",
                  "Quantising BERT to static INT8 for OpenVINO (64 training texts", "Training RoBERTa",
                  "Evaluating on the test split"):
        assert stage in result.stderr
    assert "done in" in result.stderr and "Traceback" not in result.stderr
    assert h2o_jvm_pids() <= jvms_before


def test_predict_json_has_the_api_shape(tiny_bundle: Path) -> None:
    result = run_cli("predict", SAMPLE, "--bundle", str(tiny_bundle), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer["individual_results"]) == {"DRF", "GBM", "GLM", "BERT", "RoBERTa"}
    for member in answer["individual_results"].values():
        assert member["label"] == ("HUMAN" if member["prediction"] == 1 else "AI")
        assert 50.0 <= member["confidence"] <= 100.0
    ensemble = answer["ensemble"]
    votes = sum(member["prediction"] for member in answer["individual_results"].values())
    assert (ensemble["vote_count"], ensemble["total_models"], ensemble["method"]) == (votes, 5, "majority")
    assert ensemble["prediction"] == (1 if votes >= 3 else 0)
    assert {"tfidf", "DRF", "GBM", "GLM", "BERT", "RoBERTa", "total"} <= set(answer["timings_ms"])
    assert answer["windows"] == {"BERT": 1, "RoBERTa": 1}
    assert answer["bundle"].startswith("humanorai-")


def test_predict_table_from_file_and_stdin_agree(tiny_bundle: Path, tmp_path: Path) -> None:
    path = tmp_path / "text.txt"
    path.write_text(SAMPLE, encoding="utf-8")
    from_file = run_cli("predict", "-f", str(path), "--bundle", str(tiny_bundle))
    from_stdin = run_cli("predict", "-", "--bundle", str(tiny_bundle), input_text=SAMPLE)
    assert from_file.returncode == from_stdin.returncode == 0
    for name in ("DRF", "GBM", "GLM", "BERT", "RoBERTa", "ensemble (majority)", "models say HUMAN"):
        assert name in from_file.stdout
    assert table_cells(from_file.stdout) == table_cells(from_stdin.stdout)
    assert len(table_cells(from_file.stdout)) == 6  # five models and the ensemble


def table_cells(output: str) -> list[list[str]]:
    """Model, verdict, confidence and p_human of each table row (timings differ run to run)."""
    rows = [[cell.strip() for cell in line.split("│")[1:5]] for line in output.splitlines() if "│" in line]
    return [row for row in rows if row[0] and row[0] != "model"]


@pytest.mark.parametrize(("args", "message"), [
    (["predict", "   "], "text 0 is empty"),
    (["predict"], "give exactly one of TEXT"),
    (["predict", "hello", "--bundle", "/nonexistent"], "no such bundle folder"),
    (["predict", "hello", "--window-aggregation", "sum"], "--window-aggregation must be one of mean, median, min, max"),
    (["predict", "hello", "--stride", "500"], "must be below"),
    (["predict", "hello", "--segments", "--segment-members", "drf,svm"], "segment member(s) svm not in this bundle"),
    (["predict", "hello", "--segment-members", ","], "segment members: name at least one member"),
])
def test_predict_errors_are_one_line_without_traceback(args: list[str], message: str, tiny_bundle: Path) -> None:
    if "--bundle" not in args:
        args = [*args, "--bundle", str(tiny_bundle)]
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_text_that_is_not_valid_unicode_is_refused_before_the_bundle_loads() -> None:
    # Bytes that are not UTF-8 reach Python's argv as lone surrogates.
    result = subprocess.run([*humanorai_command("predict"), b"caf\xe9 latte", "--bundle", "/nonexistent"],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "HUMANORAI_BUNDLE": ""})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "text 0 has an unpaired surrogate (U+DCE9) at character 3" in result.stderr


def test_without_a_bundle_or_a_demo_the_error_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "DEMO_BUNDLE", tmp_path / "no-demo")
    monkeypatch.delenv("HUMANORAI_BUNDLE", raising=False)
    with pytest.raises(BundleError, match="humanorai train DATA --out DIR"):
        cli._bundle_path(None)


def test_train_errors_are_clear(tmp_path: Path, corpus_csv: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nok,1\nnot ok,robot\n")
    result = run_cli("train", str(bad), "--out", str(tmp_path / "b"))
    assert result.returncode == 2 and "row 3: label 'robot'" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("train", str(corpus_csv), "--out", str(tmp_path / "b"), "--members", "drf,svm")
    assert result.returncode == 2 and "unknown member(s) SVM" in result.stderr
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    result = run_cli("train", str(corpus_csv), "--out", str(occupied))
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert (occupied / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_training_stops_h2o_and_writes_no_bundle(tmp_path: Path, stop: signal.Signals,
                                                                  code: int) -> None:
    data = write_csv(tmp_path / "big.csv", make_rows(900, seed=5))
    out = tmp_path / "interrupted"
    jvms_before = h2o_jvm_pids()
    process = subprocess.Popen(humanorai_command("train", str(data), "--out", str(out), *TINY_TRAIN_ARGS),
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stderr is not None
    for line in process.stderr:
        if "Training DRF" in line:
            break
    assert h2o_jvm_pids() - jvms_before, "the training cluster should be running now"
    process.send_signal(stop)
    rest = process.communicate(timeout=60)[1]
    assert process.returncode == code
    assert "no bundle was written" in rest and "Traceback" not in rest
    assert not out.exists()
    assert not list(tmp_path.glob(".interrupted.staging-*"))
    deadline = time.monotonic() + 20
    while h2o_jvm_pids() - jvms_before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not h2o_jvm_pids() - jvms_before


def test_predict_prints_the_segments_and_the_mixed_flag(tiny_bundle: Path) -> None:
    text = "\n\n".join(row["text"] for row in make_rows(6, seed=12)[:4])
    result = run_cli("predict", text, "--bundle", str(tiny_bundle), "--segments", "--segment-members", "glm")
    assert result.returncode == 0, result.stderr
    rows = [[cell.strip() for cell in line.split("│")[1:5]] for line in result.stdout.splitlines()
            if "│" in line and "–" in line]
    assert [row[0] for row in rows] == [f"{span.start}–{span.end}" for span in segment_spans(text)]
    for _, words, p_human, label in rows:
        assert int(words) >= 25 and label == ("HUMAN" if float(p_human) >= 0.5 else "AI")
    assert "not mixed" in result.stdout or "mixed: both labels" in result.stdout


def test_predict_takes_an_ensemble_method_and_an_operating_point(tiny_bundle: Path) -> None:
    result = run_cli("predict", SAMPLE, "--bundle", str(tiny_bundle), "--json", "--ensemble", "stacked",
                     "--operating-point", "fpr1")
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)["ensemble"]
    assert verdict["method"] == "stacked" and verdict["operating_point"] == "fpr1"
    # wrong choices are refused before the bundle loads
    result = run_cli("predict", SAMPLE, "--bundle", str(tiny_bundle), "--ensemble", "mean")
    assert result.returncode == 2 and "--ensemble must be one of majority, soft, stacked, not 'mean'" in result.stderr
    result = run_cli("predict", SAMPLE, "--bundle", str(tiny_bundle), "--operating-point", "fpr3")
    assert result.returncode == 2 and "--operating-point must be one of balanced, fpr5, fpr1" in result.stderr
    assert "Loading" not in result.stderr


def test_predict_takes_the_window_settings(tiny_bundle: Path) -> None:
    long_text = " ".join([SAMPLE] * 40)
    answers = {}
    for aggregation in ("mean", "min"):
        result = run_cli("predict", long_text, "--bundle", str(tiny_bundle), "--json", "--max-length", "32",
                         "--stride", "8", "--window-aggregation", aggregation)
        assert result.returncode == 0, result.stderr
        answers[aggregation] = json.loads(result.stdout)
    for name in ("BERT", "RoBERTa"):
        assert answers["mean"]["windows"][name] > 5
        # the most AI-like window scores at most the mean (calibration, if any, is increasing)
        assert (answers["min"]["individual_results"][name]["p_human"]
                <= answers["mean"]["individual_results"][name]["p_human"])


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def start_batch(args: list[str], log: Path, rows_before: int, out: Path) -> subprocess.Popen[bytes]:
    """Start ``humanorai batch`` and return once it has written rows of its own (its handlers are in place)."""
    process = subprocess.Popen(humanorai_command(*args), stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                               env={**os.environ, "HUMANORAI_BUNDLE": ""})
    deadline = time.monotonic() + 120
    while lines_in(out) < rows_before + 6:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the batch wrote no rows in time"
        time.sleep(0.005)
    return process


def test_batch_killed_then_stopped_then_resumed_has_every_input_exactly_once(tiny_bundle: Path,
                                                                             tmp_path: Path) -> None:
    texts = write_csv(tmp_path / "texts.csv", [{"text": row["text"]} for row in make_rows(600, seed=61)])
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café".encode("latin-1"))
    out, log = tmp_path / "scores.jsonl", tmp_path / "stderr.txt"
    args = ["batch", str(texts), str(bad), "--out", str(out), "--bundle", str(tiny_bundle), "--chunk-size", "2"]

    killed = start_batch(args, log, 0, out)
    killed.kill()  # SIGKILL: no handler runs, a line may be torn
    killed.wait(timeout=30)
    after_kill = lines_in(out)
    assert after_kill < 601, "the run should have been killed before it ended"

    refused = run_cli(*args)
    assert refused.returncode == 2 and "--resume" in refused.stderr and "--overwrite" in refused.stderr

    stopped = start_batch([*args, "--resume"], log, after_kill, out)
    stopped.send_signal(signal.SIGTERM)
    assert stopped.wait(timeout=60) == 143
    message = log.read_text()
    assert "stopped by SIGTERM" in message and "--resume" in message and "Traceback" not in message
    assert after_kill < lines_in(out) < 601

    finished = run_cli(*args, "--resume")
    assert finished.returncode == 1, finished.stderr  # the Latin-1 file is an error row
    assert "Traceback" not in finished.stderr and "rows with an error: 1" in finished.stderr
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(ids) == sorted([*(f"{texts}#{number}" for number in range(1, 601)), str(bad)])
