"""Fine-tune a BERT or RoBERTa sequence classifier (label 1 = HUMAN): AdamW with a warm-up and a linear
decay, mixed precision where the hardware has it, early stopping on the validation loss or ROC AUC.

Text reaches the tokenizer through :func:`humanorai.text.normalize` with the spec the bundle records,
exactly as at serving time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from humanorai.errors import TrainingError
from humanorai.members.transformer.backends import fast_bf16
from humanorai.members.transformer.checkpoints import PRETRAINED_LEARNING_RATE, PRETRAINED_WARMUP, Preset
from humanorai.progress import note, progress_bar
from humanorai.settings import FineTuneSettings
from humanorai.text import NormalizationSpec, normalize

#: How far (in nats) the best epoch's validation loss must fall below a constant answer's to count as
#: learned. On a GPU, from-scratch RoBERTa fold trainings that collapsed ended within 0.003 of it, and those
#: that learned 0.03 or more below it (docs/training.md).
LEARNED_MARGIN = 0.01
#: Restarts of a fine-tuning that learned nothing, each from a new start at half the learning rate.
RESTARTS = 2

ModelBuilder = Callable[[], tuple[PreTrainedModel, PreTrainedTokenizerFast]]


def fine_tune_until_learned(build: ModelBuilder, spec: NormalizationSpec, train: tuple[list[str], np.ndarray],
                            valid: tuple[list[str], np.ndarray], settings: FineTuneSettings, learning_rate: float,
                            warmup_fraction: float) -> tuple[PreTrainedModel, PreTrainedTokenizerFast,
                                                             dict[str, float]]:
    """:func:`fine_tune` the model ``build`` makes; while its best epoch is no better than a constant answer
    on the validation split (the collapse a from-scratch post-layer-norm model falls into now and then),
    build it again from the next seed and restart at half the learning rate, at most :data:`RESTARTS`
    times. The metrics add the attempts made and the learning rate of the model returned."""
    chance = constant_answer_loss(valid[1])
    rate = learning_rate
    for attempt in range(RESTARTS + 1):
        if attempt:
            _seed_everything(settings.seed + attempt)  # a new random start for a from-scratch model
        model, tokenizer = build()
        metrics = fine_tune(model, tokenizer, spec, train, valid, replace(settings, seed=settings.seed + attempt),
                            rate, warmup_fraction)
        learned = chance is None or metrics.get("valid_loss", math.inf) < chance - LEARNED_MARGIN
        if learned or attempt == RESTARTS:
            break
        note(f"validation loss {metrics.get('valid_loss', math.nan):.4f} is no better than a constant answer's "
             f"({chance:.4f}): nothing was learned; restarting at learning rate {rate / 2:.2e}")
        rate /= 2
    if not learned:
        note(f"[yellow]warning:[/yellow] fine-tuning learned nothing in {RESTARTS + 1} attempts (validation "
             f"loss no better than a constant answer's, {chance:.4f}); this member's votes will be near "
             "constant: try a lower --learning-rate")
    return model, tokenizer, {**metrics, "attempts": float(attempt + 1), "learning_rate": rate}


def constant_answer_loss(labels: np.ndarray) -> float | None:
    """Cross-entropy of the best constant answer (the label shares) on ``labels``: what a model that learned
    nothing scores; ``None`` when a split has one label or none, where no loss tells learning apart."""
    share = float(np.mean(labels)) if len(labels) else 0.0
    if share in (0.0, 1.0):
        return None
    return -(share * math.log(share) + (1 - share) * math.log(1 - share))


def fine_tune(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, spec: NormalizationSpec,
              train: tuple[list[str], np.ndarray], valid: tuple[list[str], np.ndarray],
              settings: FineTuneSettings, learning_rate: float, warmup_fraction: float) -> dict[str, float]:
    """Train with AdamW, a warm-up and a linear decay; keep the weights of the best epoch on the validation
    split by ``settings.keep_best`` (lowest loss or highest ROC AUC).

    ``learning_rate`` and ``warmup_fraction`` are resolved by the caller (the settings may leave them to
    the preset or base checkpoint)."""
    _seed_everything(settings.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    train_batches = _encode(tokenizer, spec, train, settings)
    valid_batches = _encode(tokenizer, spec, valid, settings)
    steps = math.ceil(len(train_batches) / settings.gradient_accumulation) * settings.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_decay(steps, warmup_fraction))
    mixed = mixed_precision(device.type)
    if mixed is not None:
        note(f"mixed precision: {str(mixed).removeprefix('torch.')} on {device.type}")
    scaler = torch.amp.GradScaler("cuda", enabled=mixed == torch.float16)
    if settings.keep_best == "roc-auc" and len(set(valid[1].tolist())) < 2:
        raise TrainingError("--keep-best roc-auc needs both labels in the validation split")
    best: dict[str, float] = {}
    best_state, stale = None, 0
    for epoch in range(settings.epochs):
        model.train()
        order = np.random.default_rng(settings.seed + epoch).permutation(len(train_batches))
        with progress_bar(f"epoch {epoch + 1}/{settings.epochs}", len(order)) as advance:
            for position, index in enumerate(order):
                batch = {key: value.to(device) for key, value in train_batches[index].items()}
                with torch.autocast(device_type=device.type, dtype=mixed or torch.float32, enabled=mixed is not None):
                    loss = model(**batch).loss / settings.gradient_accumulation
                scaler.scale(loss).backward()
                if (position + 1) % settings.gradient_accumulation == 0 or position + 1 == len(order):
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad()
                    schedule.step()
                advance(1)
        scores = _validation_scores(model, valid_batches, device)
        note(f"epoch {epoch + 1}/{settings.epochs}: validation loss {scores['valid_loss']:.4f}, "
             f"ROC AUC {scores['valid_roc_auc']:.4f}")
        if not best or improved(settings.keep_best, best, scores):
            best, stale = {**scores, "best_epoch": float(epoch + 1)}, 0
            best_state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
        else:
            stale += 1
            if stale > settings.patience:
                note("early stopping: validation loss stopped improving")
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu").eval()
    return {key: round(value, 6) for key, value in best.items() if not math.isnan(value)}


def improved(keep_best: str, best: dict[str, float], scores: dict[str, float]) -> bool:
    """Whether an epoch's validation ``scores`` beat the ``best`` so far by ``keep_best``'s yardstick
    (by more than 1e-4, so that noise does not count as progress)."""
    if keep_best == "roc-auc":
        return scores["valid_roc_auc"] > best["valid_roc_auc"] + 1e-4
    return scores["valid_loss"] < best["valid_loss"] - 1e-4


def mixed_precision(device_type: str) -> torch.dtype | None:
    """The autocast type where the hardware has fast instructions for it: FP16 on CUDA, BF16 on a CPU with
    BF16 matrix instructions (AMX, AVX-512 BF16); ``None`` (FP32) elsewhere, e.g. on AVX2-only CPUs, where
    BF16 would be emulated and slower."""
    if device_type == "cuda":
        return torch.float16
    return torch.bfloat16 if fast_bf16() else None


def learning_schedule(settings: FineTuneSettings, preset: Preset | None) -> tuple[float, float]:
    """Learning rate and warm-up share: the settings' where given, else the preset's from scratch, else
    those for a pretrained base checkpoint (``preset`` None)."""
    rate, warmup = ((PRETRAINED_LEARNING_RATE, PRETRAINED_WARMUP) if preset is None
                    else (preset.learning_rate, preset.warmup_fraction))
    return (settings.learning_rate or rate,
            warmup if settings.warmup_fraction is None else settings.warmup_fraction)


def warmup_then_decay(steps: int, warmup_fraction: float) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up over the first steps, then linear decay to 0.

    Without warm-up, a from-scratch (post-layer-norm) RoBERTa took large early Adam steps and
    collapsed to a constant answer (validation loss 0.693; docs/training.md). ``warmup_fraction`` 0 is
    the plain linear decay.
    """
    warmup = max(1, round(steps * warmup_fraction)) if warmup_fraction > 0 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))
    return factor


