"""A transformer member under group K-fold cross-validation, recipe by recipe: which fine-tuning recipe (texts
per training group, window length, epochs) scores groups it never saw best. Prepared for a lent GPU, where a
fold takes seconds instead of the half hour it takes on 2 cores:

    python -m experiments.transformer_cross train_corpus.csv extra_corpus.csv --base MINILM_FOLDER \\
        --out "$OUT/transformer-cross.json"

Each recipe is fine-tuned K times (the library's ``fine_tune``, as ``train`` runs it), each time on the texts
of every group outside one fold, and scores that fold's texts through the serving path (the member's windows
over a PyTorch backend). The held-out texts are the same for every recipe (at most ``--eval-per-group`` per
group, half of each label, a fixed seed), so recipes compare on identical texts. A tenth of each fold's
training sample (or of its groups) stops early on its validation loss or ROC AUC, as the recipe says; no
held-out text is ever trained or stopped on. Scores are raw (no calibration: fitting it is the bundle's
job), reported pooled and per group with the measures of every report
(:func:`humanorai.evaluation.evaluate.measures`).

Recipes run in the order given; one runs only if the time per training token measured so far says it fits
in ``--budget-s``, and the JSON is rewritten after each recipe, so a run cut short still returns what it
measured. Imports only PyTorch, transformers, numpy and scikit-learn (no Java, no web stack).

``--preset tiny --device cpu`` fine-tunes a from-scratch tiny model instead of a pretrained base, to test the
script in seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import transformers

from humanorai.corpus import Corpus, load_sources, sample_per_group
from humanorai.evaluation.evaluate import Scored, measures
from humanorai.members.base import TextBatch
from humanorai.members.transformer.backends import TorchBackend
from humanorai.members.transformer.checkpoints import PRESETS, save_hf, starting_model
from humanorai.members.transformer.fine_tune import fine_tune_until_learned, learning_schedule
from humanorai.members.transformer.member import (
    CPU_TOKENS_PER_RUN,
    GPU_TOKENS_PER_RUN,
    TransformerMember,
    WindowSettings,
)
from humanorai.settings import DataSettings, DataSource, FineTuneSettings, KeepBest
from humanorai.text import RAW, normalize
from humanorai.training.out_of_fold import check_fold, group_folds

#: What early stopping watches: held-back training texts, or held-back whole training groups.
StopOn = Literal["texts", "groups"]


@dataclass(frozen=True)
class Recipe:
    #: Training texts per training group (``None``: all of them), drawn as ``--sample-per-group`` draws.
    per_group: int | None
    max_length: int
    epochs: int
    #: ``train --keep-best``: the epoch kept by validation loss or ROC AUC.
    keep_best: KeepBest = "loss"
    #: What early stopping watches: held-back training texts, or held-back whole training groups (as a
    #: bundle's validation split is), :data:`STOPPING_SHARE` of either.
    stop_on: StopOn = "texts"


#: The demo's BERT recipe first, then one change at a time.
RECIPES = {
    "demo": Recipe(per_group=160, max_length=256, epochs=2),
    "texts400": Recipe(per_group=400, max_length=256, epochs=2),
    "long512": Recipe(per_group=160, max_length=512, epochs=2),
    "epochs3": Recipe(per_group=160, max_length=256, epochs=3),
    "all": Recipe(per_group=None, max_length=256, epochs=2),
    "texts400-groups-loss": Recipe(per_group=400, max_length=256, epochs=2, stop_on="groups"),
    "texts400-groups-auc": Recipe(per_group=400, max_length=256, epochs=2, keep_best="roc-auc", stop_on="groups"),
}
#: Share of a fold's training sample (texts, or groups: at least one) held back for early stopping.
STOPPING_SHARE = 0.1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="+", type=Path, help="CSV or JSONL files with text, label and source")
    parser.add_argument("--group-pattern", default=r"^([^/]+/[^/]+)/",
                        help="regular expression on the source column; its first capture is the group")
    parser.add_argument("--member", choices=("BERT", "RoBERTa"), default="BERT")
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--base", help="folder of a pretrained checkpoint, or 'minilm' (the installed package)")
    start.add_argument("--preset", choices=sorted(PRESETS), help="a from-scratch model of this size")
    parser.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, of {', '.join(RECIPES)}")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every recipe's texts per group (e.g. 0.1 for a quick CPU check)")
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--eval-per-group", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, help="peak learning rate (default: the preset's or base's)")
    parser.add_argument("--warmup-fraction", type=float, help="warm-up share of the steps (default: likewise)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--budget-s", type=float, default=200.0, help="skip recipes predicted to end later")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.recipes.split(",")) - set(RECIPES))
    if unknown:
        parser.error(f"unknown recipes {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    source_settings = DataSettings(group_by="source", group_pattern=args.group_pattern)
    corpus, files = load_sources([DataSource(path, source_settings) for path in args.data])
    assert corpus.groups is not None
    evaluated = np.sort(capped_positions(corpus, args.eval_per_group, args.seed))
    held_out_folds = group_folds(corpus.subset(evaluated), args.folds, args.seed)
    result: dict[str, Any] = {
        "environment": environment(device),
        "data": [{key: file[key] for key in ("path", "sha256", "kept", "human", "ai")} for file in files],
        "settings": {key: value for key, value in vars(args).items() if key not in {"data", "out"}} | {
            "stopping_share": STOPPING_SHARE},
        "evaluated": {"positions": evaluated.tolist(), "labels": corpus.labels[evaluated].tolist(),
                      "groups": corpus.groups[evaluated].tolist()},
        "folds": [sorted(set(corpus.groups[evaluated[fold]].tolist())) for fold in held_out_folds],
        "recipes": {}, "skipped": {},
    }
    seconds_per_token: float | None = None
    for name in args.recipes.split(","):
        recipe = scaled(RECIPES[name], args.scale)
        planned = planned_tokens(corpus, held_out_folds, evaluated, recipe, args)
        remaining = args.budget_s - (time.monotonic() - started)
        if seconds_per_token is not None and seconds_per_token * planned > remaining:
            result["skipped"][name] = (f"predicted {seconds_per_token * planned:.0f} s, "
                                       f"{remaining:.0f} s of the budget left")
            print(f"{name}: skipped ({result['skipped'][name]})", file=sys.stderr)
            continue
        began = time.monotonic()
        outcome = cross_validate(corpus, evaluated, held_out_folds, recipe, args, device)
        seconds = time.monotonic() - began
        seconds_per_token = seconds / planned
        result["recipes"][name] = {"recipe": asdict(recipe), "seconds": round(seconds, 1), **outcome}
        pooled = outcome["pooled"]
        print(f"{name}: ROC AUC {pooled['roc_auc']:.4f}, accuracy {pooled['accuracy']:.4f}, "
              f"ECE {pooled['ece']:.4f} ({seconds:.0f} s)", file=sys.stderr)
        write(args.out, result)
    result["seconds"] = round(time.monotonic() - started, 1)
    write(args.out, result)
    return 0


def capped_positions(corpus: Corpus, most: int | None, seed: int) -> np.ndarray:
    """Positions of ``capped(corpus, most, seed)`` in ``corpus``: all of them for ``None``."""
    assert corpus.groups is not None
    if most is None:
        return np.arange(len(corpus))
    return sample_per_group(corpus.groups, corpus.labels, most, seed)


def scaled(recipe: Recipe, scale: float) -> Recipe:
    if recipe.per_group is None or scale == 1.0:
        return recipe
    return replace(recipe, per_group=max(2, round(recipe.per_group * scale)))


def training_positions(corpus: Corpus, held_out_groups: set[str], per_group: int | None, seed: int) -> np.ndarray:
    """At most ``per_group`` texts of each group outside the held-out groups (``None``: all of them)."""
    assert corpus.groups is not None
    outside = np.flatnonzero(~np.isin(corpus.groups, sorted(held_out_groups)))
    return outside[capped_positions(corpus.subset(outside), per_group, seed)]


def planned_tokens(corpus: Corpus, folds: list[np.ndarray], evaluated: np.ndarray, recipe: Recipe,
                   args: argparse.Namespace) -> int:
    """Training tokens the recipe will process, at most (texts x epochs x window): the time predictor."""
    assert corpus.groups is not None
    texts = sum(len(training_positions(corpus, set(corpus.groups[evaluated[fold]].tolist()), recipe.per_group,
                                       args.seed))
                for fold in folds)
    return texts * recipe.epochs * recipe.max_length


def cross_validate(corpus: Corpus, evaluated: np.ndarray, folds: list[np.ndarray], recipe: Recipe,
                   args: argparse.Namespace, device: str) -> dict[str, Any]:
    """Fine-tune once per fold and score the fold's held-out texts; measures pooled and per group."""
    assert corpus.groups is not None
    p_human = np.full(len(evaluated), np.nan)
    training_texts, stopping = [], []
    for number, fold in enumerate(folds, start=1):
        held_out = evaluated[fold]
        training = training_positions(corpus, set(corpus.groups[held_out].tolist()), recipe.per_group, args.seed)
        check_fold(corpus, held_out, training)
        training_texts.append(len(training))
        print(f"fold {number}/{len(folds)}: {len(training)} training texts, {len(held_out)} held out",
              file=sys.stderr)
        p_human[fold], metrics = fine_tune_and_score(corpus.subset(training), corpus.subset(held_out).texts,
                                                     recipe, args, device)
        stopping.append(metrics)
    labels = corpus.labels[evaluated]
    groups = corpus.groups[evaluated]
    scored = Scored(p_human=p_human, predictions=(p_human >= 0.5).astype(np.int64))
    per_group = {}
    for group in sorted(set(groups.tolist())):
        inside = groups == group
        per_group[group] = measures(labels[inside], Scored(p_human[inside], scored.predictions[inside]))
    return {"training_texts": training_texts, "stopping": stopping, "pooled": measures(labels, scored),
            "groups": per_group,
            "p_human": np.round(p_human, 6).tolist()}


