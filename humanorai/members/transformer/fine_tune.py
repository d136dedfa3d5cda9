"""Fine-tune a BERT or RoBERTa sequence classifier (label 1 = HUMAN): AdamW with a warm-up and a linear
decay, mixed precision where the hardware has it, early stopping on the validation loss.

Text reaches the tokenizer through :func:`humanorai.text.normalize` with the spec the bundle records,
exactly as at serving time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from humanorai.members.transformer.backends import fast_bf16
from humanorai.members.transformer.checkpoints import PRETRAINED_LEARNING_RATE, PRETRAINED_WARMUP, Preset
from humanorai.progress import note, progress_bar
from humanorai.settings import FineTuneSettings
from humanorai.text import NormalizationSpec, normalize


def fine_tune(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, spec: NormalizationSpec,
              train: tuple[list[str], np.ndarray], valid: tuple[list[str], np.ndarray],
              settings: FineTuneSettings, learning_rate: float, warmup_fraction: float) -> dict[str, float]:
    """Train with AdamW, a warm-up and a linear decay; keep the weights of the best validation loss.

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
    best_loss, best_state, stale = math.inf, None, 0
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
        valid_loss = _mean_loss(model, valid_batches, device)
        note(f"epoch {epoch + 1}/{settings.epochs}: validation loss {valid_loss:.4f}")
        if valid_loss < best_loss - 1e-4:
            best_loss, stale = valid_loss, 0
            best_state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
        else:
            stale += 1
            if stale > settings.patience:
                note("early stopping: validation loss stopped improving")
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu").eval()
    return {"valid_loss": round(best_loss, 6)}


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
def _mean_loss(model: PreTrainedModel, batches: list[dict[str, torch.Tensor]], device: torch.device) -> float:
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        moved = {key: value.to(device) for key, value in batch.items()}
        size = len(batch["labels"])
        total += float(model(**moved).loss) * size
        count += size
    return total / max(1, count)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
