"""The ensemble with its transformers under group K-fold: does combining BERT (and RoBERTa) with the H2O
trio beat each of them on groups none of them saw, and does calibration fitted out of fold travel?

A transformer cannot be cross-evaluated on 2 cores, and the H2O trio cannot run on a lent GPU (no Java
there). ``experiments/transformer_cross.py`` left, from a GPU, each held-out text's ``p_human`` under group
K-fold (one run per transformer member, all on the same folds and texts); this script trains the H2O
members on the same folds here (the library's training and serving path: TF-IDF, H2O, MOJOs), scores the
same held-out texts, and then fits what a bundle fits on top of its members — Platt calibration per member,
the stacker, the operating points (the library's
:func:`~humanorai.training.pipeline.fit_ensemble`) — *cross-fitted*: for each fold, on the held-out scores of
the other folds only, then applied to that fold. So every number reported comes from texts whose group no
model, calibration or stacker was fitted on::

    python -m experiments.ensemble_cross ../shared/data/train_corpus.csv ../shared/data/extra_corpus.csv \\
        --transformer experiments/results/transformer_cross-minilm-h200.json=demo,texts400 \\
        --transformer experiments/results/transformer_cross-roberta-small-h200.json=demo \\
        --out experiments/results/ensemble_cross-five.json

Every choice of one recipe per transformer is combined; an ensemble's name says the recipes it used.

Each fold's H2O members train on at most ``--per-group`` texts of every group outside the fold (as
``--h2o-sample-per-group`` draws), less a tenth of those groups held back whole for early stopping, as a
bundle's validation split is. The JSON is rewritten after each fold; run the same command again to go on
from the folds already scored.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from experiments.transformer_cross import stopping_split, training_positions, write
from humanorai.corpus import Corpus, Split, load_sources
from humanorai.errors import HumanoraiError
from humanorai.evaluation.cross import cross_report
from humanorai.evaluation.evaluate import Scored, ScoredCorpus, at_operating_points, combine_scores, measures
from humanorai.members.registry import FAMILIES
from humanorai.scoring.ensemble import EnsemblePolicy, calibrated
from humanorai.settings import DataSettings, DataSource, H2OSettings, TfidfSettings, TrainSettings
from humanorai.training.calibration_data import CalibrationData
from humanorai.training.out_of_fold import check_fold
from humanorai.training.pipeline import family_sessions, fit_ensemble, train_and_score

#: Every member votes with threshold 0.5 in a bundle (the H2O trio's and the transformers' entries).
VOTE_THRESHOLD = 0.5
#: Per group, an operating point's row keeps only the measures its threshold moves (the ranking measures
#: are those of its method's row); whether the point keeps its promise on a group is the first.
OPERATING_POINT_MEASURES = ("human_flagged_ai", "accuracy")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="+", type=Path, help="the data files the transformer run read, in its order")
    parser.add_argument("--transformer", action="append", required=True, metavar="FILE[=RECIPES]",
                        help="JSON of experiments/transformer_cross.py (folds, held-out texts, p_human per recipe), "
                             "once per transformer member; RECIPES (comma-separated) default to all it holds")
    h2o_members = next(family.members for family in FAMILIES if "GLM" in family.members)
    parser.add_argument("--members", default=",".join(h2o_members),
                        help=f"H2O members to train, of {', '.join(h2o_members)}")
    parser.add_argument("--per-group", type=int, default=400, help="training texts per training group, at most")
    parser.add_argument("--features", default="word", help="the H2O members' feature blocks (train --features)")
    parser.add_argument("--max-features", type=int, default=TfidfSettings.max_features,
                        help="TF-IDF vocabulary size per block (train --max-features)")
    parser.add_argument("--ntrees", type=int, default=200)
    parser.add_argument("--glm-lambda", type=float, help="train --glm-lambda (default: H2O's lambda search)")
    parser.add_argument("--no-glm-standardize", dest="glm_standardize", action="store_false",
                        help="train --no-glm-standardize")
    parser.add_argument("--tree-features", type=int, help="train --tree-features (default: every term)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    members = tuple(args.members.split(","))
    if not members or set(members) - set(h2o_members):
        parser.error(f"--members: choose from {', '.join(h2o_members)}")
    args.members = members
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        runs = {run.member: run for run in map(read_transformer_run, args.transformer)}
        if len(runs) < len(args.transformer):
            raise ValueError("give each transformer member's run once")
        transformer = next(iter(runs.values())).run
        recipes = {member: run.recipes for member, run in runs.items()}
        group_pattern = transformer["settings"]["group_pattern"]
        seed = int(transformer["settings"]["seed"])
        corpus, files = load_sources([DataSource(path, DataSettings(group_by="source", group_pattern=group_pattern))
                                      for path in args.data])
        evaluated = np.asarray(transformer["evaluated"]["positions"], dtype=np.int64)
        for stored in runs.values():
            check_same_texts(stored.run, corpus, files, evaluated)
            if stored.run["folds"] != transformer["folds"]:
                raise ValueError(f"{stored.path} was cross-validated on other folds")
    except (OSError, KeyError, ValueError, HumanoraiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    assert corpus.groups is not None
    fold_of = fold_numbers(corpus.groups[evaluated], transformer["folds"])
    setup = {"members": list(args.members), "per_group": args.per_group, "features": args.features,
             "max_features": args.max_features,
             "ntrees": args.ntrees, "glm_lambda": args.glm_lambda, "glm_standardize": args.glm_standardize,
             "tree_features": args.tree_features,
             "seed": seed, "folds": transformer["folds"],
             "data": [{key: file[key] for key in ("path", "sha256", "kept")} for file in files]}
    result = resumed(args.out, setup)
    result["transformers"] = [{"file": stored.path.name, "member": member, "recipes": list(stored.recipes),
                               "environment": stored.run["environment"]} for member, stored in runs.items()]
    settings = TrainSettings(data=tuple(DataSource(path) for path in args.data), out=args.out.parent,
                             members=args.members, seed=seed,
                             tfidf=TfidfSettings(features=args.features, max_features=args.max_features),
                             h2o=H2OSettings(ntrees=args.ntrees, glm_lambda=args.glm_lambda,
                                             glm_standardize=args.glm_standardize,
                                             tree_features=args.tree_features))
    train_folds(settings, corpus, files, evaluated, transformer["folds"], fold_of, args, result)
    h2o_scores = {name: np.asarray(result["scores"][name], dtype=np.float64) for name in args.members}
    result.update(compared(recipes, h2o_scores, corpus.subset(evaluated), fold_of))
    write(args.out, result)
    return 0


def train_folds(settings: TrainSettings, corpus: Corpus, files: list[dict[str, object]], evaluated: np.ndarray,
                folds: list[list[str]], fold_of: np.ndarray, args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Train the H2O members on every fold not in ``result`` yet, score its held-out texts into
    ``result["scores"]``, and rewrite ``args.out`` after each fold."""
    remaining = [number for number in range(len(folds)) if str(number) not in result["seconds_per_fold"]]
    if not remaining:
        return
    with family_sessions(settings) as shared, tempfile.TemporaryDirectory(prefix="ensemble-cross-") as scratch:
        for number in remaining:
            began = time.monotonic()
            inside = np.flatnonzero(fold_of == number)
            split = fold_split(corpus, evaluated[inside], set(folds[number]), args.per_group, settings.seed)
            print(f"fold {number + 1}/{len(folds)}: training on {len(split.train)} texts (stopping on "
                  f"{len(split.valid)}), scoring {len(inside)}", file=sys.stderr)
            scores = train_and_score(shared, args.members, split, files, Path(scratch))
            for name, values in scores.items():
                result["scores"].setdefault(name, [None] * len(evaluated))
                for position, value in zip(inside, values, strict=True):
                    result["scores"][name][position] = round(float(value), 6)
            result["seconds_per_fold"][str(number)] = round(time.monotonic() - began, 1)
            write(args.out, result)


