"""Would a richer stacker carry the ensemble further on unseen groups? Variants of the stacker, cross-fitted on
the held-out scores that ``experiments/ensemble_cross.py`` and ``experiments/transformer_cross.py`` stored.

The served stacker is a mildly regularised logistic regression over the members' logits. On group 6-fold it
gets the five members to pooled ROC AUC 0.920 while the mean group is at 0.930: the groups' scores do not
line up. A stacker that also sees how long a text is (members' reliability may depend on it), interactions
of that length with each member, or gradient-boosted trees over the logits could in principle learn more.
Each variant is fitted, for each fold, on the other folds' held-out texts only and applied to that fold, as
``ensemble_cross`` fits the served one; no member is retrained, so this runs in seconds::

    python -m experiments.stacker_variants ../shared/data/train_corpus.csv ../shared/data/extra_corpus.csv \\
        --transformer experiments/results/transformer_cross-minilm-h200.json=texts400 \\
        --transformer experiments/results/transformer_cross-roberta-small-h200.json=demo \\
        --h2o experiments/results/ensemble_cross-five.json --out experiments/results/stacker_variants-five.json

The variants see raw logits (the served stacker sees each member's Platt-calibrated logit, a per-member
linear map that a logistic regression absorbs up to its regularisation).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from experiments.ensemble_cross import check_same_texts, fold_numbers, read_transformer_run
from experiments.transformer_cross import write
from humanorai.corpus import Corpus, load_sources
from humanorai.errors import HumanoraiError
from humanorai.labels import HUMAN
from humanorai.scoring.ensemble import logit
from humanorai.settings import DataSettings, DataSource
from humanorai.training.stacking import STACKER_C

Weighting = Literal["texts", "groups"]


class Classifier(Protocol):
    def fit(self, inputs: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None) -> Classifier: ...

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray: ...


def logistic() -> Classifier:
    """The served stacker's model: a logistic regression with the library's regularisation."""
    return LogisticRegression(C=STACKER_C, max_iter=2000)


def logistic_held_closer() -> Classifier:
    """The served model with ten times the regularisation: weights nearer zero, less room for the fitting
    groups' quirks."""
    return LogisticRegression(C=STACKER_C / 10, max_iter=2000)


def boosted_trees() -> Classifier:
    """Shallow, slowly learning, regularised trees: room for interactions without memorising the folds."""
    return HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200, l2_regularization=1.0,
                                          random_state=0)


#: name: (what the stacker sees besides the members' logits, the model, what weighs alike in its fit).
#: ``length`` is log(1 + words); ``groups`` weighs each group's texts together as much as any other group's,
#: so that the large groups do not set the weights alone.
VARIANTS: dict[str, tuple[str, Callable[[], Classifier], Weighting]] = {
    "logistic (served)": ("", logistic, "texts"),
    "logistic, each group weighing alike": ("", logistic, "groups"),
    "logistic, 10x the regularisation": ("", logistic_held_closer, "texts"),
    "logistic + length": ("length", logistic, "texts"),
    "logistic + length + length x logits": ("interactions", logistic, "texts"),
    "gradient-boosted trees": ("", boosted_trees, "texts"),
    "gradient-boosted trees + length": ("length", boosted_trees, "texts"),
}


def stored_scores_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments every reader of :func:`stored_scores` takes: the data files and the transformer runs."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="+", type=Path, help="the data files the runs read, in their order")
    parser.add_argument("--transformer", action="append", default=[], metavar="FILE=RECIPE",
                        help="a transformer_cross JSON and the one recipe to use; once per transformer member")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = stored_scores_parser(__doc__)
    parser.add_argument("--h2o", type=Path, action="append", required=True,
                        help="an ensemble_cross JSON on the same folds; given more than once, a member's scores "
                             "come from the last file that has them")
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args(argv)


@dataclass(frozen=True)
class StoredScores:
    """The held-out texts of stored cross-validated runs and every member's held-out ``p_human`` on them."""

    held_out: Corpus
    #: The transformers' first, in the order given, then the H2O members'.
    p_human: dict[str, np.ndarray]
    #: Each text's fold.
    fold_of: np.ndarray


