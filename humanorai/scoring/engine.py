"""The scoring engine shared by the server, ``predict`` and ``evaluate``: load once, then ``predict(texts)``.

The engine knows nothing about HTTP, terminals or member kinds: it asks the family registry how to load,
verify and group the members the manifest lists. A member whose files fail their checksum or that fails
to load is reported as unavailable, and the others serve on. Per call it normalises each text once,
answers repeats from an LRU cache of member votes, merges concurrent callers into micro-batches
(optional), runs the member groups concurrently, and combines the votes by the asked-for method.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from humanorai.bundle import Manifest, read_manifest, verify_files
from humanorai.cpus import usable_cpus
from humanorai.errors import BundleError, SettingsError
from humanorai.members.base import BundleContext, Member, MemberGroup, Steps, TextBatch, run_steps
from humanorai.members.registry import family_of_kind, find_family
from humanorai.progress import note, stage
from humanorai.scoring.batching import MicroBatcher
from humanorai.scoring.cache import LRUCache, cache_key
from humanorai.scoring.ensemble import Calibration, EnsemblePolicy, Verdict, Vote, calibrated
from humanorai.settings import EngineSettings, TransformerSettings
from humanorai.text import RAW, check_texts, normalize

logger = logging.getLogger(__name__)


class EngineObserver:
    """Hooks for metrics; the default does nothing. The server's Prometheus metrics subclass it."""

    def on_member(self, member: str, seconds: float) -> None: ...

    def on_batch(self, texts: int, tokens: int, waited_ms: float) -> None: ...

    def on_cache(self, hit: bool) -> None: ...

    def on_stopped(self, texts: int) -> None:
        """A batch's scoring was stopped part-way: every caller of its ``texts`` had gone."""


