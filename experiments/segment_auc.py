"""Which members score short spans well: ROC AUC per member on segments of held-out corpus texts, and how
the ``mixed`` rule behaves on pure and on pasted-together texts.

Held-out texts are those of the groups the bundle's training put in its test split (read from the
manifest, with the ``--group-by``/``--group-pattern`` of its recorded command): no member saw them. Each
text is cut by :mod:`humanorai.segmentation` (the rule the engine serves), every segment is scored by every
member as a text of its own, and each member's ROC AUC over the segments (label: the text's) is reported
beside its AUC over the whole texts, with a 95 % interval from a bootstrap over texts (the segments of
one text are not independent). A member whose segment AUC interval reaches down to
:data:`NEAR_CHANCE_AUC` is near chance on short spans and is not fit to score segments; the others are
the recommended segment members, and the mean of their ``p_human`` is measured as the segment score.

The mixed rule is measured on the held-out texts as they are (a pure text called mixed is a false alarm)
and on composites: two human texts with an AI text pasted between them as paragraphs, the way a reader
would meet it; the report gives how often each is called mixed at several word shares, and how often the
pasted paragraph is the part of the composite that scores most AI-like. The recommended rule is the one
that catches the most composites while calling at most :data:`MOST_FALSE_MIXED` of the pure texts of
either label mixed.

Usage: python experiments/segment_auc.py [--bundle DIR] [--data CSV ...] [--texts 150] [--out FILE.json]
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
from sklearn.metrics import roc_auc_score

from humanorai.bundle import Manifest, read_manifest
from humanorai.cpus import usable_cpus
from humanorai.errors import HumanoraiError
from humanorai.evaluation.held_out import held_out_corpus
from humanorai.labels import AI, HUMAN
from humanorai.progress import progress_bar
from humanorai.scoring.engine import Engine
from humanorai.scoring.segments import MIXED_MARGIN, MIXED_WORD_SHARE, Segment, is_mixed
from humanorai.segmentation import segment_spans, word_count
from humanorai.settings import DEMO_BUNDLE, EngineSettings, ServiceSettings

#: A member whose segment AUC's 95 % interval reaches down to this is near chance on short spans.
NEAR_CHANCE_AUC = 0.6
#: Word shares and margins at which the mixed rule is measured.
MIXED_SHARES = (0.15, 0.2, 0.25, 0.3)
MIXED_MARGINS = (0.1, 0.2, 0.25, 0.3, 0.35)
#: The recommended mixed rule calls at most this share of pure texts (of either label) mixed, and among such
#: rules catches the most composites.
MOST_FALSE_MIXED = 0.05
BOOTSTRAP_ROUNDS = 300
SCORING_CHUNK = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: HUMANORAI_BUNDLE, else models/demo)")
    parser.add_argument("--data", type=Path, nargs="+",
                        help="the bundle's training data (default: the files its manifest records, relative to the "
                             "current folder)")
    parser.add_argument("--texts", type=int, default=150, help="held-out texts per label (and composites)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON to this file")
    args = parser.parse_args()
    if args.texts < 2:
        parser.error("--texts must be at least 2")
    bundle = args.bundle or ServiceSettings.from_env().bundle or DEMO_BUNDLE
    try:
        manifest = read_manifest(bundle)
        texts, labels = held_out(manifest, args.data, args.texts, args.seed)
        engine = Engine.load(bundle, settings=EngineSettings(cache_size=1_000_000))
    except HumanoraiError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    try:
        result = measure(engine, texts, labels, args.seed)
    finally:
        engine.close()
    result["context"] = {"bundle": manifest.bundle_id, "bundle_path": str(bundle), "cpus": usable_cpus(),
                         "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": shlex.join(sys.argv)}
    print(render_markdown(result))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def held_out(manifest: Manifest, data: list[Path] | None, per_label: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Up to ``per_label`` texts of each label from the groups of the bundle's test split."""
    corpus = held_out_corpus(manifest, Path.cwd(), data or ())
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for label in (HUMAN, AI):
        pool = np.flatnonzero(corpus.labels == label)
        chosen += rng.choice(pool, size=min(per_label, len(pool)), replace=False).tolist()
    return [corpus.texts[index] for index in chosen], corpus.labels[chosen]