@dataclass(frozen=True)
class TransformerRun:
    """One ``--transformer FILE[=RECIPES]``: the file, what experiments/transformer_cross.py wrote there, and
    the held-out ``p_human`` of each recipe chosen."""

    path: Path
    run: dict[str, Any]
    recipes: dict[str, np.ndarray]

    @property
    def member(self) -> str:
        return str(self.run["settings"]["member"])


def read_transformer_run(argument: str) -> TransformerRun:
    """Read ``FILE[=RECIPES]``: the recipes named (all of the run's, without ``=``), each one checked."""
    name, _, names = argument.partition("=")
    path = Path(name)
    run = json.loads(path.read_text(encoding="utf-8"))
    chosen = names.split(",") if names else list(run["recipes"])
    missing = [recipe for recipe in chosen if recipe not in run["recipes"]]
    if missing:
        raise ValueError(f"{path} has no recipe {', '.join(missing)}; it has {', '.join(run['recipes'])}")
    return TransformerRun(path, run, {recipe: np.asarray(run["recipes"][recipe]["p_human"], dtype=np.float64)
                                      for recipe in chosen})


def check_same_texts(transformer: dict[str, Any], corpus: Corpus, files: list[dict[str, object]],
                     evaluated: np.ndarray) -> None:
    """Refuse data that is not what the transformer run read: same files (by sha256), same held-out texts."""
    theirs = [entry["sha256"] for entry in transformer["data"]]
    ours = [file["sha256"] for file in files]
    if theirs != ours:
        raise ValueError("the data files differ from those the transformer run read (sha256, in order)")
    assert corpus.groups is not None
    stored = transformer["evaluated"]
    if (corpus.labels[evaluated].tolist() != stored["labels"]
            or corpus.groups[evaluated].tolist() != stored["groups"]):
        raise ValueError("the held-out texts' labels or groups differ from the transformer run's")


