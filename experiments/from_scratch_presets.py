"""Which learning rate and warm-up make a from-scratch preset learn on the shared corpus?

The demo's `small` RoBERTa, trained with the preset's 5e-4 and no warm-up, stayed at chance
(validation loss 0.693). This trains one preset member on the demo's split (grouped by domain, the
same seed) for each setting given and prints validation loss, ROC AUC and accuracy, so the presets'
defaults rest on a measurement. Usage:

    python experiments/from_scratch_presets.py CSV --member RoBERTa --preset small \
        --max-length 128 --epochs 2 --setting 5e-4:0 --setting 5e-4:0.1 --setting 2e-4:0.1
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from humanorai.corpus import load_corpus, split_corpus
from humanorai.members.transformer.checkpoints import PRESETS, build_from_preset
from humanorai.members.transformer.fine_tune import fine_tune
from humanorai.settings import FineTuneSettings
from humanorai.text import RAW, normalize


@torch.no_grad()
def p_human(model: torch.nn.Module, tokenizer: object, texts: list[str], max_length: int) -> np.ndarray:
    """P(HUMAN) of each text's first window (enough to compare settings)."""
    model.eval()
    scores = []
    for start in range(0, len(texts), 32):
        encoded = tokenizer(texts[start:start + 32], truncation=True, max_length=max_length,  # type: ignore[operator]
                            padding=True, return_tensors="pt")
        scores.append(torch.softmax(model(**encoded).logits, dim=-1)[:, 1].numpy())
    return np.concatenate(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--member", default="RoBERTa", choices=["BERT", "RoBERTa"])
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS))
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--setting", action="append", required=True,
                        help="LEARNING_RATE:WARMUP_FRACTION, e.g. 5e-4:0.1 (repeatable)")
    args = parser.parse_args()
    split = split_corpus(load_corpus(args.csv, group_column="source", group_pattern=r"^l2r/([^/]+)/"))
    train_texts = [normalize(text, RAW) for text in split.train.texts]
    valid_texts = [normalize(text, RAW) for text in split.valid.texts]
    print(f"{args.member} preset {args.preset}, {len(train_texts)} train / {len(valid_texts)} valid texts "
          f"(grouped by domain), max_length {args.max_length}, {args.epochs} epochs\n")
    print("| learning rate | warm-up | validation loss | validation ROC AUC | accuracy | minutes |")
    print("|---|---|---|---|---|---|")
    for setting in args.setting:
        rate_text, warmup_text = setting.split(":")
        settings = FineTuneSettings(epochs=args.epochs, max_length=args.max_length, patience=args.epochs)
        started = time.perf_counter()
        model, tokenizer = build_from_preset(args.member, PRESETS[args.preset], train_texts, args.max_length)
        metrics = fine_tune(model, tokenizer, RAW, (split.train.texts, split.train.labels),
                            (split.valid.texts, split.valid.labels), settings, float(rate_text), float(warmup_text))
        scores = p_human(model, tokenizer, valid_texts, args.max_length)
        auc = roc_auc_score(split.valid.labels, scores)
        accuracy = float(np.mean((scores >= 0.5) == (split.valid.labels == 1)))
        minutes = (time.perf_counter() - started) / 60
        print(f"| {rate_text} | {warmup_text} | {metrics['valid_loss']:.4f} | {auc:.4f} | {accuracy:.3f} "
              f"| {minutes:.1f} |", flush=True)


if __name__ == "__main__":
    main()
