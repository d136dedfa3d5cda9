"""The transformer fast paths agree with the PyTorch reference (tolerances stated per test).

Measured on the tiny test bundle (and stated in docs/benchmarks.md): ORT FP32 vs PyTorch FP32 agree to
about 1e-6; ORT INT8 to about 1e-2 with the same label on every text; OpenVINO's static INT8 likewise.
"""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from humanorai.bundle import load_bundle
from humanorai.errors import SettingsError
from humanorai.members.base import TextBatch
from humanorai.members.transformer import backends
from humanorai.members.transformer.backends import (
    cpu_flags,
    fast_bf16,
    fast_int8,
    make_backend,
)
from humanorai.members.transformer.member import TransformerMember, WindowSettings, window_spans
from humanorai.text import RAW
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
TEXTS = [row["text"] for row in make_rows(120, seed=77)]


def member(bundle: Path, folder: str, backend: str, precision: str, **windows: int | str) -> TransformerMember:
    path = bundle / folder
    return TransformerMember(folder, path, RAW, make_backend(path, backend, precision, "cpu", threads=2),  # type: ignore[arg-type]
                             WindowSettings(**{"max_length": 128, "stride": 32, **windows}))


@pytest.fixture(scope="module", params=["bert", "roberta"])
def folder(request: pytest.FixtureRequest, tiny_bundle: Path) -> str:
    load_bundle(tiny_bundle)
    return str(request.param)


def test_onnx_fp32_equals_pytorch_fp32(tiny_bundle: Path, folder: str) -> None:
    reference = member(tiny_bundle, folder, "torch", "fp32").predict_proba(TextBatch(TEXTS))
    onnx_fp32 = member(tiny_bundle, folder, "onnx", "fp32").predict_proba(TextBatch(TEXTS))
    assert np.max(np.abs(onnx_fp32 - reference)) <= 1e-4
    assert np.std(reference) > 0.05  # a trained model, not a constant


def test_onnx_int8_stays_close_to_fp32(tiny_bundle: Path, folder: str) -> None:
    reference = member(tiny_bundle, folder, "torch", "fp32").predict_proba(TextBatch(TEXTS))
    int8 = member(tiny_bundle, folder, "onnx", "int8").predict_proba(TextBatch(TEXTS))
    close = np.abs(int8 - reference) <= 0.05
    same_label = (int8 >= 0.5) == (reference >= 0.5)
    assert np.mean(close & same_label) >= 0.95


#: OpenVINO's static INT8 has its scales fixed at export; ORT's dynamic INT8 runs each window alone.
@pytest.mark.parametrize("path", [("onnx", "fp32"), ("openvino", "int8"), ("onnx", "int8")])
def test_padding_a_batch_changes_no_result(tiny_bundle: Path, folder: str, path: tuple[str, str]) -> None:
    scorer = member(tiny_bundle, folder, *path)
    mixed = [TEXTS[0][:40], TEXTS[1], TEXTS[2][:100], " ".join(TEXTS[3:9])]  # the last one is several windows
    together = scorer.predict_proba(TextBatch(mixed))
    alone = np.array([scorer.predict_proba(TextBatch([text]))[0] for text in mixed])
    assert np.max(np.abs(together - alone)) <= 1e-5


def test_a_short_text_is_one_window_and_scores_as_plain(tiny_bundle: Path, folder: str) -> None:
    scorer = member(tiny_bundle, folder, "onnx", "fp32")
    batch = TextBatch([TEXTS[3][:200]])
    windowed = scorer.predict_proba(batch)
    assert batch.annotations[(folder, "windows")].tolist() == [1]
    encoded = scorer._tokenizer([TEXTS[3][:200]], return_tensors="np")
    logits = scorer.backend.logits(encoded["input_ids"].astype(np.int64), encoded["attention_mask"].astype(np.int64))
    plain = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    assert abs(windowed[0] - plain[0]) <= 1e-6


