"""Cross evaluation: how a training recipe does on groups of texts it never saw.

Leave one out: for each group (e.g. each ``<dataset>/<domain>``) or each data file, train a bundle on
everything else with the same settings ``train`` would use, score the held-out texts through the engine,
and report per held-out unit and pooled — ROC AUC, accuracy, ECE, the share of human texts called AI, and
the share of AI texts caught at 1 % and 5 % false positives on human texts (RAID's measure). A sample
per group and a subset of members keep it within reach of a 2-core machine.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from humanorai.corpus import Corpus
from humanorai.errors import DataError
from humanorai.evaluation.evaluate import (
    MEASURES,
    Scored,
    ScoredCorpus,
    at_operating_points,
    format_metric,
    measures,
    score_corpus,
)
from humanorai.evaluation.report import json_safe
from humanorai.labels import AI, HUMAN
from humanorai.progress import console, stage
from humanorai.scoring.engine import Engine
from humanorai.settings import CrossSettings, CrossUnit, TrainSettings
from humanorai.training.pipeline import family_sessions, read_data, sampled, train_on

CROSS_JSON, CROSS_MD = "cross.json", "cross.md"


def cross_evaluate(settings: CrossSettings) -> dict[str, Any]:
    """Run every fold, write the report files into ``settings.out`` and return the report."""
    every, files = read_data(settings.train)
    paths = [str(file["path"]) for file in files]
    corpus = sampled(every, settings.train)
    units, every_unit = _units(corpus, settings.unit, paths), _units(every, settings.unit, paths)
    held_out = sorted(set(units.tolist()))
    if len(held_out) < 2:
        raise DataError(f"cross evaluation needs at least two {settings.unit}; found {len(held_out)}")
    folds: list[tuple[str, np.ndarray, ScoredCorpus]] = []
    with family_sessions(settings.train) as train:
        for number, unit in enumerate(held_out, start=1):
            inside = np.flatnonzero(units == unit)
            outside = np.flatnonzero(units != unit)
            with stage(f"Fold {number}/{len(held_out)}: {unit} held out ({len(inside)} texts), "
                       f"training on {len(outside)}"):
                pool = every.subset(np.flatnonzero(every_unit != unit))  # never a text of the held-out unit
                folds.append((unit, inside, _fold(corpus.subset(outside), corpus.subset(inside), files, train,
                                                  pool)))
    report = cross_report(folds)
    report["context"] = {"unit": settings.unit, "sample_per_group": settings.train.sample_per_group,
                         "command": settings.train.command, "data": files}
    write_cross_report(report, settings.out)
    return report


def _units(corpus: Corpus, unit: CrossUnit, paths: list[str]) -> np.ndarray:
    if unit == "files":
        assert corpus.origins is not None
        return np.array([paths[index] for index in corpus.origins])
    if corpus.groups is None:
        raise DataError("--cross groups needs --group-by (and usually --group-pattern) to know the groups")
    return corpus.groups


def _fold(training: Corpus, held_out: Corpus, files: list[dict[str, object]], settings: TrainSettings,
          pool: Corpus) -> ScoredCorpus:
    """Train a bundle on ``training`` (``pool``: every text outside the held-out unit) in a scratch folder
    and score ``held_out`` through its engine."""
    with tempfile.TemporaryDirectory(prefix="humanorai-cross-") as scratch:
        bundle = Path(scratch) / "bundle"
        train_on(training, files, replace(settings, out=bundle), pool)
        engine = Engine.load(bundle)
        try:
            scored = score_corpus(engine, held_out, f"Scoring {len(held_out)} held-out texts")
        finally:
            engine.close()
    # Each method at the fold bundle's fpr5 and fpr1 points: how many human texts of a group it never saw
    # the points really spare.
    return replace(scored, methods={**scored.methods, **at_operating_points(scored)})


def cross_report(folds: list[tuple[str, np.ndarray, ScoredCorpus]]) -> dict[str, Any]:
    """Measures per held-out unit and pooled over all, for every member and ensemble method."""
    by_fold = [_models(scored) for _, _, scored in folds]
    per_unit = {unit: {"texts": len(scored.labels), "HUMAN": int(np.sum(scored.labels == HUMAN)),
                       "AI": int(np.sum(scored.labels == AI)),
                       "models": {name: measures(scored.labels, result) for name, result in models.items()}}
                for (unit, _, scored), models in zip(folds, by_fold, strict=True)}
    pooled_labels = np.concatenate([scored.labels for _, _, scored in folds])
    shared = [name for name in by_fold[0] if all(name in models for models in by_fold)]  # a fold may lack one
    pooled = {name: measures(pooled_labels, Scored(np.concatenate([models[name].p_human for models in by_fold]),
                                                   np.concatenate([models[name].predictions for models in by_fold])))
              for name in shared}
    return {"texts": len(pooled_labels), "units": per_unit, "pooled": pooled}


def write_cross_report(report: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path = folder / CROSS_JSON, folder / CROSS_MD
    json_path.write_text(json.dumps(json_safe(report), indent=2) + "\n", encoding="utf-8")
    markdown_path.write_text(render_cross_markdown(report), encoding="utf-8")
    console.print(f"cross-evaluation report written: {json_path}, {markdown_path}")
    return [json_path, markdown_path]


def render_cross_markdown(report: dict[str, Any]) -> str:
    header = "| model | " + " | ".join(MEASURES) + " |"
    rule = "|---" * (len(MEASURES) + 1) + "|"
    unit = report.get("context", {}).get("unit", "units")
    lines = ["# Cross evaluation", "", f"- held out: each of {len(report['units'])} {unit}, one at a time",
             f"- texts scored: {report['texts']}", "- human_flagged_ai: share of human texts called AI; "
             "ai_detected_at_fprN: share of AI texts caught when N % of human texts may be called AI", "",
             "## Pooled over every held-out unit", "", header, rule]
    lines += [f"| {name} | " + " | ".join(format_metric(values[measure]) for measure in MEASURES) + " |"
              for name, values in report["pooled"].items()]
    for model in report["pooled"]:
        lines += ["", f"## Per held-out unit: {model}", "", "| unit | texts | " + " | ".join(MEASURES) + " |",
                  "|---" * (len(MEASURES) + 2) + "|"]
        lines += [f"| {unit} | {entry['texts']} | "
                  + " | ".join(format_metric(entry["models"][model][measure]) for measure in MEASURES) + " |"
                  for unit, entry in report["units"].items() if model in entry["models"]]
    return "\n".join(lines) + "\n"


def _models(scored: ScoredCorpus) -> dict[str, Scored]:
    return {**scored.members, **{f"ensemble: {name}": result for name, result in scored.methods.items()}}


