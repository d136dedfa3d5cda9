"""The scoring engine: load a bundle once, then ``predict(texts)`` for the CLI and the server.

The engine knows nothing about HTTP or terminals. It verifies the bundle, builds every member the
manifest lists (a member that fails to load is reported as unavailable, not fatal), computes the shared
TF-IDF once per batch, and combines the members' ``p_human`` into the verdict with per-stage timings.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from humanorai.bundle import Manifest, MemberEntry, load_bundle
from humanorai.ensemble import Verdict, Vote, confidence_percent, majority_vote
from humanorai.errors import BundleError, InputError
from humanorai.labels import label_name
from humanorai.members.base import Member, TextBatch
from humanorai.members.context import BundleContext, TransformerRuntime
from humanorai.members.h2o_mojo import tfidf_matrix
from humanorai.progress import stage

logger = logging.getLogger(__name__)

#: Member kind (as the manifest names it) → module with a ``load_member(context, entry)`` function.
MEMBER_MODULES = {"h2o-mojo": "humanorai.members.h2o_mojo", "transformer": "humanorai.members.transformer"}


@dataclass(frozen=True)
class Prediction:
    """The verdict for one text, in the shape of the original app's response (DESIGN §2)."""

    votes: list[Vote]
    verdict: Verdict
    timings_ms: dict[str, float]
    bundle_id: str
    unavailable: list[str] = field(default_factory=list)
    #: Member name → how many windows of the text it scored (transformers; 1 unless the text is long).
    windows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "individual_results": {
                vote.member: {
                    "prediction": vote.prediction,
                    "label": label_name(vote.prediction),
                    "confidence": confidence_percent(vote.prediction, vote.p_human),
                    "p_human": round(vote.p_human, 6),
                    "threshold": vote.threshold,
                }
                for vote in self.votes
            },
            "ensemble": {
                "prediction": self.verdict.prediction,
                "label": self.verdict.label,
                "confidence": self.verdict.confidence,
                "p_human": round(self.verdict.p_human, 6),
                "vote_count": self.verdict.vote_count,
                "total_models": self.verdict.total_models,
                "method": self.verdict.method,
            },
            "timings_ms": {name: round(value, 3) for name, value in self.timings_ms.items()},
            "windows": dict(self.windows),
            "bundle": self.bundle_id,
            "unavailable_models": list(self.unavailable),
        }


class Engine:
    """A loaded bundle, ready to score batches of texts."""

    def __init__(self, manifest: Manifest, context: BundleContext, members: list[Member],
                 unavailable: dict[str, str]) -> None:
        self.manifest = manifest
        self._context = context
        self.members = members
        #: Member name → why it could not be loaded.
        self.unavailable = unavailable

    @classmethod
    def load(cls, root: Path, transformer_runtime: TransformerRuntime | None = None) -> Engine:
        """Verify the bundle at ``root`` and load its members, one progress line each."""
        with stage(f"Verifying bundle {root}"):
            manifest = load_bundle(root)
        context = BundleContext(root, manifest, transformer_runtime)
        members: list[Member] = []
        unavailable: dict[str, str] = {}
        for entry in manifest.members:
            try:
                with stage(f"Loading {entry.name} ({entry.kind})"):
                    members.append(_loader(entry)(context, entry))
            except Exception as error:  # one broken member must not take the others down
                logger.warning("member %s is unavailable: %s", entry.name, error)
                unavailable[entry.name] = str(error)
        if not members:
            raise BundleError(f"{root}: no member could be loaded ({unavailable})")
        return cls(manifest, context, members, unavailable)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Score ``texts`` (one batch) and return one :class:`Prediction` per text, in order."""
        _check_texts(texts)
        started = time.perf_counter()
        batch = TextBatch(texts)
        timings_ms: dict[str, float] = {}
        if self._context.has_tfidf:
            timings_ms["tfidf"] = _timed_ms(lambda: tfidf_matrix(batch, self._context.tfidf))
        p_human_by_member = {}
        for member in self.members:
            member_started = time.perf_counter()
            p_human_by_member[member.name] = member.predict_proba(batch)
            timings_ms[member.name] = 1000.0 * (time.perf_counter() - member_started)
        timings_ms["total"] = 1000.0 * (time.perf_counter() - started)
        predictions = []
        for index in range(len(batch)):
            votes = [Vote(member.name, float(p_human_by_member[member.name][index]), member.threshold)
                     for member in self.members]
            windows = {member: int(values[index]) for (member, key), values in batch.annotations.items()
                       if key == "windows"}
            predictions.append(Prediction(votes=votes, verdict=majority_vote(votes), timings_ms=timings_ms,
                                          bundle_id=self.manifest.bundle_id,
                                          unavailable=sorted(self.unavailable), windows=windows))
        return predictions


def _loader(entry: MemberEntry) -> Callable[[BundleContext, MemberEntry], Member]:
    module_name = MEMBER_MODULES.get(entry.kind)
    if module_name is None:
        raise BundleError(f"member {entry.name}: unknown kind {entry.kind!r}")
    return importlib.import_module(module_name).load_member  # type: ignore[no-any-return]


def _timed_ms(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return 1000.0 * (time.perf_counter() - started)


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise InputError("expected a sequence of texts, got a single string")
    if not texts:
        raise InputError("no text given")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"text {position} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise InputError(f"text {position} is empty")