def test_the_served_tokenizer_gives_the_ids_of_the_one_training_used(tiny_bundle: Path, folder: str) -> None:
    # Serving reads the saved tokenizer.json without the model class AutoTokenizer picks (which imports
    # PyTorch); the ids, the special tokens and the length limit must be those of that class.
    from transformers import AutoTokenizer

    trained = AutoTokenizer.from_pretrained(tiny_bundle / folder)
    scorer = member(tiny_bundle, folder, "onnx", "fp32")
    served = scorer._tokenizer
    assert type(served).__name__ != type(trained).__name__
    texts = [*TEXTS, "Ünïcödé café — naïve “quotes” 😀 中文 ﬁ\u00a0x", "  spaced  out  ", "\t\n", "A" * 3000,
             "<s> [CLS] </s> [SEP] <pad> [MASK]"]
    batch = TextBatch(texts)
    normalized = batch.normalized(RAW)  # the bundle's light cleaning (Unicode, whitespace), which training saw too
    plain = scorer._token_ids(batch)
    assert plain == trained(normalized, add_special_tokens=False)["input_ids"]
    assert ([[*scorer._prefix, *ids, *scorer._suffix] for ids in plain]
            == trained(normalized, add_special_tokens=True)["input_ids"])
    assert (served.model_max_length, served.pad_token_id) == (trained.model_max_length, trained.pad_token_id)


def test_threads_that_share_a_member_get_every_token_while_its_tokenizer_is_reconfigured(tiny_bundle: Path,
                                                                                      folder: str) -> None:
    # transformers' wrapper re-sets truncation and padding on its backend in calls like the one below; the
    # member's own encoder must neither fail ("Already borrowed") nor cut texts while that happens.
    scorer = member(tiny_bundle, folder, "onnx", "fp32", max_length=64, stride=16)
    batch = TextBatch([" ".join(TEXTS[:8]), *TEXTS[:30]])
    expected = scorer.cost(batch).tolist()
    stop = threading.Event()

    def reconfigure() -> None:
        while not stop.is_set():
            scorer._tokenizer(batch.texts[:4], truncation=True, max_length=16, padding="max_length")
            scorer._tokenizer(batch.texts[:4])

    with ThreadPoolExecutor(5) as pool:
        busy = [pool.submit(reconfigure) for _ in range(2)]
        costs = list(pool.map(lambda _: scorer.cost(batch).tolist(), range(60)))
        stop.set()
        for future in busy:
            future.result()
    assert costs == [expected] * 60


@pytest.mark.parametrize("aggregation", ["mean", "median", "min", "max"])
def test_a_long_text_is_scored_in_overlapping_windows(tiny_bundle: Path, folder: str, aggregation: str) -> None:
    scorer = member(tiny_bundle, folder, "onnx", "fp32", max_length=64, stride=16, aggregation=aggregation)
    long_text = " ".join(TEXTS[:6])
    short_text = TEXTS[4][:100]
    batch = TextBatch([short_text, long_text])
    p_human = scorer.predict_proba(batch)
    windows = batch.annotations[(folder, "windows")].tolist()
    assert windows[0] == 1 and windows[1] > 3
    encoded = scorer._tokenizer([long_text], truncation=True, max_length=64, stride=16,
                                return_overflowing_tokens=True)
    assert len(encoded["input_ids"]) == windows[1]
    per_window = np.array([scorer.backend.logits(np.array([ids]), np.ones((1, len(ids)), dtype=np.int64))[0]
                           for ids in encoded["input_ids"]])
    margins = per_window[:, 1] - per_window[:, 0]
    if aggregation == "mean":  # the mean of the logits, through the softmax
        mean = per_window.mean(axis=0)
        expected = np.exp(mean[1]) / np.exp(mean).sum()
    else:
        expected = 1 / (1 + np.exp(-{"median": np.median, "min": np.min, "max": np.max}[aggregation](margins)))
    assert abs(p_human[1] - expected) <= 1e-5
    assert np.ptp(margins) > 1e-2  # the windows disagree, so the aggregations differ
    alone = scorer.predict_proba(TextBatch([short_text]))[0]
    assert abs(p_human[0] - alone) <= 1e-5  # one window: every aggregation is plain scoring


