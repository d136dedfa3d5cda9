"""Score a labelled corpus through the serving engine and compute the evaluation report's numbers.

Used by ``humanorai evaluate`` and by ``train`` (on its test split), so both report the path that serves:
the members as loaded from the bundle (calibrated where the bundle says so) and every ensemble method the
bundle offers. :mod:`humanorai.evaluation.report` turns the result into files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from humanorai.corpus import Corpus
from humanorai.evaluation.metrics import (
    ai_detected_at_fpr,
    binary_metrics,
    confusion,
    expected_calibration_error,
    human_flagged_ai,
    reliability,
)
from humanorai.labels import AI, HUMAN
from humanorai.progress import progress_bar
from humanorai.scoring.engine import Engine
from humanorai.scoring.ensemble import EnsemblePolicy, Vote
from humanorai.settings import FALSE_POSITIVE_RATES

#: Texts per engine call while scoring: large enough to batch, small enough for a smooth progress bar.
SCORING_BATCH = 32
#: What :func:`measures` gives for one model on a set of texts (per group, per held-out unit, pooled), in order.
MEASURES = ("roc_auc", "accuracy", "ece", "human_flagged_ai", "ai_detected_at_fpr1", "ai_detected_at_fpr5")


@dataclass(frozen=True)
class Scored:
    """One model's (member's or ensemble method's) answers on the evaluated texts."""

    p_human: np.ndarray
    predictions: np.ndarray


@dataclass(frozen=True)
class ScoredCorpus:
    """Everything the report needs: labels, optional groups, each model's answers, and the bundle's
    operating points (method → point → ``p_human`` threshold)."""

    labels: np.ndarray
    groups: np.ndarray | None
    members: dict[str, Scored]
    methods: dict[str, Scored]
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def score_corpus(engine: Engine, corpus: Corpus, description: str = "Scoring") -> ScoredCorpus:
    """Run every text through ``engine`` with a progress bar; combine each text's votes by every method."""
    thresholds = {member.name: member.threshold for member in engine.members}
    return combine_scores(corpus, member_scores(engine, corpus, description), thresholds, engine.ensemble)


def member_scores(engine: Engine, corpus: Corpus, description: str = "Scoring") -> dict[str, np.ndarray]:
    """Each available member's ``p_human`` for every text, as the engine serves it."""
    p_human: dict[str, list[float]] = {member.name: [] for member in engine.members}
    with progress_bar(description, len(corpus)) as advance:
        for start in range(0, len(corpus), SCORING_BATCH):
            for prediction in engine.predict(corpus.texts[start:start + SCORING_BATCH]):
                for vote in prediction.votes:
                    p_human[vote.member].append(vote.p_human)
            advance(min(SCORING_BATCH, len(corpus) - start))
    return {name: np.asarray(values, dtype=np.float64) for name, values in p_human.items()}


def combine_scores(corpus: Corpus, p_human: dict[str, np.ndarray], thresholds: dict[str, float],
                   policy: EnsemblePolicy) -> ScoredCorpus:
    """Members' votes and every method's verdict per text, from the members' ``p_human``."""
    method_p: dict[str, list[float]] = {method: [] for method in policy.methods}
    method_votes: dict[str, list[int]] = {method: [] for method in policy.methods}
    for index in range(len(corpus)):
        votes = [Vote(name, float(values[index]), thresholds[name]) for name, values in p_human.items()]
        for method in policy.methods:
            verdict = policy.combine(votes, method)
            method_p[method].append(verdict.p_human)
            method_votes[method].append(verdict.prediction)
    members = {name: Scored(values, (values >= thresholds[name]).astype(np.int64)) for name, values in p_human.items()}
    return ScoredCorpus(labels=corpus.labels, groups=corpus.groups, members=members,
                        methods={name: _scored(method_p[name], method_votes[name]) for name in method_p},
                        thresholds=policy.thresholds)


def at_operating_points(scored: ScoredCorpus) -> dict[str, Scored]:
    """Each method's verdicts at the bundle's ``fpr5`` and ``fpr1`` points (named ``METHOD @ POINT``): how
    many human texts the points really spare on these texts."""
    return {f"{method} @ {point}": Scored(result.p_human, (result.p_human >= threshold).astype(np.int64))
            for method, result in scored.methods.items()
            for point, threshold in scored.thresholds.get(method, {}).items()}


