"""Fine-tuning: the learning-rate schedule, mixed precision, which epoch is kept, and restarts of a training
that learned nothing (full training runs in the session bundle)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from humanorai.errors import TrainingError
from humanorai.members.transformer import fine_tune as fine_tune_module
from humanorai.members.transformer.checkpoints import PRESETS, PRETRAINED_LEARNING_RATE, build_from_preset
from humanorai.members.transformer.fine_tune import (
    RESTARTS,
    constant_answer_loss,
    fine_tune,
    fine_tune_until_learned,
    improved,
    learning_schedule,
    mixed_precision,
    warmup_then_decay,
)
from humanorai.settings import FineTuneSettings
from humanorai.text import RAW
from tests.synthetic import make_rows


def test_the_rate_rises_over_the_warmup_then_decays_to_zero() -> None:
    factor = warmup_then_decay(steps=100, warmup_fraction=0.1)
    rates = [factor(step) for step in range(100)]
    assert rates[:10] == pytest.approx([(step + 1) / 10 for step in range(10)])
    assert rates[10] == 1.0 and rates[55] == pytest.approx(0.5)
    assert all(later < earlier for earlier, later in zip(rates[10:], rates[11:], strict=False))
    assert factor(100) == 0.0


def test_without_warmup_it_is_the_plain_linear_decay() -> None:
    factor = warmup_then_decay(steps=50, warmup_fraction=0.0)
    assert [factor(step) for step in (0, 25, 50)] == [1.0, 0.5, 0.0]


def test_from_scratch_warms_up_and_a_pretrained_base_does_not_unless_asked() -> None:
    small = PRESETS["small"]
    assert learning_schedule(FineTuneSettings(), small) == (small.learning_rate, 0.1)
    assert learning_schedule(FineTuneSettings(), None) == (PRETRAINED_LEARNING_RATE, 0.0)
    assert learning_schedule(FineTuneSettings(learning_rate=1e-4, warmup_fraction=0.0), small) == (1e-4, 0.0)
    assert learning_schedule(FineTuneSettings(warmup_fraction=0.2), None) == (PRETRAINED_LEARNING_RATE, 0.2)


def test_a_warmup_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="--warmup"):
        FineTuneSettings(warmup_fraction=1.0)


def test_mixed_precision_only_where_the_hardware_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert mixed_precision("cuda") == torch.float16
    monkeypatch.setattr(fine_tune_module, "fast_bf16", lambda: False)
    assert mixed_precision("cpu") is None  # BF16 would be emulated, and slower, without BF16 instructions
    monkeypatch.setattr(fine_tune_module, "fast_bf16", lambda: True)
    assert mixed_precision("cpu") == torch.bfloat16


def test_bf16_autocast_trains_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The BF16 path of an AMX machine, forced here (emulated, slow but correct) on a tiny model."""
    monkeypatch.setattr(fine_tune_module, "fast_bf16", lambda: True)
    rows = make_rows(48, seed=5)
    texts = [row["text"] for row in rows]
    labels = np.array([int(row["label"]) for row in rows])
    model, tokenizer = build_from_preset("BERT", PRESETS["tiny"], texts, max_length=32)
    settings = FineTuneSettings(epochs=1, batch_size=8, max_length=32)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    metrics = fine_tune(model, tokenizer, RAW, (texts[:40], labels[:40]), (texts[40:], labels[40:]), settings,
                        2e-3, 0.1)
    assert np.isfinite(metrics["valid_loss"])
    assert all(value.dtype == torch.float32 for value in model.state_dict().values())  # weights stay FP32
    assert any(not torch.equal(before[name], value) for name, value in model.state_dict().items())


def test_the_kept_epoch_is_the_best_by_the_chosen_yardstick() -> None:
    best = {"valid_loss": 0.50, "valid_roc_auc": 0.80}
    more_confident_better_ranked = {"valid_loss": 0.55, "valid_roc_auc": 0.85}
    assert improved("roc-auc", best, more_confident_better_ranked)
    assert not improved("loss", best, more_confident_better_ranked)
    assert not improved("roc-auc", best, {"valid_loss": 0.40, "valid_roc_auc": 0.80005})  # within noise
    assert improved("loss", best, {"valid_loss": 0.40, "valid_roc_auc": 0.70})
    with pytest.raises(ValueError, match="--keep-best must be one of loss, roc-auc"):
        FineTuneSettings(keep_best="accuracy")  # type: ignore[arg-type]


