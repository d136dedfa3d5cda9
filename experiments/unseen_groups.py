"""Bundles side by side on the same texts, from groups that none of them trained or calibrated on: per group
and pooled, ROC AUC, accuracy, ECE of the bundle's default method, and the share of human texts flagged AI
at each operating point the bundle offers.

Each bundle's own test split differs from the next one's, so two demos can only be compared on texts that
neither saw. The script refuses a group that a bundle's manifest lists among its training or validation
groups. Texts are sampled per group (``--per-group``, half of each label) with a fixed seed.

Usage: python experiments/unseen_groups.py DATA... --group-pattern RE --groups G... --bundles DIR...
       [--per-group 400] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from humanorai.bundle import Manifest, read_manifest
from humanorai.corpus import load_sources, sample_per_group
from humanorai.cpus import usable_cpus
from humanorai.errors import HumanoraiError
from humanorai.evaluation.evaluate import Scored, measures
from humanorai.evaluation.metrics import human_flagged_ai
from humanorai.scoring.engine import Engine
from humanorai.settings import DataSettings, DataSource, EngineSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, nargs="+")
    parser.add_argument("--group-pattern", required=True, help="regex on the source column; capture 1 = group")
    parser.add_argument("--groups", nargs="+", required=True)
    parser.add_argument("--bundles", type=Path, nargs="+", required=True)
    parser.add_argument("--per-group", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    try:
        columns = DataSettings(group_by="source", group_pattern=args.group_pattern)
        corpus, _ = load_sources([DataSource(path, columns) for path in args.data])
        assert corpus.groups is not None
        wanted = np.flatnonzero(np.isin(corpus.groups, args.groups))
        corpus = corpus.subset(wanted[sample_per_group(corpus.groups[wanted], corpus.labels[wanted],
                                                       args.per_group, args.seed)])
        results = [measure(bundle, corpus.texts, corpus.labels, corpus.groups, args.groups)
                   for bundle in args.bundles]
    except HumanoraiError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    report = {"results": results, "texts": len(corpus), "context": {
        "cpus": usable_cpus(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": shlex.join(sys.argv)}}
    print(render_markdown(report))
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def measure(bundle: Path, texts: list[str], labels: np.ndarray, groups: np.ndarray,
            names: list[str]) -> dict[str, Any]:
    manifest = read_manifest(bundle)
    _refuse_seen(manifest, names)
    engine = Engine.load(bundle, settings=EngineSettings(cache_size=len(texts) + 1))
    try:
        answers = {point: engine.predict(texts, operating_point=point) for point in engine.ensemble.operating_points}
    finally:
        engine.close()
    p_human = np.array([prediction.verdict.p_human for prediction in answers["balanced"]])
    flagged = {point: np.array([prediction.verdict.prediction for prediction in predictions])
               for point, predictions in answers.items()}
    parts: dict[str, Any] = {}
    for name, mask in [*((group, groups == group) for group in names), ("pooled", np.ones(len(texts), bool))]:
        values = measures(labels[mask], Scored(p_human[mask], flagged["balanced"][mask]))
        parts[name] = {"texts": int(mask.sum()), **{key: values[key] for key in ("roc_auc", "accuracy", "ece")},
                       "human_flagged_ai": {point: human_flagged_ai(labels[mask], answers[mask])
                                            for point, answers in flagged.items()}}
    return {"bundle": manifest.bundle_id, "path": str(bundle), "method": engine.ensemble.default, "groups": parts}


def _refuse_seen(manifest: Manifest, names: list[str]) -> None:
    split = manifest.training.get("split", {})
    seen = {group for part in ("train", "valid") for group in split.get(part, {}).get("groups", [])}
    if seen & set(names):
        raise HumanoraiError(f"{manifest.bundle_id} trained or calibrated on {', '.join(sorted(seen & set(names)))}")


def render_markdown(report: dict[str, Any]) -> str:
    lines = ["| bundle (method) | group | texts | ROC AUC | accuracy | ECE | human flagged AI, by "
             "operating point |", "|---|---|---|---|---|---|---|"]
    for result in report["results"]:
        for name, part in result["groups"].items():
            flagged = ", ".join(f"{point} {value:.3f}" for point, value in part["human_flagged_ai"].items())
            lines.append(f"| {result['bundle']} ({result['method']}) | {name} | {part['texts']} | "
                         f"{part['roc_auc']:.3f} | {part['accuracy']:.3f} | {part['ece']:.3f} | {flagged} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