def stored_scores(data: list[Path], transformers: list[str], h2o: list[Path]) -> StoredScores:
    """Read ``--transformer FILE=RECIPE`` runs (one recipe each) and ``--h2o`` runs, checked to share folds
    and held-out texts (a member's scores from the last ``--h2o`` file that has them); ValueError, KeyError,
    OSError or HumanoraiError where they do not fit together."""
    runs = [read_transformer_run(argument) for argument in transformers]
    if not runs or any(len(run.recipes) != 1 or "=" not in argument
                       for run, argument in zip(runs, transformers, strict=True)):
        raise ValueError("give at least one --transformer FILE=RECIPE, with exactly one recipe each")
    h2o_runs = [json.loads(path.read_text(encoding="utf-8")) for path in h2o]
    first = runs[0].run
    if (any(h2o_run["setup"]["folds"] != first["folds"] for h2o_run in h2o_runs)
            or any(run.run["folds"] != first["folds"] for run in runs)):
        raise ValueError("the runs were cross-validated on different folds")
    corpus, files = load_sources([DataSource(path, DataSettings(group_by="source",
                                                                group_pattern=first["settings"]["group_pattern"]))
                                  for path in data])
    evaluated = np.asarray(first["evaluated"]["positions"], dtype=np.int64)
    for run in runs:
        check_same_texts(run.run, corpus, files, evaluated)
    p_human = {run.member: next(iter(run.recipes.values())) for run in runs}
    for h2o_run in h2o_runs:
        p_human |= {name: np.asarray(values, dtype=np.float64) for name, values in h2o_run["scores"].items()}
    held_out = corpus.subset(evaluated)
    assert held_out.groups is not None
    return StoredScores(held_out, p_human, fold_numbers(held_out.groups, first["folds"]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        stored = stored_scores(args.data, args.transformer, args.h2o)
    except (OSError, KeyError, ValueError, HumanoraiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    held_out, p_human, fold_of = stored.held_out, stored.p_human, stored.fold_of
    assert held_out.groups is not None
    words = np.array([len(text.split()) for text in held_out.texts], dtype=np.float64)
    variants = compare(p_human, words, held_out.labels, held_out.groups, fold_of)
    for name, entry in variants.items():
        print(f"{name}: pooled ROC AUC {entry['roc_auc']:.4f}, accuracy {entry['accuracy']:.4f}, "
              f"group ROC AUC mean {entry['group_roc_auc_mean']:.4f} / lowest {entry['group_roc_auc_lowest']:.4f}",
              file=sys.stderr)
    write(args.out, {"members": list(p_human), "texts": len(held_out), "variants": variants})
    return 0


def compare(p_human: dict[str, np.ndarray], words: np.ndarray, labels: np.ndarray, groups: np.ndarray,
            fold_of: np.ndarray) -> dict[str, dict[str, Any]]:
    """Each variant's cross-fitted answers, measured pooled and per group."""
    logits = np.column_stack([logit(values) for values in p_human.values()])
    length = np.log1p(words)[:, None]
    extras = {"": logits, "length": np.hstack([logits, length]),
              "interactions": np.hstack([logits, length, logits * length])}
    report = {}
    for name, (extra, model, weighting) in VARIANTS.items():
        answers = cross_fitted_answers(extras[extra], labels, fold_of, model,
                                       groups if weighting == "groups" else None)
        per_group = [roc_auc_score(labels[groups == group], answers[groups == group])
                     for group in sorted(set(groups.tolist()))]
        report[name] = {"roc_auc": round(float(roc_auc_score(labels, answers)), 6),
                        "accuracy": round(float(np.mean((answers >= 0.5) == (labels == HUMAN))), 6),
                        "group_roc_auc_mean": round(float(np.mean(per_group)), 6),
                        "group_roc_auc_lowest": round(float(np.min(per_group)), 6)}
    return report


def cross_fitted_answers(inputs: np.ndarray, labels: np.ndarray, fold_of: np.ndarray,
                         model: Callable[[], Classifier], groups: np.ndarray | None = None) -> np.ndarray:
    """P(HUMAN) of each text from a model fitted on the other folds' texts alone; given ``groups``, each
    group's texts weigh 1 / its size in the fit."""
    answers = np.empty(len(labels))
    for number in sorted(set(fold_of.tolist())):
        inside = fold_of == number
        weights = None
        if groups is not None:
            _, index, sizes = np.unique(groups[~inside], return_inverse=True, return_counts=True)
            weights = (1.0 / sizes)[index] * (~inside).sum() / len(sizes)
        fitted = model().fit(inputs[~inside], labels[~inside], sample_weight=weights)
        answers[inside] = fitted.predict_proba(inputs[inside])[:, 1]
    return answers


if __name__ == "__main__":
    sys.exit(main())