def evaluation_report(scored: ScoredCorpus) -> dict[str, Any]:
    """Metrics, confusion matrix and calibration for every member and method, and for each method at each
    operating point; the best method; the per-group view."""
    labels = scored.labels
    report: dict[str, Any] = {
        "texts": len(labels),
        "labels": {"HUMAN": int(np.sum(labels == HUMAN)), "AI": int(np.sum(labels == AI))},
        "members": {name: _model_report(labels, result) for name, result in scored.members.items()},
        "ensembles": {name: _model_report(labels, result) for name, result in scored.methods.items()},
        "operating_points": {name: _model_report(labels, result)
                             for name, result in at_operating_points(scored).items()},
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
    """(display name, entry) for every member, every ensemble method, then every method at an operating
    point (``ensemble: stacked @ fpr5``), in report order."""
    return [*report["members"].items(),
            *((f"ensemble: {name}", entry) for name, entry in report["ensembles"].items()),
            *((f"ensemble: {name}", entry) for name, entry in report.get("operating_points", {}).items())]


def format_metric(value: float | None) -> str:
    """Four decimals; a dash for a metric that does not exist here (None or NaN, e.g. AUC of one label)."""
    return "–" if value is None or np.isnan(value) else f"{value:.4f}"


def _model_report(labels: np.ndarray, result: Scored) -> dict[str, Any]:
    table = reliability(labels, result.p_human)
    return {
        "metrics": {**binary_metrics(labels, result.p_human, predictions=result.predictions),
                    "ece": expected_calibration_error(table),
                    "human_flagged_ai": human_flagged_ai(labels, result.predictions)},
        "confusion": confusion(labels, result.predictions),
        "reliability": table,
    }


def measures(labels: np.ndarray, result: Scored) -> dict[str, float]:
    """:data:`MEASURES` of one model on these texts (ROC AUC and the detection rates NaN without both labels)."""
    both = len(set(labels.tolist())) == 2
    return {
        "roc_auc": binary_metrics(labels, result.p_human)["roc_auc"] if both else float("nan"),
        "accuracy": round(float(np.mean(result.predictions == labels)), 6),
        "ece": expected_calibration_error(reliability(labels, result.p_human)),
        "human_flagged_ai": human_flagged_ai(labels, result.predictions),
        **{f"ai_detected_at_{point}": ai_detected_at_fpr(labels, result.p_human, rate)
           for point, rate in sorted(FALSE_POSITIVE_RATES.items(), key=lambda item: item[1])},
    }


def _group_report(scored: ScoredCorpus) -> dict[str, dict[str, Any]]:
    """Per group: counts, and each :data:`MEASURES` of every model (ROC AUC None where the group has one
    label)."""
    assert scored.groups is not None
    models = {**scored.members, **{f"ensemble:{name}": result
                                   for name, result in {**scored.methods, **at_operating_points(scored)}.items()}}
    groups: dict[str, dict[str, Any]] = {}
    for group in sorted(set(scored.groups.tolist())):
        inside = scored.groups == group
        labels = scored.labels[inside]
        per_model = {name: measures(labels, Scored(result.p_human[inside], result.predictions[inside]))
                     for name, result in models.items()}
        both = len(set(labels.tolist())) == 2
        groups[str(group)] = {
            "texts": int(inside.sum()), "HUMAN": int(np.sum(labels == HUMAN)), "AI": int(np.sum(labels == AI)),
            **{measure: {name: values[measure] for name, values in per_model.items()} for measure in MEASURES},
        }
        if not both:
            groups[str(group)]["roc_auc"] = None
    return groups


def _scored(p_human: list[float], predictions: list[int]) -> Scored:
    return Scored(p_human=np.asarray(p_human, dtype=np.float64), predictions=np.asarray(predictions, dtype=np.int64))


def _or_minus_one(value: float) -> float:
    return -1.0 if np.isnan(value) else value