def test_an_unknown_window_aggregation_is_refused(tiny_bundle: Path) -> None:
    with pytest.raises(SettingsError, match="mean, median, min, max"):
        member(tiny_bundle, "bert", "onnx", "fp32", aggregation="sum")


def test_backend_choices_are_validated(tiny_bundle: Path) -> None:
    with pytest.raises(SettingsError, match="--precision: the onnx backend has int8, fp32, not fp16"):
        make_backend(tiny_bundle / "bert", "onnx", "fp16", "cpu")
    with pytest.raises(SettingsError, match="runs on the CPU"):
        make_backend(tiny_bundle / "bert", "onnx", "int8", "cuda")
    with pytest.raises(SettingsError, match="--precision: the openvino backend has int8, bf16, fp32, not fp16"):
        make_backend(tiny_bundle / "bert", "openvino", "fp16", "cpu")
    with pytest.raises(SettingsError, match="stride"):
        member(tiny_bundle, "bert", "onnx", "int8", max_length=64, stride=62)
    assert make_backend(tiny_bundle / "bert", "onnx", "int8", "cpu").description == "onnx int8"
    assert make_backend(tiny_bundle / "bert", "openvino", "int8", "cpu").description == "openvino int8"


def copy_without(bundle: Path, tmp_path: Path, *patterns: str) -> Path:
    """The tiny bundle's BERT folder without the files matching ``patterns``."""
    folder = tmp_path / "bert"
    shutil.copytree(bundle / "bert", folder, ignore=shutil.ignore_patterns(*patterns))
    return folder


AVX2 = {"avx2", "fma"}  # an AVX2-only EPYC: INT8 gains nothing, FP32 is closer to the reference
CASCADE_LAKE = {"avx2", "avx512f", "avx512_vnni"}
ALDER_LAKE = {"avx2", "avx_vnni"}  # VNNI on 256-bit registers only
SAPPHIRE_RAPIDS = {"avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16"}  # a Xeon with AMX


@pytest.mark.parametrize(("flags", "expected"), [
    (AVX2, "onnx fp32"), (CASCADE_LAKE, "openvino int8"), (ALDER_LAKE, "onnx int8"),
    (SAPPHIRE_RAPIDS, "openvino int8"),
])
def test_auto_picks_the_backend_a_cpu_runs_best(tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch,
                                                flags: set[str], expected: str) -> None:
    monkeypatch.setattr(backends, "cpu_flags", lambda: frozenset(flags))
    assert make_backend(tiny_bundle / "bert", "auto", "auto", "cpu").description == expected


@pytest.mark.parametrize(("flags", "expected"), [
    (AVX2, "onnx fp32"), (CASCADE_LAKE, "onnx int8"), (ALDER_LAKE, "onnx int8"), (SAPPHIRE_RAPIDS, "openvino bf16"),
])
def test_auto_without_openvino_int8_in_the_bundle_keeps_the_other_paths(
        tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: set[str], expected: str) -> None:
    folder = copy_without(tiny_bundle, tmp_path, "openvino.int8.*")
    monkeypatch.setattr(backends, "cpu_flags", lambda: frozenset(flags))
    assert make_backend(folder, "auto", "auto", "cpu").description == expected


@pytest.mark.parametrize(("flags", "expected"), [
    (AVX2, "onnx int8"), (CASCADE_LAKE, "openvino int8"), (ALDER_LAKE, "onnx int8"), (SAPPHIRE_RAPIDS, "openvino int8"),
])
def test_auto_on_a_serving_only_folder_picks_among_its_int8_files(
        tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: set[str], expected: str) -> None:
    folder = copy_without(tiny_bundle, tmp_path, "model.onnx", "model.safetensors")
    monkeypatch.setattr(backends, "cpu_flags", lambda: frozenset(flags))
    assert make_backend(folder, "auto", "auto", "cpu").description == expected
    assert make_backend(folder, "openvino", "auto", "cpu").description == "openvino int8"  # the one it has
    with pytest.raises(SettingsError, match=r"keeps only its INT8 files; use --backend onnx or openvino --precision"):
        make_backend(folder, "openvino", "fp32", "cpu")