def fold_numbers(groups: np.ndarray, folds: list[list[str]]) -> np.ndarray:
    """Each held-out text's fold, from the groups each fold held out."""
    fold_of_group = {group: number for number, fold in enumerate(folds) for group in fold}
    return np.array([fold_of_group[group] for group in groups.tolist()], dtype=np.int64)


def fold_split(corpus: Corpus, held_out: np.ndarray, held_out_groups: set[str], per_group: int,
               seed: int) -> Split:
    """One fold: the H2O members' training and stopping texts (groups outside the fold) and its held-out
    texts as the test part; checked for a shared group before anything trains."""
    training = training_positions(corpus, held_out_groups, per_group, seed)
    check_fold(corpus, held_out, training)
    fit, stop = stopping_split(corpus.subset(training), "groups", seed)
    return Split(train=fit, valid=stop, test=corpus.subset(held_out))


def resumed(out: Path, setup: dict[str, Any]) -> dict[str, Any]:
    """The folds a previous run with the same setup wrote to ``out``, or a fresh result."""
    if out.is_file():
        previous = json.loads(out.read_text(encoding="utf-8"))
        if previous.get("setup") == json.loads(json.dumps(setup)):
            print(f"going on from {len(previous['seconds_per_fold'])} folds in {out}", file=sys.stderr)
            return {key: previous[key] for key in ("setup", "scores", "seconds_per_fold")}
    return {"setup": setup, "scores": {}, "seconds_per_fold": {}}


