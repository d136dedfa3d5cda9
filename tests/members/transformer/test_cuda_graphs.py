"""CUDA graphs of the PyTorch backend: bucket choice and padding on any machine (padding up to a bucket must
change no logit, which is what makes replaying a padded graph right); capture and replay where CUDA exists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification

from humanorai.members.transformer.backends import TorchBackend, make_backend
from humanorai.members.transformer.cuda_graphs import (
    MOST_GRAPH_POSITIONS,
    Bucket,
    CapturedForward,
    bucket_for,
    graph_buckets,
    pad_to_bucket,
)
from humanorai.members.transformer.member import softmax_human

WINDOW = 128
TINY = {"vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 128, "num_labels": 2}
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device; none here")


@pytest.fixture(scope="module", params=["bert", "roberta"])
def model_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random classifier saved as a bundle holds it (RoBERTa pads with id 1 and offsets positions)."""
    torch.manual_seed(0)
    if request.param == "bert":
        model = BertForSequenceClassification(BertConfig(max_position_embeddings=WINDOW, **TINY))
    else:
        model = RobertaForSequenceClassification(RobertaConfig(max_position_embeddings=WINDOW + 2, pad_token_id=1,
                                                               **TINY))
    folder = tmp_path_factory.mktemp(request.param)
    model.save_pretrained(folder)
    return folder


def pad_id_of(model_folder: Path) -> int:
    return 1 if model_folder.name.startswith("roberta") else 0


def random_run(rng: np.random.Generator, lengths: list[int], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded random windows of ``lengths`` tokens, as the member builds a run."""
    input_ids = np.full((len(lengths), max(lengths)), pad_id, dtype=np.int64)
    attention_mask = np.zeros_like(input_ids)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = rng.integers(5, TINY["vocab_size"], size=length)
        attention_mask[row, :length] = 1
    return input_ids, attention_mask


def test_buckets_are_powers_of_two_up_to_the_window_within_the_position_budget() -> None:
    buckets = graph_buckets(512)
    assert {bucket.tokens for bucket in buckets} == {64, 128, 256, 512}
    assert Bucket(1, 512) in buckets and Bucket(8, 512) in buckets and Bucket(32, 128) in buckets
    assert Bucket(16, 512) not in buckets  # bound by arithmetic: runs eagerly
    assert all(bucket.positions <= MOST_GRAPH_POSITIONS for bucket in buckets)
    assert {bucket.tokens for bucket in graph_buckets(300)} == {64, 128, 256, 300}  # the window itself last
    assert {bucket.tokens for bucket in graph_buckets(40)} == {40}


@pytest.mark.parametrize(("rows", "tokens", "expected"), [
    (1, 512, Bucket(1, 512)),
    (1, 509, Bucket(1, 512)),
    (1, 64, Bucket(1, 64)),
    (3, 100, Bucket(4, 128)),
    (2, 60, Bucket(2, 64)),
    (32, 128, Bucket(32, 128)),
    (9, 512, None),  # wider than every bucket
    (33, 10, None),
    (1, 513, None),
])
def test_a_run_takes_the_bucket_with_the_fewest_positions_that_holds_it(rows: int, tokens: int,
                                                                         expected: Bucket | None) -> None:
    assert bucket_for(rows, tokens, graph_buckets(512)) == expected


def test_padding_puts_the_run_top_left_and_gives_each_extra_row_one_attended_token() -> None:
    input_ids = np.array([[7, 8, 9], [4, 5, 1]])
    attention_mask = np.array([[1, 1, 1], [1, 1, 0]])
    padded_ids, padded_mask = pad_to_bucket(input_ids, attention_mask, Bucket(4, 5), pad_id=1)
    assert padded_ids.tolist() == [[7, 8, 9, 1, 1], [4, 5, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]]
    assert padded_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 0, 0, 0, 0]]
    assert padded_ids.dtype == padded_mask.dtype == np.int64


@pytest.mark.parametrize("lengths", [[100], [50, 128, 7], [3, 3]])
def test_padding_a_run_up_to_its_bucket_changes_no_logit(model_folder: Path, lengths: list[int]) -> None:
    """What a replayed graph computes, run eagerly on the CPU: the run padded up to its bucket."""
    backend = TorchBackend(model_folder, "cpu", "fp32", threads=1)
    pad_id = pad_id_of(model_folder)
    input_ids, attention_mask = random_run(np.random.default_rng(len(lengths)), lengths, pad_id)
    bucket = bucket_for(*input_ids.shape, graph_buckets(WINDOW))
    assert bucket is not None and bucket.positions > input_ids.size  # padded in tokens, rows or both
    padded = backend.logits(*pad_to_bucket(input_ids, attention_mask, bucket, pad_id))
    assert np.max(np.abs(padded[:len(lengths)] - backend.logits(input_ids, attention_mask))) <= 1e-5


def test_on_the_cpu_the_setting_changes_nothing(model_folder: Path) -> None:
    backend = make_backend(model_folder, "torch", "fp32", "cpu", threads=1, graph_window_length=WINDOW)
    assert backend.description == "torch fp32 on cpu" and backend.device == "cpu"


def test_a_capture_that_fails_leaves_the_model_eager_and_says_why(model_folder: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    backend = TorchBackend(model_folder, "cpu", "fp32", threads=1)
    with caplog.at_level("WARNING"):
        captured = CapturedForward.capture(backend._model, WINDOW, pad_id_of(model_folder), backend.logits,
                                           "tiny")  # a CPU model
    assert captured is None
    assert any("CUDA graphs could not be captured, running eagerly" in record.message for record in caplog.records)


@cuda
@pytest.mark.parametrize("precision", ["fp16", "fp32"])
def test_replayed_graphs_agree_with_the_eager_pass(model_folder: Path, precision: str) -> None:
    graphed = TorchBackend(model_folder, "cuda", precision, threads=1, graph_window_length=WINDOW)
    eager = TorchBackend(model_folder, "cuda", precision, threads=1)
    assert graphed.description == f"torch {precision} on cuda with cuda graphs"
    assert eager.description == f"torch {precision} on cuda"
    pad_id = pad_id_of(model_folder)
    rng = np.random.default_rng(1)
    for lengths in ([WINDOW], [70], [50, 128, 7], [int(n) for n in rng.integers(1, WINDOW + 1, size=32)],
                    [10] * 33):  # the last fits no bucket: eager
        input_ids, attention_mask = random_run(rng, lengths, pad_id)
        difference = softmax_human(graphed.logits(input_ids, attention_mask)) - softmax_human(
            eager.logits(input_ids, attention_mask))
        assert np.max(np.abs(difference)) <= 1e-3, lengths


@cuda
def test_graphs_that_disagree_with_the_eager_pass_are_refused(model_folder: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    eager = TorchBackend(model_folder, "cuda", "fp32", threads=1)

    def shifted(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return eager.logits(input_ids, attention_mask) + np.array([[0.0, 0.5]])  # p_human moves by ~0.1

    with caplog.at_level("WARNING"):
        assert CapturedForward.capture(eager._model, WINDOW, pad_id_of(model_folder), shifted, "tiny") is None
    assert any("differs from the eager run's" in record.message for record in caplog.records)