def test_cpu_flags_are_read_from_this_machine() -> None:
    flags = cpu_flags()
    assert "sse2" in flags or "fp" in flags  # x86-64 and ARM64 always have these
    assert fast_int8() == bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


def test_a_folder_without_onnx_runs_in_pytorch_and_says_what_it_has(tiny_bundle: Path, tmp_path: Path) -> None:
    folder = copy_without(tiny_bundle, tmp_path, "*.onnx", "openvino.*")
    assert make_backend(folder, "auto", "auto", "cpu").description == "torch fp32 on cpu"
    with pytest.raises(SettingsError, match=r"bert/model.int8.onnx is not in this bundle; it has model.safetensors$"):
        make_backend(folder, "onnx", "int8", "cpu")


def test_runs_group_windows_of_similar_length_within_the_token_budget(tiny_bundle: Path) -> None:
    scorer = member(tiny_bundle, "bert", "onnx", "fp32", max_tokens_per_run=100, max_windows_per_run=3)
    windows = [[1] * length for length in (50, 10, 12, 40, 11, 9, 60)]
    runs = scorer._runs_by_length(windows)
    assert sorted(index for run in runs for index in run) == list(range(7))
    for run in runs:
        lengths = [len(windows[index]) for index in run]
        assert lengths == sorted(lengths) and len(run) <= 3
        assert len(run) == 1 or len(run) * max(lengths) <= 100


