"""The scoring engine shared by the server, ``predict`` and ``batch``: load once, then ``predict(texts)``.

The engine knows nothing about HTTP or terminals. It verifies the bundle and builds every member the
manifest lists — a member whose files fail their checksum or that fails to load is reported as
unavailable, and the others serve on. Per call it answers repeats from an LRU cache, merges concurrent
callers into micro-batches (optional), computes the TF-IDF once for the three H2O members, runs the
member groups concurrently, and combines their ``p_human`` into the verdict with per-stage timings.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from humanorai.batching import BatchLimits, MicroBatcher
from humanorai.bundle import Manifest, MemberEntry, read_manifest, verify_files
from humanorai.cache import LRUCache, cache_key
from humanorai.ensemble import Calibration, EnsemblePolicy, Verdict, Vote, confidence_percent
from humanorai.errors import BundleError, InputError, SettingsError
from humanorai.labels import label_name
from humanorai.members.base import Member, TextBatch
from humanorai.members.context import BundleContext, TransformerRuntime
from humanorai.progress import note, stage

logger = logging.getLogger(__name__)

#: Member kind (as the manifest names it) → module with a ``load_member(context, entry)`` function.
MEMBER_MODULES = {"h2o-mojo": "humanorai.members.h2o_mojo", "transformer": "humanorai.members.transformer"}
#: Kinds whose members share features and run one after another in a single task.
GROUPED_KINDS = {"h2o-mojo"}


@dataclass(frozen=True)
class EngineSettings:
    #: Predictions kept for repeated texts (0 disables the cache).
    cache_size: int = 2048
    #: Merge concurrent callers into micro-batches (``None`` scores every call on its own).
    batching: BatchLimits | None = None
    #: Run member groups (the H2O trio, each transformer) at the same time.
    parallel_members: bool = True


class EngineObserver:
    """Hooks for metrics; the default does nothing. The server's Prometheus metrics subclass it."""

    def on_member(self, member: str, seconds: float) -> None: ...

    def on_batch(self, texts: int, tokens: int, waited_ms: float) -> None: ...

    def on_cache(self, hit: bool) -> None: ...


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
    cached: bool = False

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
            "cached": self.cached,
            "bundle": self.bundle_id,
            "unavailable_models": list(self.unavailable),
        }