def test_keeping_the_best_roc_auc_reports_the_kept_weights_roc_auc() -> None:
    rows = make_rows(96, seed=3)
    texts = [row["text"] for row in rows]
    labels = np.array([int(row["label"]) for row in rows])
    model, tokenizer = build_from_preset("BERT", PRESETS["tiny"], texts, max_length=32)
    settings = FineTuneSettings(epochs=3, batch_size=8, max_length=32, keep_best="roc-auc", patience=2)
    metrics = fine_tune(model, tokenizer, RAW, (texts[:64], labels[:64]), (texts[64:], labels[64:]), settings,
                        2e-3, 0.1)
    assert 1 <= metrics["best_epoch"] <= 3
    encoded = tokenizer(texts[64:], truncation=True, max_length=32, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits.numpy()
    assert metrics["valid_roc_auc"] == pytest.approx(roc_auc_score(labels[64:], logits[:, 1] - logits[:, 0]),
                                                     abs=1e-5)  # the weights kept are the epoch reported
    with pytest.raises(TrainingError, match="needs both labels"):
        fine_tune(model, tokenizer, RAW, (texts[:64], labels[:64]), (texts[64:66], np.array([1, 1])), settings,
                  2e-3, 0.1)


def test_a_constant_answer_scores_the_entropy_of_the_label_shares() -> None:
    assert constant_answer_loss(np.array([0, 1, 0, 1])) == pytest.approx(math.log(2))
    assert constant_answer_loss(np.array([0, 0, 0, 1])) == pytest.approx(-(0.25 * math.log(0.25)
                                                                          + 0.75 * math.log(0.75)))
    assert constant_answer_loss(np.array([1, 1])) is None and constant_answer_loss(np.array([])) is None


def tiny_data(count: int, seed: int) -> tuple[list[str], np.ndarray]:
    rows = make_rows(count, seed=seed)
    return [row["text"] for row in rows], np.array([int(row["label"]) for row in rows])


def test_a_training_that_learns_nothing_restarts_from_new_weights_at_half_the_rate(
        capsys: pytest.CaptureFixture[str]) -> None:
    texts, labels = tiny_data(64, seed=7)
    starts: list[torch.Tensor] = []

    def build() -> tuple[object, object]:
        model, tokenizer = build_from_preset("BERT", PRESETS["tiny"], texts, max_length=32)
        starts.append(model.classifier.weight.detach().clone())
        return model, tokenizer

    settings = FineTuneSettings(epochs=1, batch_size=16, max_length=32)
    # a rate of 50 throws any model into a constant (or overflowing) answer: every attempt fails
    model, _, metrics = fine_tune_until_learned(build, RAW, (texts[:48], labels[:48]), (texts[48:], labels[48:]),
                                                settings, 50.0, 0.0)
    assert metrics["attempts"] == RESTARTS + 1 == len(starts)
    assert metrics["learning_rate"] == 50.0 / 2 ** RESTARTS
    assert not torch.equal(starts[0], starts[1])  # each restart is a new random start
    printed = capsys.readouterr().err
    assert printed.count("nothing was learned; restarting at learning rate") == RESTARTS
    assert "learned nothing in 3 attempts" in printed


def test_a_training_that_learns_is_not_restarted() -> None:
    texts, labels = tiny_data(160, seed=8)
    calls = []

    def build() -> tuple[object, object]:
        calls.append(1)
        return build_from_preset("BERT", PRESETS["tiny"], texts, max_length=64)

    settings = FineTuneSettings(epochs=4, batch_size=16, max_length=64)
    _, _, metrics = fine_tune_until_learned(build, RAW, (texts[:128], labels[:128]), (texts[128:], labels[128:]),
                                            settings, 5e-3, 0.1)
    assert metrics["valid_loss"] < constant_answer_loss(labels[128:]) - 0.01  # type: ignore[operator]
    assert metrics["attempts"] == 1 and len(calls) == 1 and metrics["learning_rate"] == 5e-3
