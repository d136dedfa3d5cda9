"""What does it cost the demo that BERT's and RoBERTa's calibration and the stacker are fitted on four groups,
and does fitting fewer numbers on those groups cost less?

A bundle fits the H2O trio's calibration on out-of-fold scores of every training group (``group-kfold``), but
the transformers are not retrained per fold: their calibration, the stacker and the operating points are
fitted on the validation split alone, four whole groups in the demo. This replays that on the stored held-out
scores of the group 6-fold runs (``experiments/ensemble_cross.py``, ``experiments/transformer_cross.py``): for
each fold and each of ``--draws`` random choices of four (``--validation-groups``) "validation" groups among
the other folds' groups, each rule below is fitted by the training pipeline's own ``fit_ensemble`` as a
bundle would be, and scores the fold's texts; the measures are pooled over the folds per draw, then
summarised over the draws. No member is retrained, so this runs in about four minutes::

    python -m experiments.stacker_few_groups ../shared/data/train_corpus.csv ../shared/data/extra_corpus.csv \\
        --transformer experiments/results/transformer_cross-minilm-h200.json=demo \\
        --transformer experiments/results/transformer_cross-roberta-small-h200.json=demo \\
        --h2o experiments/results/ensemble_cross-five.json --out experiments/results/stacker_few_groups-five.json

The rules:

- ``every group``: everything fitted on every other group, as if the transformers had out-of-fold scores
  too (three more fine-tunings per build): the ceiling.
- ``one-stage``: the trio's Platt on every other group; the transformers' Platt, the stacker (six numbers)
  and the operating points on the four groups (what bundles did until 2026-12-07).
- ``two-stage``: as ``one-stage``, but the trio's weights among themselves are fitted on every other group
  and the four groups fit only how their combination weighs against the transformers (four numbers):
  :func:`~humanorai.training.stacking.fit_two_stage_stacker`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from experiments.ensemble_cross import VOTE_THRESHOLD
from experiments.stacker_variants import stored_scores, stored_scores_parser
from experiments.transformer_cross import write
from humanorai import progress
from humanorai.corpus import Corpus
from humanorai.errors import HumanoraiError
from humanorai.evaluation.evaluate import at_operating_points, combine_scores
from humanorai.evaluation.metrics import binary_metrics, expected_calibration_error, human_flagged_ai, reliability
from humanorai.scoring.ensemble import STACKED, EnsemblePolicy, calibrated
from humanorai.training.calibration_data import CalibrationData
from humanorai.training.pipeline import fit_ensemble

#: The members a bundle retrains per fold (``--refit-members``' default).
TRIO = ("DRF", "GBM", "GLM")
RULES = ("every group", "one-stage", "two-stage")
#: What is measured: the stacked verdict at the balanced threshold, and at the fitted operating points.
MODELS = (STACKED, f"{STACKED} @ fpr5", f"{STACKED} @ fpr1")


def rule_data(rule: str, p_human: dict[str, np.ndarray], corpus: Corpus, every: np.ndarray,
              few: np.ndarray) -> CalibrationData:
    """What a bundle would fit on under ``rule``: ``every`` the rows outside the fold, ``few`` the drawn
    validation groups' rows among them."""
    shared = every if rule == "every group" else few  # where every member has a score
    rows_of = {name: every if name in TRIO else shared for name in p_human}
    first_stage = ({name: p_human[name][every] for name in TRIO}, corpus.labels[every]) if rule == "two-stage" else None
    return CalibrationData(by_member={name: (values[rows_of[name]], corpus.labels[rows_of[name]])
                                      for name, values in p_human.items()},
                           corpus=corpus.subset(shared),
                           p_human={name: values[shared] for name, values in p_human.items()},
                           record={"fitted_on": rule}, first_stage=first_stage)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = stored_scores_parser(__doc__)
    parser.add_argument("--h2o", type=Path, required=True, help="an ensemble_cross JSON on the same folds")
    parser.add_argument("--validation-groups", type=int, default=4,
                        help="how many groups the drawn validation split has (the demo's: 4)")
    parser.add_argument("--draws", type=int, default=50, help="random choices of the validation groups per fold")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        stored = stored_scores(args.data, args.transformer, [args.h2o])
        held_out = stored.held_out
        p_human = {name: stored.p_human[name] for name in (*TRIO, *(name for name in stored.p_human
                                                                      if name not in TRIO))}
    except (OSError, KeyError, ValueError, HumanoraiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    progress.console.quiet = True  # thousands of fits, each with its notes
    try:
        answers = replayed(p_human, held_out, stored.fold_of, args.validation_groups, args.draws, args.seed)
    finally:
        progress.console.quiet = False
    report = {rule: {model: summary(held_out.labels, [draw[model] for draw in draws],
                                    [draw[model] for draw in answers["one-stage"]], verdicts_only=model != STACKED)
                     for model in MODELS}
              for rule, draws in answers.items()}
    for rule, by_model in report.items():
        for model, entry in by_model.items():
            print(f"{rule}, {model}: " + ", ".join(f"{measure} {values['mean']:.4f} (sd {values['sd']:.4f})"
                                                  for measure, values in entry.items()), file=sys.stderr)
    write(args.out, {"members": list(p_human), "texts": len(held_out), "draws": args.draws, "seed": args.seed,
                     "validation_groups": args.validation_groups, "rules": report})
    return 0


def replayed(p_human: dict[str, np.ndarray], corpus: Corpus, fold_of: np.ndarray, validation_groups: int,
             draws: int, seed: int) -> dict[str, list[dict[str, np.ndarray]]]:
    """Per rule and draw, every held-out text's stacked ``p_human`` and verdicts at the operating points, each fold's
    numbers fitted on the other folds' texts only (:func:`rule_data`)."""
    assert corpus.groups is not None
    generator = np.random.default_rng(seed)
    thresholds = dict.fromkeys(p_human, VOTE_THRESHOLD)
    answers = {rule: [{model: np.empty(len(corpus)) for model in MODELS} for _ in range(draws)] for rule in RULES}
    for number in sorted(set(fold_of.tolist())):
        inside = fold_of == number
        every = np.flatnonzero(~inside)
        other_groups = sorted(set(corpus.groups[every].tolist()))
        for draw in range(draws):
            chosen = generator.choice(other_groups, validation_groups, replace=False).tolist()
            few = np.flatnonzero(np.isin(corpus.groups, chosen))
            if len(set(corpus.labels[few].tolist())) < 2:
                raise ValueError(f"drawn validation groups {sorted(chosen)} hold one label only")
            for rule in RULES:
                fitted = fit_ensemble(thresholds, rule_data(rule, p_human, corpus, every, few), calibrate=True)
                scored = combine_scores(corpus.subset(np.flatnonzero(inside)),
                                        calibrated({name: values[inside] for name, values in p_human.items()},
                                                   fitted.calibrations),
                                        thresholds, EnsemblePolicy.from_manifest(fitted.ensemble))
                methods = {**scored.methods, **at_operating_points(scored)}
                for model in MODELS:
                    answers[rule][draw][model][inside] = (methods[model].p_human if model == STACKED
                                                          else methods[model].predictions)
    return answers


def summary(labels: np.ndarray, draws: list[np.ndarray], baseline: list[np.ndarray],
            verdicts_only: bool) -> dict[str, dict[str, float]]:
    """Mean, standard deviation and worst over the draws of the pooled measures (of the verdicts only, for an
    operating point's 0/1 answers), and of the ROC AUC's gain over ``baseline``'s in the same draw (paired: the
    same validation groups)."""
    measures: dict[str, list[float]] = {"accuracy": [], "human_flagged_ai": []}
    if not verdicts_only:
        measures |= {"roc_auc": [], "roc_auc_gain": [], "ece": []}
    for answer, reference in zip(draws, baseline, strict=True):
        metrics = binary_metrics(labels, answer)  # verdicts at 0.5: an operating point's 0/1 answers as they are
        measures["accuracy"].append(metrics["accuracy"])
        measures["human_flagged_ai"].append(human_flagged_ai(labels, (answer >= 0.5).astype(np.int64)))
        if not verdicts_only:
            measures["roc_auc"].append(metrics["roc_auc"])
            measures["roc_auc_gain"].append(metrics["roc_auc"] - binary_metrics(labels, reference)["roc_auc"])
            measures["ece"].append(expected_calibration_error(reliability(labels, answer)))
    worst = {"roc_auc": min, "roc_auc_gain": min, "accuracy": min, "ece": max, "human_flagged_ai": max}
    return {name: {"mean": round(float(np.mean(values)), 6), "sd": round(float(np.std(values)), 6),
                   "worst": round(float(worst[name](values)), 6)}
            for name, values in measures.items()}


if __name__ == "__main__":
    sys.exit(main())