def fine_tune_and_score(training: Corpus, held_out: list[str], recipe: Recipe, args: argparse.Namespace,
                        device: str) -> tuple[np.ndarray, dict[str, float]]:
    """One fold: fine-tune on ``training`` (less its stopping share), then score ``held_out`` as served;
    also the fine-tuning's metrics on its stopping texts (loss, ROC AUC, epoch kept, attempts, rate)."""
    fit, stop = stopping_split(training, recipe.stop_on, args.seed)
    settings = FineTuneSettings(epochs=recipe.epochs, batch_size=args.batch_size, max_length=recipe.max_length,
                                seed=args.seed, keep_best=recipe.keep_best, learning_rate=args.learning_rate,
                                warmup_fraction=args.warmup_fraction)
    preset = None if args.preset is None else PRESETS[args.preset]
    texts = [normalize(text, RAW) for text in fit.texts]
    model, tokenizer, metrics = fine_tune_until_learned(
        lambda: starting_model(args.member, args.base, preset, texts, recipe.max_length), RAW,
        (fit.texts, fit.labels), (stop.texts, stop.labels), settings, *learning_schedule(settings, preset))
    with tempfile.TemporaryDirectory() as folder:
        save_hf(model, tokenizer, Path(folder))
        backend = TorchBackend(Path(folder), device, "fp16" if device == "cuda" else "fp32", threads=2)
        windows = WindowSettings(max_length=recipe.max_length,
                                 max_tokens_per_run=GPU_TOKENS_PER_RUN if device == "cuda" else CPU_TOKENS_PER_RUN)
        member = TransformerMember(args.member, Path(folder), RAW, backend, windows)
        scores = member.predict_proba(TextBatch(held_out))
    if device == "cuda":
        torch.cuda.empty_cache()
    return scores, metrics


def stopping_split(training: Corpus, stop_on: StopOn, seed: int) -> tuple[Corpus, Corpus]:
    """The texts to fine-tune on and those early stopping watches: a seeded share of the texts, or of the
    groups (whole groups, never fine-tuned on)."""
    assert training.groups is not None
    rng = np.random.default_rng(seed)
    if stop_on == "groups":
        groups = rng.permutation(sorted(set(training.groups.tolist())))
        held = np.isin(training.groups, groups[:max(1, round(len(groups) * STOPPING_SHARE))])
        return training.subset(np.flatnonzero(~held)), training.subset(np.flatnonzero(held))
    order = rng.permutation(len(training))
    stopping = max(1, round(len(training) * STOPPING_SHARE))
    return training.subset(np.sort(order[stopping:])), training.subset(np.sort(order[:stopping]))


def environment(device: str) -> dict[str, Any]:
    return {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version(),
    }


def write(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(result), indent=1, allow_nan=False) + "\n", encoding="utf-8")


def _finite(value: Any) -> Any:
    """``value`` with NaN (e.g. ROC AUC of a group with one label) as null, and numpy scalars as Python's."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and value != value else value


if __name__ == "__main__":
    sys.exit(main())