def compared(recipes: dict[str, dict[str, np.ndarray]], h2o_scores: dict[str, np.ndarray], corpus: Corpus,
             fold_of: np.ndarray) -> dict[str, Any]:
    """Every member's raw measures, and the cross-fitted report of each ensemble (:func:`ensembles`) for
    every choice of one recipe per transformer member; an ensemble is reported once per recipes it uses."""
    raw = {**{f"{member} ({recipe})": values for member, by_recipe in recipes.items()
              for recipe, values in by_recipe.items()}, **h2o_scores}
    reports: dict[str, dict[str, Any]] = {}
    for choice in itertools.product(*([(member, recipe) for recipe in by_recipe]
                                      for member, by_recipe in recipes.items())):
        available = {**h2o_scores, **{member: recipes[member][recipe] for member, recipe in choice}}
        for names in ensembles(tuple(recipes), tuple(h2o_scores)):
            used = ", ".join(f"{member} {recipe}" for member, recipe in choice if member in names)
            key = "+".join(names) + (f" ({used})" if used else "")
            if key in reports:
                continue  # an ensemble without one of the transformers does not depend on its recipe
            p_human = {name: available[name] for name in names}
            report = cross_report(by_group(cross_fitted(p_human, corpus, fold_of)))
            for unit in report["units"].values():  # at an operating point only what it changes: the verdicts
                unit["models"] = {name: {measure: entry[measure] for measure in OPERATING_POINT_MEASURES}
                                  if "@" in name else entry for name, entry in unit["models"].items()}
            reports[key] = report
            print(f"{key}: pooled ROC AUC " + ", ".join(f"{model} {entry['roc_auc']:.4f}" for model, entry
                                                          in report["pooled"].items() if "@" not in model),
                  file=sys.stderr)
    return {"raw": {name: measures(corpus.labels, Scored(values, (values >= VOTE_THRESHOLD).astype(np.int64)))
                    for name, values in raw.items()},
            "ensembles": reports}


def ensembles(transformers: tuple[str, ...], h2o_members: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every member together; with several transformers, each with the H2O members and the transformers
    alone; the H2O members alone; and each transformer with each H2O member."""
    chosen = [(*transformers, *h2o_members)]
    if len(transformers) > 1:
        chosen += [(transformer, *h2o_members) for transformer in transformers]
        chosen.append(transformers)
    if len(h2o_members) > 1:
        chosen.append(h2o_members)
        chosen += [(transformer, name) for transformer in transformers for name in h2o_members]
    return chosen


def cross_fitted(p_human: dict[str, np.ndarray], corpus: Corpus, fold_of: np.ndarray) -> list[ScoredCorpus]:
    """Per fold, the members calibrated and combined by every method (and at each operating point) with
    everything fitted on the other folds' scores alone, as a bundle fits it on held-out scores."""
    thresholds = {name: VOTE_THRESHOLD for name in p_human}
    folds = []
    for number in sorted(set(fold_of.tolist())):
        inside, others = np.flatnonzero(fold_of == number), np.flatnonzero(fold_of != number)
        fitting = corpus.subset(others)
        data = CalibrationData(by_member={name: (values[others], fitting.labels) for name, values in p_human.items()},
                               corpus=fitting, p_human={name: values[others] for name, values in p_human.items()},
                               record={"fitted_on": "the other folds'", "texts": len(fitting)})
        fitted = fit_ensemble(thresholds, data, calibrate=True)
        scored = combine_scores(corpus.subset(inside),
                                calibrated({name: values[inside] for name, values in p_human.items()},
                                           fitted.calibrations),
                                thresholds, EnsemblePolicy.from_manifest(fitted.ensemble))
        folds.append(replace(scored, methods={**scored.methods, **at_operating_points(scored)}))
    return folds


def by_group(folds: list[ScoredCorpus]) -> list[tuple[str, np.ndarray, ScoredCorpus]]:
    """The folds' answers cut per group, as :func:`~humanorai.evaluation.cross.cross_report` takes units."""
    units = []
    for scored in folds:
        assert scored.groups is not None
        for group in sorted(set(scored.groups.tolist())):
            inside = np.flatnonzero(scored.groups == group)
            units.append((group, inside, _subset(scored, inside)))
    return sorted(units, key=lambda unit: unit[0])


def _subset(scored: ScoredCorpus, inside: np.ndarray) -> ScoredCorpus:
    def cut(models: dict[str, Scored]) -> dict[str, Scored]:
        return {name: Scored(result.p_human[inside], result.predictions[inside]) for name, result in models.items()}
    return ScoredCorpus(labels=scored.labels[inside], groups=None if scored.groups is None else scored.groups[inside],
                        members=cut(scored.members), methods=cut(scored.methods), thresholds=scored.thresholds)


if __name__ == "__main__":
    sys.exit(main())