def measure(engine: Engine, texts: list[str], labels: np.ndarray, seed: int) -> dict[str, Any]:
    members = [member.name for member in engine.members]
    spans = [segment_spans(text) for text in texts]
    pieces = [text[span.start:span.end] for text, text_spans in zip(texts, spans, strict=True) for span in text_spans]
    owner = np.array([index for index, text_spans in enumerate(spans) for _ in text_spans])
    started = time.perf_counter()
    piece_scores = scores(engine, pieces, "Scoring segments")
    segment_seconds = time.perf_counter() - started
    document_scores = scores(engine, texts, "Scoring whole texts")
    segment_labels = labels[owner]
    rng = np.random.default_rng(seed)
    resamples = [rng.integers(0, len(texts), len(texts)) for _ in range(BOOTSTRAP_ROUNDS)]

    per_member = {}
    for name in members:
        low, high = _interval(segment_labels, piece_scores[name], owner, resamples)
        per_member[name] = {"segment_auc": _auc(segment_labels, piece_scores[name]), "segment_auc_95": [low, high],
                            "document_auc": _auc(labels, document_scores[name])}
    chosen = [name for name in members if per_member[name]["segment_auc_95"][0] > NEAR_CHANCE_AUC]
    combined = {}
    for title, subset in (("all members", members), ("recommended", chosen)):
        if not subset:
            continue
        mean = np.mean([piece_scores[name] for name in subset], axis=0)
        low, high = _interval(segment_labels, mean, owner, resamples)
        combined[title] = {"members": subset, "segment_auc": _auc(segment_labels, mean), "segment_auc_95": [low, high],
                           "accuracy_at_0.5": float(np.mean((mean >= 0.5) == (segment_labels == HUMAN))),
                           "human_segments_called_human": float(np.mean(mean[segment_labels == HUMAN] >= 0.5)),
                           "ai_segments_called_ai": float(np.mean(mean[segment_labels == AI] < 0.5))}
    segment_words = [word_count(piece) for piece in pieces]
    return {
        "texts": {"human": int(np.sum(labels == HUMAN)), "ai": int(np.sum(labels == AI))},
        "segments": {"count": len(pieces), "per_text_median": float(np.median([len(s) for s in spans])),
                     "words_median": float(np.median(segment_words)),
                     "words_p10_p90": [float(np.percentile(segment_words, 10)),
                                       float(np.percentile(segment_words, 90))],
                     "scoring_ms_per_segment_all_members": 1000.0 * segment_seconds / len(pieces)},
        "near_chance_auc": NEAR_CHANCE_AUC,
        "members": per_member,
        "combined": combined,
        "mixed": mixed_rule(engine, texts, labels, chosen or members, seed) if chosen else {},
    }