class Engine:
    """A loaded bundle, ready to score texts from any number of threads."""

    def __init__(self, manifest: Manifest, context: BundleContext, members: list[Member],
                 unavailable: dict[str, str], settings: EngineSettings | None = None,
                 observer: EngineObserver | None = None) -> None:
        self.manifest = manifest
        self._context = context
        self.members = members
        #: Member name → why it could not be loaded.
        self.unavailable = unavailable
        self.settings = settings or EngineSettings()
        self.observer = observer or EngineObserver()
        self._cache: LRUCache[Prediction] = LRUCache(self.settings.cache_size)
        self.ensemble = EnsemblePolicy.from_manifest(manifest.ensemble)
        self._calibrations = {entry.name: Calibration.from_dict(entry.calibration)
                              for entry in manifest.members if entry.calibration is not None}
        self._groups = _member_groups(members, manifest)
        loaded = {member.name for member in members}
        self._uses_tfidf = context.has_tfidf and any(
            entry.kind in GROUPED_KINDS and entry.name in loaded for entry in manifest.members)
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self._groups)), thread_name_prefix="humanorai-member")
        limits = self.settings.batching
        self._batcher: MicroBatcher[Prediction] | None = (
            None if limits is None else MicroBatcher(self._score, limits, self.observer.on_batch))

    @classmethod
    def load(cls, root: Path, transformer_runtime: TransformerRuntime | None = None,
             settings: EngineSettings | None = None, observer: EngineObserver | None = None) -> Engine:
        """Read the bundle at ``root`` and load each member whose files verify, one progress line each."""
        manifest = read_manifest(root)
        runtime = transformer_runtime or TransformerRuntime()
        transformers = sum(entry.kind == "transformer" for entry in manifest.members)
        if runtime.threads is None and transformers and (settings or EngineSettings()).parallel_members:
            # Members that run side by side share the cores instead of each claiming all of them.
            runtime = replace(runtime, threads=max(1, (os.cpu_count() or 1) // transformers))
        context = BundleContext(root, manifest, runtime)
        members: list[Member] = []
        unavailable: dict[str, str] = {}
        shared_problem = _verify_shared_files(root, manifest)
        for entry in manifest.members:
            try:
                with stage(f"Loading {entry.name}"):
                    if entry.kind in GROUPED_KINDS and shared_problem is not None:
                        raise shared_problem
                    verify_files(root, entry.files)
                    member = _loader(entry)(context, entry)
                    members.append(member)
                    note(f"runs on {_describe(member)}")
            except SettingsError:
                raise  # the user's option, wrong for every member it concerns: say so, do not degrade
            except Exception as error:  # one broken member must not take the others down
                logger.warning("member %s is unavailable: %s", entry.name, error)
                unavailable[entry.name] = str(error)
        if not members:
            raise BundleError(f"{root}: no member could be loaded: "
                              + "; ".join(f"{name}: {why}" for name, why in unavailable.items()))
        return cls(manifest, context, members, unavailable, settings, observer)

    @property
    def context(self) -> BundleContext:
        """What the members were loaded with: bundle root, manifest and the shared TF-IDF."""
        return self._context

    def describe_members(self) -> dict[str, str]:
        """Member name → how it runs (e.g. ``onnx int8``), for logs and ``/ready``."""
        return {member.name: _describe(member) for member in self.members}

    @property
    def queued_texts(self) -> int:
        return 0 if self._batcher is None else self._batcher.queued_texts

    @property
    def batching(self) -> bool:
        return self._batcher is not None

    def predict(self, texts: Sequence[str], method: str | None = None) -> list[Prediction]:
        """Score ``texts`` and return one :class:`Prediction` per text, in order.

        ``method`` picks the ensemble method (``majority``, ``soft``, ``stacked``; None = the bundle's
        default). Member scores are cached, the verdict is combined per call, so methods share the cache.
        """
        if self._batcher is not None:
            return self.submit(texts, method).result()
        method = self.ensemble.check(method)
        keys, results, missing = self._lookup(texts)
        if missing:
            self._fill(keys, results, missing, self._score([texts[index] for index in missing]))
        return self._combined(results, method)

    def submit(self, texts: Sequence[str], method: str | None = None) -> Future[list[Prediction]]:
        """Queue ``texts`` for the micro-batcher and return a future of their predictions.

        Cancelling the future before its batch runs drops the work (a caller that has gone away costs no
        compute). Repeats are answered from the cache at once. Needs batching; raises ``Overloaded``
        when the queue is full.
        """
        if self._batcher is None:
            raise RuntimeError("submit needs an engine with batching")
        method = self.ensemble.check(method)
        keys, results, missing = self._lookup(texts)
        outcome: Future[list[Prediction]] = Future()
        if not missing:
            outcome.set_result(self._combined(results, method))
            return outcome
        queued = self._batcher.submit([texts[index] for index in missing])

        def finish(done: Future[list[Prediction]]) -> None:
            if done.cancelled() or outcome.cancelled():
                return
            with contextlib.suppress(InvalidStateError):  # the caller cancelled while the batch ran
                error = done.exception()
                if error is not None:
                    outcome.set_exception(error)
                    return
                self._fill(keys, results, missing, done.result())
                outcome.set_result(self._combined(results, method))

        queued.add_done_callback(finish)
        outcome.add_done_callback(lambda future: queued.cancel() if future.cancelled() else None)
        return outcome

    def _lookup(self, texts: Sequence[str]) -> tuple[list[str], list[Prediction | None], list[int]]:
        """Cache keys, cached predictions (None where missing) and the positions still to score."""
        _check_texts(texts)
        keys = [cache_key(text, self.manifest.bundle_id) for text in texts]
        results: list[Prediction | None] = [self._cache.get(key) for key in keys]
        for result in results:
            self.observer.on_cache(result is not None)
        return keys, results, [index for index, result in enumerate(results) if result is None]

    def _combined(self, results: list[Prediction | None], method: str) -> list[Prediction]:
        """The predictions with their verdict by ``method`` (scoring used the bundle's default)."""
        return [result if result.verdict.method == method
                else replace(result, verdict=self.ensemble.combine(result.votes, method))
                for result in results if result is not None]

    def _fill(self, keys: list[str], results: list[Prediction | None], missing: list[int],
              scored: list[Prediction]) -> None:
        for index, prediction in zip(missing, scored, strict=True):
            results[index] = prediction
            self._cache.put(keys[index], replace(prediction, cached=True))

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        self._pool.shutdown(wait=False)

    def _score(self, texts: list[str]) -> list[Prediction]:
        started = time.perf_counter()
        batch = TextBatch(texts)
        timings_ms: dict[str, float] = {}
        p_human: dict[str, np.ndarray] = {}
        if self._uses_tfidf:
            from humanorai.members.h2o_mojo import tfidf_matrix

            timings_ms["tfidf"] = _timed_ms(lambda: tfidf_matrix(batch, self._context.tfidf))

        def run_group(group: list[Member]) -> None:
            for member in group:
                member_started = time.perf_counter()
                p_human[member.name] = member.predict_proba(batch)
                seconds = time.perf_counter() - member_started
                timings_ms[member.name] = 1000.0 * seconds
                self.observer.on_member(member.name, seconds)

        if self.settings.parallel_members and len(self._groups) > 1:
            for future in [self._pool.submit(run_group, group) for group in self._groups]:
                future.result()
        else:
            for group in self._groups:
                run_group(group)
        timings_ms["total"] = 1000.0 * (time.perf_counter() - started)
        ordered_timings = {name: timings_ms[name] for name in ("tfidf", *p_human, "total") if name in timings_ms}
        predictions = []
        for name, calibration in self._calibrations.items():
            if name in p_human:
                p_human[name] = calibration.apply(p_human[name])
        for index in range(len(batch)):
            votes = [Vote(member.name, float(p_human[member.name][index]), member.threshold)
                     for member in self.members]
            windows = {member: int(values[index]) for (member, key), values in batch.annotations.items()
                       if key == "windows"}
            predictions.append(Prediction(votes=votes, verdict=self.ensemble.combine(votes),
                                          timings_ms=ordered_timings, bundle_id=self.manifest.bundle_id,
                                          unavailable=sorted(self.unavailable), windows=windows))
        return predictions

def _member_groups(members: list[Member], manifest: Manifest) -> list[list[Member]]:
    """Members of a grouped kind form one group (they share features); every other member its own."""
    kind = {entry.name: entry.kind for entry in manifest.members}
    groups: dict[str, list[Member]] = {}
    for member in members:
        key = kind[member.name] if kind[member.name] in GROUPED_KINDS else member.name
        groups.setdefault(key, []).append(member)
    return list(groups.values())


def _verify_shared_files(root: Path, manifest: Manifest) -> BundleError | None:
    """Check the bundle-wide files (TF-IDF, genmodel jar) once; the H2O members need all of them."""
    if not any(entry.kind in GROUPED_KINDS for entry in manifest.members):
        return None
    try:
        verify_files(root, manifest.shared_files)
    except BundleError as error:
        return error
    return None


def _describe(member: Member) -> str:
    backend = getattr(member, "backend", None)
    return str(getattr(backend, "description", "in-process MOJO"))


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