@dataclass(frozen=True)
class ScoredText:
    """What scoring one text produced, before any ensemble method: what the cache keeps."""

    #: One vote per available member, in manifest order (calibrated where the bundle says so).
    votes: tuple[Vote, ...]
    timings_ms: dict[str, float]
    #: Member name → how many windows of the text it scored (transformers; 1 unless the text is long).
    windows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    """The verdict for one text by one ensemble method, with every member's vote."""

    votes: tuple[Vote, ...]
    verdict: Verdict
    timings_ms: dict[str, float]
    bundle_id: str
    unavailable: list[str] = field(default_factory=list)
    windows: dict[str, int] = field(default_factory=dict)
    cached: bool = False


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
        self._cache: LRUCache[ScoredText] = LRUCache(self.settings.cache_size)
        self.ensemble = EnsemblePolicy.from_manifest(manifest.ensemble)
        self._calibrations = {entry.name: Calibration.from_dict(entry.calibration)
                              for entry in manifest.members if entry.calibration is not None}
        self._groups = _member_groups(members, context)
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self._groups)), thread_name_prefix="humanorai-member")
        limits = self.settings.batching
        self._batcher: MicroBatcher[ScoredText] | None = (
            None if limits is None else MicroBatcher(self._scoring, limits, self.observer))

    @classmethod
    def load(cls, root: Path, transformers: TransformerSettings | None = None, settings: EngineSettings | None = None,
             observer: EngineObserver | None = None, manifest: Manifest | None = None) -> Engine:
        """Load each member of the bundle at ``root`` whose files verify, with one progress line each.

        ``manifest`` replaces the bundle's own ``manifest.json`` (training scores its staged members before
        the manifest is complete)."""
        manifest = manifest or read_manifest(root)
        settings = settings or EngineSettings()
        transformers = transformers or TransformerSettings()
        threaded = sum(family.threaded for family in map(find_family, (e.kind for e in manifest.members)) if family)
        if transformers.threads is None and threaded and settings.parallel_members:
            # Members that run side by side share the cores instead of each claiming all of them.
            transformers = replace(transformers, threads=max(1, usable_cpus() // threaded))
        context = BundleContext(root, manifest, transformers)
        members: list[Member] = []
        unavailable: dict[str, str] = {}
        shared_problems = _verify_shared_files(root, manifest)
        for entry in manifest.members:
            try:
                with stage(f"Loading {entry.name}"):
                    family = family_of_kind(entry.kind)
                    if family.kind in shared_problems:
                        raise shared_problems[family.kind]
                    verify_files(root, entry.files)
                    member = family.load(context, entry)
                    members.append(member)
                    note(f"runs on {member.description}")
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
        """What the members were loaded with: bundle root, manifest and shared resources."""
        return self._context

    def describe_members(self) -> dict[str, str]:
        """Member name → how it runs (e.g. ``onnx int8``), for logs and ``/ready``."""
        return {member.name: member.description for member in self.members}

    @property
    def queued_texts(self) -> int:
        return 0 if self._batcher is None else self._batcher.queued_texts

    @property
    def batching(self) -> bool:
        return self._batcher is not None

    def predict(self, texts: Sequence[str], method: str | None = None,
                operating_point: str | None = None) -> list[Prediction]:
        """Score ``texts`` and return one :class:`Prediction` per text, in order.

        ``method`` picks the ensemble method (``majority``, ``soft``, ``stacked``; None = the bundle's
        default), ``operating_point`` the threshold (``balanced``, ``fpr5``, ``fpr1``; None = balanced).
        The cache keeps the members' votes, so every method and point answers from one scoring.
        """
        if self._batcher is not None:
            return self.submit(texts, method, operating_point).result()
        method, point = self.ensemble.check(method), self.ensemble.check_point(operating_point)
        normalized, keys, scored, missing = self._lookup(texts)
        if missing:
            self._fill(keys, scored, missing, run_steps(self._scoring([normalized[index] for index in missing])))
        return self._predictions(scored, missing, method, point)

    def submit(self, texts: Sequence[str], method: str | None = None,
               operating_point: str | None = None) -> Future[list[Prediction]]:
        """Queue ``texts`` for the micro-batcher and return a future of their predictions.

        Cancelling the future before its batch runs drops the work (a caller that has gone away costs no
        compute). Repeats are answered from the cache at once. Needs batching; raises ``Overloaded``
        when the queue is full.
        """
        if self._batcher is None:
            raise RuntimeError("submit needs an engine with batching")
        method, point = self.ensemble.check(method), self.ensemble.check_point(operating_point)
        normalized, keys, scored, missing = self._lookup(texts)
        outcome: Future[list[Prediction]] = Future()
        if not missing:
            outcome.set_result(self._predictions(scored, missing, method, point))
            return outcome
        queued = self._batcher.submit([normalized[index] for index in missing])

        def finish(done: Future[list[ScoredText]]) -> None:
            if done.cancelled() or outcome.cancelled():
                return
            with contextlib.suppress(InvalidStateError):  # the caller cancelled while the batch ran
                error = done.exception()
                if error is not None:
                    outcome.set_exception(error)
                    return
                self._fill(keys, scored, missing, done.result())
                outcome.set_result(self._predictions(scored, missing, method, point))

        queued.add_done_callback(finish)
        outcome.add_done_callback(lambda future: queued.cancel() if future.cancelled() else None)
        return outcome

    def cost(self, texts: Sequence[str]) -> int:
        """Token positions that scoring ``texts`` would run through the members (windows x their tokens):
        the measure of a request's work that the server limits. Tokenises, but runs no model."""
        check_texts(texts)
        return self._cost(TextBatch(texts))

    def cost_over(self, texts: Sequence[str], limit: int) -> int | None:
        """The cost of ``texts`` if it is over ``limit``, else None. Texts whose length alone proves them
        within the limit are not tokenised (most requests), so the check costs next to nothing."""
        check_texts(texts)
        batch = TextBatch(texts)
        if sum(member.cost_bound(batch).sum() for member in self.members) <= limit:
            return None
        cost = self._cost(batch)
        return cost if cost > limit else None

    def _cost(self, batch: TextBatch) -> int:
        return int(sum(member.cost(batch).sum() for member in self.members))

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        self._pool.shutdown(wait=False)

    def _lookup(self, texts: Sequence[str]) -> tuple[list[str], list[str], list[ScoredText | None], list[int]]:
        """Normalised texts, cache keys, cached scorings (None where missing) and the positions to score."""
        check_texts(texts)
        normalized = [normalize(text, RAW) for text in texts]
        keys = [cache_key(text, self.manifest.bundle_id) for text in normalized]
        scored: list[ScoredText | None] = [self._cache.get(key) for key in keys]
        for result in scored:
            self.observer.on_cache(result is not None)
        return normalized, keys, scored, [index for index, result in enumerate(scored) if result is None]

    def _fill(self, keys: list[str], scored: list[ScoredText | None], missing: list[int],
              results: list[ScoredText]) -> None:
        for index, result in zip(missing, results, strict=True):
            scored[index] = result
            self._cache.put(keys[index], result)

    def _predictions(self, scored: list[ScoredText | None], computed: list[int], method: str,
                     point: str) -> list[Prediction]:
        """Each scoring's verdict by ``method`` at ``point``; those not in ``computed`` came from the cache."""
        fresh = set(computed)
        unavailable = sorted(self.unavailable)
        predictions = []
        for index, result in enumerate(scored):
            assert result is not None
            predictions.append(Prediction(
                votes=result.votes, verdict=self.ensemble.combine(list(result.votes), method, point),
                timings_ms=result.timings_ms, bundle_id=self.manifest.bundle_id, unavailable=unavailable,
                windows=result.windows, cached=index not in fresh))
        return predictions

    def _scoring(self, normalized_texts: list[str]) -> Steps[list[ScoredText]]:
        """Run every member group on the texts, one step of each group at a time (groups side by side
        when ``parallel_members``), and turn their ``p_human`` into votes."""
        started = time.perf_counter()
        batch = TextBatch(normalized_texts, normalized=True)
        timings_ms: dict[str, float] = {}
        p_human: dict[str, np.ndarray] = {}
        running = [self._group_steps(group, batch, p_human, timings_ms) for group in self._groups]
        try:
            while running:
                if self.settings.parallel_members and len(running) > 1:
                    advanced = list(self._pool.map(_advance, running))
                else:
                    advanced = [_advance(steps) for steps in running]
                running = [steps for steps, more in zip(running, advanced, strict=True) if more]
                if running:
                    yield
        finally:
            for steps in running:
                # A step still running in a pool thread (the wait for it was interrupted, e.g. by Ctrl-C) cannot
                # be closed from here, and trying would replace the interruption with a ValueError: it ends with
                # its step.
                if inspect.getgeneratorstate(steps) != inspect.GEN_RUNNING:
                    steps.close()
        timings_ms["total"] = 1000.0 * (time.perf_counter() - started)
        stages = [*(group.prepare[0] for group in self._groups if group.prepare),
                  *(member.name for member in self.members), "total"]
        timings_ms = {name: timings_ms[name] for name in stages}
        p_human = calibrated(p_human, self._calibrations)
        windows = {member: values for (member, key), values in batch.annotations.items() if key == "windows"}
        return [ScoredText(votes=tuple(Vote(member.name, float(p_human[member.name][index]), member.threshold)
                                       for member in self.members),
                           timings_ms=timings_ms,
                           windows={member: int(values[index]) for member, values in windows.items()})
                for index in range(len(batch))]

    def _group_steps(self, group: MemberGroup, batch: TextBatch, p_human: dict[str, np.ndarray],
                     timings_ms: dict[str, float]) -> Steps[None]:
        """One group's members in turn, step by step; each member's time counts only its own steps."""
        if group.prepare is not None:
            name, work = group.prepare
            prepare_started = time.perf_counter()
            work(batch)
            timings_ms[name] = 1000.0 * (time.perf_counter() - prepare_started)
        for member in group.members:
            steps = member.scoring(batch)
            seconds = 0.0
            while True:
                step_started = time.perf_counter()
                try:
                    next(steps)
                except StopIteration as done:
                    p_human[member.name] = done.value
                    seconds += time.perf_counter() - step_started
                    break
                seconds += time.perf_counter() - step_started
                yield
            timings_ms[member.name] = 1000.0 * seconds
            self.observer.on_member(member.name, seconds)


def _advance(steps: Steps[None]) -> bool:
    """Run one step; False once the work is done."""
    try:
        next(steps)
    except StopIteration:
        return False
    return True


def _member_groups(members: list[Member], context: BundleContext) -> list[MemberGroup]:
    """Each family's groups of its loaded members, families in the order the manifest first lists them."""
    kinds = {entry.name: entry.kind for entry in context.manifest.members}
    by_kind: dict[str, list[Member]] = {}
    for member in members:
        by_kind.setdefault(kinds[member.name], []).append(member)
    return [group for kind, loaded in by_kind.items() for group in family_of_kind(kind).groups(loaded, context)]


def _verify_shared_files(root: Path, manifest: Manifest) -> dict[str, BundleError]:
    """Check each family's shared files once; a family whose files fail loses all its members."""
    problems: dict[str, BundleError] = {}
    for kind in dict.fromkeys(entry.kind for entry in manifest.members):
        try:  # an unknown kind fails here too, and its members are reported with that error
            verify_files(root, family_of_kind(kind).shared_files(manifest))
        except BundleError as error:
            problems[kind] = error
    return problems