def test_out_of_memory_falls_back_to_cpu_fp32_once(tiny_bundle: Path, caplog: pytest.LogCaptureFixture) -> None:
    import torch

    reference = member(tiny_bundle, "bert", "torch", "fp32").predict_proba(TextBatch(TEXTS[:8]))
    scorer = member(tiny_bundle, "bert", "torch", "fp16")
    backend = scorer.backend
    real_forward = backend._forward  # type: ignore[attr-defined]
    calls = []

    def out_of_memory_once(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        calls.append(len(input_ids))
        if len(calls) == 1:  # the test hook: the first device run fails as a full GPU would
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(input_ids, attention_mask)

    backend._forward = out_of_memory_once  # type: ignore[attr-defined]
    with caplog.at_level("WARNING"):
        first = scorer.predict_proba(TextBatch(TEXTS[:8]))
        second = scorer.predict_proba(TextBatch(TEXTS[:8]))
    assert backend.description == "torch fp32 on cpu"
    assert np.max(np.abs(first - reference)) <= 1e-6 and np.array_equal(first, second)
    assert sum("ran out of GPU memory" in record.message for record in caplog.records) == 1


def test_openvino_fp32_equals_pytorch_fp32(tiny_bundle: Path, folder: str) -> None:
    reference = member(tiny_bundle, folder, "torch", "fp32").predict_proba(TextBatch(TEXTS))
    openvino_fp32 = member(tiny_bundle, folder, "openvino", "fp32").predict_proba(TextBatch(TEXTS))
    assert np.max(np.abs(openvino_fp32 - reference)) <= 1e-4


def test_openvino_static_int8_stays_close_to_fp32(tiny_bundle: Path, folder: str) -> None:
    """ORT INT8's bound above: |Δp_human| ≤ 0.05 and the same label on ≥ 95 % of the texts. The issue's
    bound (0.03 on every text, the same label on 99 %) is for real models on corpus texts, measured by
    ``benchmarks.int8_parity`` (docs/benchmarks.md). These 2-layer, 64-wide models are calibrated on 64
    synthetic texts (``SESSION_BUNDLE_ARGS``); measured here: at most 0.015 (BERT) and 0.046 (RoBERTa), every
    label the same (ORT INT8: 0.012 and 0.010)."""
    reference = member(tiny_bundle, folder, "torch", "fp32").predict_proba(TextBatch(TEXTS))
    int8 = member(tiny_bundle, folder, "openvino", "int8").predict_proba(TextBatch(TEXTS))
    assert np.mean((np.abs(int8 - reference) <= 0.05) & ((int8 >= 0.5) == (reference >= 0.5))) >= 0.95


@pytest.mark.skipif(not fast_bf16(), reason="this CPU has no AMX / AVX-512 BF16 instructions")
def test_openvino_bf16_stays_close_to_fp32(tiny_bundle: Path, folder: str) -> None:
    reference = member(tiny_bundle, folder, "torch", "fp32").predict_proba(TextBatch(TEXTS))
    bf16 = member(tiny_bundle, folder, "openvino", "bf16").predict_proba(TextBatch(TEXTS))
    assert np.mean((np.abs(bf16 - reference) <= 0.05) & ((bf16 >= 0.5) == (reference >= 0.5))) >= 0.95


def test_windows_are_those_of_the_tokenizers_overflow_and_the_cost_counts_their_tokens(tiny_bundle: Path,
                                                                                       folder: str) -> None:
    scorer = member(tiny_bundle, folder, "onnx", "fp32", max_length=64, stride=16)
    batch = TextBatch([TEXTS[0][:30], TEXTS[1], " ".join(TEXTS[:6]), " ".join(TEXTS[:15]), "字" * 500, "x " * 62])
    encoded = scorer._tokenizer(batch.texts, truncation=True, max_length=64, stride=16,
                                return_overflowing_tokens=True)
    windows, owners = scorer._windows_of(batch)
    assert windows == encoded["input_ids"] and owners.tolist() == encoded["overflow_to_sample_mapping"]
    assert max(np.bincount(owners)) > 5  # long texts really are several windows
    built = [sum(len(ids) for ids, owner in zip(windows, owners, strict=True) if owner == index)
             for index in range(len(batch))]
    assert scorer.cost(batch).tolist() == built
    with_emoji = TextBatch([*batch.texts, "😀" * 300, "é" * 200, "a"])
    assert (scorer.cost_bound(with_emoji) >= scorer.cost(with_emoji)).all()  # the bound never undercounts


@pytest.mark.parametrize(("length", "spans"), [
    (0, [(0, 0)]), (10, [(0, 10)]), (62, [(0, 62)]), (63, [(0, 62), (46, 63)]), (108, [(0, 62), (46, 108)]),
    (109, [(0, 62), (46, 108), (92, 109)]),
])
def test_window_spans_share_the_stride_and_end_at_the_text_end(length: int, spans: list[tuple[int, int]]) -> None:
    assert window_spans(length, room=62, stride=16) == spans


def test_scoring_in_steps_yields_once_per_run_and_equals_predict_proba(tiny_bundle: Path, folder: str) -> None:
    scorer = member(tiny_bundle, folder, "onnx", "fp32", max_length=64, stride=16, max_tokens_per_run=128)
    batch = TextBatch([TEXTS[0][:100], " ".join(TEXTS[:6])])
    steps = scorer.scoring(batch)
    yielded = 0
    while True:
        try:
            next(steps)
            yielded += 1
        except StopIteration as done:
            stepwise = done.value
            break
    windows = batch.annotations[(folder, "windows")].sum()
    assert yielded >= windows // 2  # at most two 64-token windows fit a 128-token run
    assert np.array_equal(stepwise, scorer.predict_proba(TextBatch(batch.texts)))


@pytest.mark.parametrize(("backend", "precision", "runtime"), [
    ("onnx", "int8", backends.OnnxBackend), ("openvino", "int8", backends.OpenVinoBackend)])
def test_a_backend_has_run_once_in_the_thread_that_made_it(tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch,
                                                           backend: str, precision: str, runtime: type) -> None:
    """Its runtime's first inference in a process is then never two members' at once (a deadlock seen in
    OpenVINO's pybind11 statics: see backends.warm_up)."""
    calls: list[tuple[tuple[int, ...], str]] = []
    real = runtime.logits

    def recorded(self: object, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        calls.append((input_ids.shape, threading.current_thread().name))
        return real(self, input_ids, attention_mask)

    monkeypatch.setattr(runtime, "logits", recorded)
    made = make_backend(tiny_bundle / "bert", backend, precision, "cpu", threads=1)  # type: ignore[arg-type]
    assert calls == [((1, 2), threading.current_thread().name)]
    assert made.logits(np.zeros((1, 4), np.int64), np.ones((1, 4), np.int64)).shape == (1, 2)
