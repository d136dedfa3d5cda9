"""Score a labelled corpus through the serving engine and compute the evaluation report's numbers.

Used by ``humanorai evaluate`` and by ``train`` (on its test split), so both report the path that serves:
the members as loaded from the bundle (calibrated where the bundle says so) and every ensemble method the
bundle offers. :mod:`humanorai.training.report` turns the result into files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from humanorai.engine import Engine
from humanorai.labels import AI, HUMAN
from humanorai.progress import progress_bar
from humanorai.training.data import Corpus
from humanorai.training.metrics import binary_metrics, confusion, expected_calibration_error, reliability

#: Texts per engine call while scoring: large enough to batch, small enough for a smooth progress bar.
SCORING_BATCH = 32


@dataclass(frozen=True)
class Scored:
    """One model's (member's or ensemble method's) answers on the evaluated texts."""

    p_human: np.ndarray
    predictions: np.ndarray


@dataclass(frozen=True)
class ScoredCorpus:
    """Everything the report needs: labels, optional groups, and each model's answers."""

    labels: np.ndarray
    groups: np.ndarray | None
    members: dict[str, Scored]
    methods: dict[str, Scored]


def score_corpus(engine: Engine, corpus: Corpus, description: str = "Scoring") -> ScoredCorpus:
    """Run every text through ``engine`` with a progress bar; combine each prediction by every method."""
    member_p: dict[str, list[float]] = {}
    member_votes: dict[str, list[int]] = {}
    method_p: dict[str, list[float]] = {method: [] for method in engine.ensemble.methods}
    method_votes: dict[str, list[int]] = {method: [] for method in engine.ensemble.methods}
    with progress_bar(description, len(corpus)) as advance:
        for start in range(0, len(corpus), SCORING_BATCH):
            for prediction in engine.predict(corpus.texts[start:start + SCORING_BATCH]):
                for vote in prediction.votes:
                    member_p.setdefault(vote.member, []).append(vote.p_human)
                    member_votes.setdefault(vote.member, []).append(vote.prediction)
                for method in method_p:
                    verdict = engine.ensemble.combine(prediction.votes, method)
                    method_p[method].append(verdict.p_human)
                    method_votes[method].append(verdict.prediction)
            advance(min(SCORING_BATCH, len(corpus) - start))
    return ScoredCorpus(
        labels=corpus.labels, groups=corpus.groups,
        members={name: _scored(member_p[name], member_votes[name]) for name in member_p},
        methods={name: _scored(method_p[name], method_votes[name]) for name in method_p},
    )


def evaluation_report(scored: ScoredCorpus) -> dict[str, Any]:
    """Metrics, confusion matrix and calibration for every member and method; best method; per-group view."""
    labels = scored.labels
    report: dict[str, Any] = {
        "texts": len(labels),
        "labels": {"HUMAN": int(np.sum(labels == HUMAN)), "AI": int(np.sum(labels == AI))},
        "members": {name: _model_report(labels, result) for name, result in scored.members.items()},
        "ensembles": {name: _model_report(labels, result) for name, result in scored.methods.items()},
    }
    report["best_method"] = best_method(report["ensembles"])
    if scored.groups is not None:
        report["groups"] = _group_report(scored)
    return report


def best_method(ensembles: dict[str, dict[str, Any]]) -> str:
    """The method with the highest accuracy; ROC AUC breaks a tie, then the order majority, soft, stacked."""
    order = list(ensembles)
    return max(order, key=lambda name: (ensembles[name]["metrics"]["accuracy"],
                                        _or_minus_one(ensembles[name]["metrics"]["roc_auc"]), -order.index(name)))


def report_models(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(display name, entry) for every member, then every ensemble method, in report order."""
    return [*report["members"].items(),
            *((f"ensemble: {name}", entry) for name, entry in report["ensembles"].items())]


def format_metric(value: float | None) -> str:
    """Four decimals; a dash for a metric that does not exist here (None or NaN, e.g. AUC of one label)."""
    return "–" if value is None or np.isnan(value) else f"{value:.4f}"


def _model_report(labels: np.ndarray, result: Scored) -> dict[str, Any]:
    table = reliability(labels, result.p_human)
    return {
        "metrics": {**binary_metrics(labels, result.p_human, predictions=result.predictions),
                    "ece": expected_calibration_error(table)},
        "confusion": confusion(labels, result.predictions),
        "reliability": table,
    }


def _group_report(scored: ScoredCorpus) -> dict[str, dict[str, Any]]:
    """Per group: counts, and accuracy (and ROC AUC where the group has both labels) of every model."""
    assert scored.groups is not None
    models = {**scored.members, **{f"ensemble:{name}": result for name, result in scored.methods.items()}}
    groups: dict[str, dict[str, Any]] = {}
    for group in sorted(set(scored.groups.tolist())):
        inside = scored.groups == group
        labels = scored.labels[inside]
        both = len(set(labels.tolist())) == 2
        groups[str(group)] = {
            "texts": int(inside.sum()), "HUMAN": int(np.sum(labels == HUMAN)), "AI": int(np.sum(labels == AI)),
            "accuracy": {name: round(float(np.mean(result.predictions[inside] == labels)), 6)
                         for name, result in models.items()},
            "roc_auc": {name: binary_metrics(labels, result.p_human[inside])["roc_auc"]
                        for name, result in models.items()} if both else None,
        }
    return groups


def _scored(p_human: list[float], predictions: list[int]) -> Scored:
    return Scored(p_human=np.asarray(p_human, dtype=np.float64), predictions=np.asarray(predictions, dtype=np.int64))


def _or_minus_one(value: float) -> float:
    return -1.0 if np.isnan(value) else value
