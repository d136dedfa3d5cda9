"""BERT and RoBERTa members with random weights, written into a bundle as ``humanorai train`` writes them, and
texts of a given token length: what the benchmarks measure speed with where no checkpoint can be downloaded
(speed does not depend on the weight values).

Light on purpose: it imports PyTorch and ``transformers`` (through the checkpoints module) but nothing that
needs Java, H2O or a web stack, so the GPU check can use it on a machine that has only PyTorch.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from humanorai.bundle import MemberEntry, checksums
from humanorai.errors import InputError
from humanorai.members.transformer.family import TransformerFamily
from humanorai.progress import stage
from humanorai.text import RAW, normalize

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

    from humanorai.members.transformer.checkpoints import Preset

Size = Literal["base", "tiny"]
#: Vocabulary sizes of bert-base-uncased and roberta-base, the tokenizers' targets at ``base`` size.
BASE_VOCAB_SIZES = {"BERT": 30522, "RoBERTa": 50265}


def transformer_shape(size: Size, member: str) -> Preset:
    """BERT-base / RoBERTa-base shapes at ``base`` size; the test preset (seconds) at ``tiny``."""
    from humanorai.members.transformer.checkpoints import PRESETS

    if size == "tiny":
        return PRESETS["tiny"]
    return replace(PRESETS["small"], vocab_size=BASE_VOCAB_SIZES[member], hidden_size=768, layers=12, heads=12,
                   intermediate_size=3072)


def random_classifier(member: str, size: Size, texts: list[str],
                      max_length: int) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """A random-weight ``member`` classifier of ``size`` and a tokenizer learned on ``texts``."""
    from humanorai.members.transformer.checkpoints import build_from_preset

    with stage(f"Building {member} ({size} size, random weights)"):
        return build_from_preset(member, transformer_shape(size, member), texts, max_length)


def shape_of(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast) -> str:
    """E.g. ``12 layers, hidden 768, vocab 30522``, for the reports."""
    config = model.config
    return f"{config.num_hidden_layers} layers, hidden {config.hidden_size}, vocab {len(tokenizer)}"


def save_member(member: str, model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, root: Path,
                max_length: int, base: str, export: bool = True) -> MemberEntry:
    """Save the model into ``root`` as a bundle holds it (HF weights and tokenizer; with ``export``, the ONNX
    files too) and return its manifest entry, as ``humanorai train`` writes it."""
    from humanorai.members.transformer.checkpoints import save_hf

    folder = root / member.lower()
    files = save_hf(model, tokenizer, folder)
    if export:
        from humanorai.members.transformer.export import export_onnx

        with stage(f"Exporting {member} to ONNX (fp32 with fused attention, int8)"):
            files += export_onnx(folder)
    return MemberEntry(
        name=member, kind=TransformerFamily.kind, files=checksums(root, files), threshold=0.5,
        options={"folder": member.lower(), "max_length": max_length, "normalization": RAW.to_dict(), "base": base},
    )


def spread_probabilities(model: PreTrainedModel) -> None:
    """Scale the random classification head so p_human spreads over (0, 1) instead of sitting near 0.5,
    where any two paths would agree; the parity bounds then test something."""
    import torch

    with torch.no_grad():
        for parameter in model.classifier.parameters():  # type: ignore[union-attr]
            parameter.mul_(20.0)


def generated_rows(count: int, seed: int) -> list[tuple[str, str]]:
    """(text, source) rows: paragraphs of random common English words, for runs without a corpus."""
    rng = np.random.default_rng(seed)

    def sentence() -> str:
        words = [str(word) for word in rng.choice(_WORDS, size=int(rng.integers(6, 18)))]
        return " ".join(words).capitalize() + "."

    return [(" ".join(sentence() for _ in range(5)), "generated") for _ in range(count)]


def long_texts(rows: list[tuple[str, str]], tokenizers: list[PreTrainedTokenizerFast], max_length: int,
               count: int, seed: int) -> list[str]:
    """``count`` texts, each consecutive rows of one source joined until the first tokenizer counts
    ``max_length`` tokens, then cut to fit every tokenizer (see :func:`fit_to_tokens`)."""
    by_source: dict[str, list[str]] = {}
    for text, source in rows:
        by_source.setdefault(source, []).append(normalize(text, RAW))
    joined: list[str] = []
    for texts in by_source.values():
        lengths = [len(ids) for ids in tokenizers[0](texts, add_special_tokens=False, verbose=False)["input_ids"]]
        pieces: list[str] = []
        tokens = 0
        for text, length in zip(texts, lengths, strict=True):
            pieces.append(text)
            tokens += length
            if tokens >= max_length:
                joined.append(" ".join(pieces))
                pieces, tokens = [], 0
    if len(joined) < count:
        raise InputError(f"only {len(joined)} texts of {max_length} tokens can be joined from the corpus; "
                         f"ask for fewer texts or a smaller batch")
    chosen = np.random.default_rng(seed).permutation(len(joined))[:count]
    return [fit_to_tokens(joined[index], tokenizers, max_length) for index in chosen]


def fit_to_tokens(text: str, tokenizers: list[PreTrainedTokenizerFast], max_length: int) -> str:
    """Cut ``text`` at a token boundary until every tokenizer gives at most ``max_length`` tokens.

    Then the engine scores it in one window and the original's truncation cuts nothing, so both paths run
    the same tokens and their ``p_human`` can be compared.
    """
    fitted = False
    while not fitted:
        fitted = True
        for tokenizer in tokenizers:
            encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
            room = max_length - tokenizer.num_special_tokens_to_add()
            if len(encoded["input_ids"]) > room:
                text = text[:encoded["offset_mapping"][room - 1][1]].rstrip()
                fitted = False
    return text


_WORDS = ("the", "a", "of", "to", "and", "in", "that", "is", "for", "it", "with", "as", "was", "on", "people",
          "time", "year", "way", "day", "world", "life", "part", "place", "case", "week", "company", "system",
          "program", "question", "work", "government", "number", "night", "point", "home", "water", "room",
          "mother", "area", "money", "story", "fact", "month", "lot", "right", "study", "book", "eye", "job",
          "word", "business", "issue", "side", "kind", "head", "house", "service", "friend", "power", "hour",
          "game", "line", "end", "member", "law", "car", "city", "community", "name", "president", "team",
          "minute", "idea", "kid", "body", "information", "back", "parent", "face", "others", "level", "office",
          "door", "health", "person", "art", "war", "history", "party", "result", "change", "morning", "reason",
          "research", "girl", "guy", "moment", "air", "teacher", "force", "education", "said", "made", "found",
          "thought", "went", "came", "told", "became", "showed", "felt", "left", "brought", "began", "kept",
          "new", "good", "high", "old", "great", "big", "small", "large", "national", "young", "different",
          "important", "public", "bad", "able", "however", "often", "really", "almost", "later", "never")