def mixed_rule(engine: Engine, texts: list[str], labels: np.ndarray, members: list[str], seed: int) -> dict[str, Any]:
    """How often pure texts and composites (human, pasted AI, human) are called mixed, by word share and
    margin, and how often the pasted part is the most AI-like part of its composite."""
    rng = np.random.default_rng(seed + 1)
    human, ai = np.flatnonzero(labels == HUMAN), np.flatnonzero(labels == AI)
    count = min(len(ai), len(human) // 2)
    firsts, seconds = np.split(rng.permutation(human)[:2 * count], 2)
    composites = [(texts[first], texts[pasted], texts[second])
                  for first, pasted, second in zip(firsts, rng.permutation(ai)[:count], seconds, strict=True)]
    scored = {"pure human": [_segments(engine, texts[index], members) for index in human],
              "pure AI": [_segments(engine, texts[index], members) for index in ai],
              "composite": []}
    pasted_is_lowest = []
    for parts in composites:
        joined = "\n\n".join(parts)
        segments = _segments(engine, joined, members)
        scored["composite"].append(segments)
        ends = np.cumsum([len(part) + 2 for part in parts])
        part_of = np.searchsorted(ends, [(segment.start + segment.end) / 2 for segment in segments], side="right")
        means = [[s.p_human for s, part in zip(segments, part_of, strict=True) if part == index] for index in range(3)]
        if all(means):
            pasted_is_lowest.append(np.mean(means[1]) < min(np.mean(means[0]), np.mean(means[2])))
    rates = [{"margin": margin, "least_share": least,
              **{kind: float(np.mean([is_mixed(segments, least, margin) for segments in documents]))
                 for kind, documents in scored.items()}}
             for margin in MIXED_MARGINS for least in MIXED_SHARES]
    allowed = [rate for rate in rates if max(rate["pure human"], rate["pure AI"]) <= MOST_FALSE_MIXED]
    best = max(allowed, key=lambda rate: (rate["composite"], -rate["margin"])) if allowed else None
    return {"members": members, "composites": count, "called_mixed": rates, "most_false_mixed": MOST_FALSE_MIXED,
            "recommended": None if best is None else {"margin": best["margin"], "least_share": best["least_share"]},
            "pasted_part_scores_lowest": float(np.mean(pasted_is_lowest)),
            "pasted_word_share_median": float(np.median([word_count(pasted) / word_count("\n\n".join(parts))
                                                         for parts in composites for pasted in parts[1:2]]))}


def scores(engine: Engine, texts: list[str], description: str) -> dict[str, np.ndarray]:
    """Every member's ``p_human`` of every text (each scored as a text of its own)."""
    found: dict[str, list[float]] = {member.name: [] for member in engine.members}
    with progress_bar(description, len(texts)) as advance:
        for start in range(0, len(texts), SCORING_CHUNK):
            chunk = texts[start:start + SCORING_CHUNK]
            for prediction in engine.predict(chunk):
                for vote in prediction.votes:
                    found[vote.member].append(vote.p_human)
            advance(len(chunk))
    return {name: np.asarray(values) for name, values in found.items()}


def _segments(engine: Engine, text: str, members: list[str]) -> list[Segment]:
    """``text``'s segments scored by the mean of ``members`` (repeats come from the engine's cache)."""
    spans = segment_spans(text)
    pieces = [text[span.start:span.end] for span in spans]
    return [Segment(span.start, span.end, float(np.mean([vote.p_human for vote in prediction.votes
                                                        if vote.member in members])), word_count(piece))
            for span, piece, prediction in zip(spans, pieces, engine.predict(pieces), strict=True)]


def _auc(labels: np.ndarray, p_human: np.ndarray) -> float:
    return float(roc_auc_score(labels == HUMAN, p_human))


def _interval(labels: np.ndarray, p_human: np.ndarray, owner: np.ndarray,
              resamples: list[np.ndarray]) -> tuple[float, float]:
    """95 % interval of the segment AUC, resampling whole texts."""
    by_text = [np.flatnonzero(owner == index) for index in range(owner.max() + 1)]
    values = []
    for texts in resamples:
        rows = np.concatenate([by_text[index] for index in texts])
        if len(set(labels[rows].tolist())) == 2:
            values.append(_auc(labels[rows], p_human[rows]))
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def render_markdown(result: dict[str, Any]) -> str:
    context, segments = result["context"], result["segments"]
    lines = [f"bundle {context['bundle']}; {result['texts']['human']} human + {result['texts']['ai']} AI held-out "
             f"texts; {segments['count']} segments (median {segments['per_text_median']:g} per text, "
             f"{segments['words_median']:g} words, p10–p90 {segments['words_p10_p90'][0]:g}–"
             f"{segments['words_p10_p90'][1]:g}); {context['cpus']} CPUs",
             "", "| member | segment ROC AUC (95 % CI) | whole-text ROC AUC | for segments |", "|---|---|---|---|"]
    for name, entry in result["members"].items():
        low, high = entry["segment_auc_95"]
        fit = "yes" if low > result["near_chance_auc"] else "no: near chance"
        lines.append(f"| {name} | {entry['segment_auc']:.3f} ({low:.3f}–{high:.3f}) | {entry['document_auc']:.3f} "
                     f"| {fit} |")
    for title, entry in result["combined"].items():
        low, high = entry["segment_auc_95"]
        lines.append(f"| mean of {title} ({', '.join(entry['members'])}) | {entry['segment_auc']:.3f} "
                     f"({low:.3f}–{high:.3f}) | | accuracy at 0.5: {entry['accuracy_at_0.5']:.3f} (human "
                     f"{entry['human_segments_called_human']:.3f}, AI {entry['ai_segments_called_ai']:.3f}) |")
    mixed = result["mixed"]
    if mixed:
        lines += ["", f"mixed rule with {', '.join(mixed['members'])}; {mixed['composites']} composites (human, pasted "
                      f"AI, human; the pasted text holds a median {mixed['pasted_word_share_median']:.2f} of the "
                      f"words); the pasted part scores lowest in {mixed['pasted_part_scores_lowest']:.3f}",
                  "", "| margin | least word share of each label | pure human called mixed | pure AI called mixed | "
                      "composite called mixed |", "|---|---|---|---|---|"]
        recommended = mixed["recommended"] or {}
        for rate in mixed["called_mixed"]:
            rule = {"margin": rate["margin"], "least_share": rate["least_share"]}
            chosen = ((" (served)" if (rate["margin"], rate["least_share"]) == (MIXED_MARGIN, MIXED_WORD_SHARE) else "")
                      + (" (recommended)" if rule == recommended else ""))
            lines.append(f"| {rate['margin']:g} | {rate['least_share']:g}{chosen} | {rate['pure human']:.3f} | "
                         f"{rate['pure AI']:.3f} | {rate['composite']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