def _encode(tokenizer: PreTrainedTokenizerFast, spec: NormalizationSpec, data: tuple[list[str], np.ndarray],
            settings: FineTuneSettings) -> list[dict[str, torch.Tensor]]:
    """Batches sorted by length (less padding), truncated to ``max_length`` for training."""
    texts, labels = data
    normalized = [normalize(text, spec) for text in texts]
    order = sorted(range(len(texts)), key=lambda index: len(normalized[index]))
    batches = []
    for start in range(0, len(order), settings.batch_size):
        chosen = order[start:start + settings.batch_size]
        encoded = tokenizer([normalized[i] for i in chosen], truncation=True, max_length=settings.max_length,
                            padding=True, return_tensors="pt")
        batches.append({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                        "labels": torch.tensor(labels[chosen], dtype=torch.long)})
    return batches


@torch.no_grad()
def _validation_scores(model: PreTrainedModel, batches: list[dict[str, torch.Tensor]],
                       device: torch.device) -> dict[str, float]:
    """Mean loss and ROC AUC (NaN with one label) of the model on the validation batches."""
    model.eval()
    total, margins, labels = 0.0, [], []
    for batch in batches:
        moved = {key: value.to(device) for key, value in batch.items()}
        output = model(**moved)
        total += float(output.loss) * len(batch["labels"])
        logits = output.logits.float().cpu().numpy()
        margins.append(logits[:, 1] - logits[:, 0])
        labels.append(batch["labels"].numpy())
    truth = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
    both = len(set(truth.tolist())) == 2
    return {"valid_loss": total / max(1, len(truth)),
            "valid_roc_auc": float(roc_auc_score(truth, np.concatenate(margins))) if both else float("nan")}


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
