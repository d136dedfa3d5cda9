"""The scoring engine shared by the server, ``predict`` and ``evaluate``: load once, then ``predict(texts)``.

The engine knows nothing about HTTP, terminals or member kinds: it asks the family registry how to load,
verify and group the members the manifest lists. A member whose files fail their checksum or that fails
to load is reported as unavailable, and the others serve on. Per call it normalises each text once,
answers repeats from an LRU cache of member votes, merges concurrent callers into micro-batches
(optional), runs the member groups concurrently, and combines the votes by the asked-for method.

Asked for segments, it also cuts each text into segments (:mod:`humanorai.segmentation`) and scores them
as texts of their own through the same cache and batches, by the segment members only
(:mod:`humanorai.scoring.segments`).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from humanorai.bundle import Manifest, read_manifest, verify_files
from humanorai.cpus import usable_cpus
from humanorai.errors import BundleError, InputError, SettingsError
from humanorai.members.base import BundleContext, Member, MemberGroup, Steps, TextBatch, run_steps
from humanorai.members.registry import family_of_kind, find_family
from humanorai.progress import note, stage
from humanorai.scoring.batching import MicroBatcher
from humanorai.scoring.cache import LRUCache, cache_key
from humanorai.scoring.ensemble import Calibration, EnsemblePolicy, Verdict, Vote, calibrated
from humanorai.scoring.segments import Segment, is_mixed, segment_p_human
from humanorai.segmentation import Span, segment_spans, word_count
from humanorai.settings import DEFAULT_SEGMENT_MEMBERS, EngineSettings, TransformerSettings
from humanorai.text import RAW, check_texts, normalize

logger = logging.getLogger(__name__)
Outcome = TypeVar("Outcome")


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
    #: The text's segments with their scores, in order, when they were asked for; else None.
    segments: tuple[Segment, ...] | None = None
    #: Whether both labels hold a substantial share of the segments' words, when segments were asked for.
    mixed: bool | None = None


class _Lane:
    """Which members score one kind of text, and the tag their scorings are cached under: every member for
    whole texts, the segment members for segments."""

    def __init__(self, engine: Engine, members: list[Member], cache_tag: str) -> None:
        self.members = members
        self.groups = _member_groups(members, engine.context)
        self.cache_tag = cache_tag
        #: Made once: the batcher merges only requests with the same scoring.
        self.scoring: Callable[[list[str]], Steps[list[ScoredText]]] = partial(engine._scoring, self)


@dataclass(frozen=True)
class _Lookup:
    """Scorings of some texts, in order, and which of them came from the cache."""

    scored: list[ScoredText]
    cached: list[bool]


@dataclass(frozen=True)
class _Pending:
    """Texts of one lane looked up in the cache: their keys, what was found (None: to score) and the
    normalised texts still to score."""

    lane: _Lane
    keys: list[str]
    found: list[ScoredText | None]
    to_score: list[str]


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
        self._texts = _Lane(self, members, manifest.bundle_id)
        #: Members whose mean scores a segment (none loaded: segments cannot be asked for).
        self.segment_members = _segment_members(members, self.settings.segment_members)
        self._segments = _Lane(self, self.segment_members, f"{manifest.bundle_id}/segments:"
                                                           + ",".join(member.name for member in self.segment_members))
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self._texts.groups)),
                                        thread_name_prefix="humanorai-member")
        limits = self.settings.batching
        self._batcher: MicroBatcher[ScoredText] | None = (
            None if limits is None else MicroBatcher(self._texts.scoring, limits, self.observer))

    @classmethod
    def load(cls, root: Path, transformers: TransformerSettings | None = None, settings: EngineSettings | None = None,
             observer: EngineObserver | None = None, manifest: Manifest | None = None) -> Engine:
        """Load each member of the bundle at ``root`` whose files verify, with one progress line each.

        ``manifest`` replaces the bundle's own ``manifest.json`` (training scores its staged members before
        the manifest is complete)."""
        manifest = manifest or read_manifest(root)
        settings = settings or EngineSettings()
        _check_segment_members(manifest, settings.segment_members)  # before anything loads
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

    def predict(self, texts: Sequence[str], method: str | None = None, operating_point: str | None = None,
                segments: bool = False) -> list[Prediction]:
        """Score ``texts`` and return one :class:`Prediction` per text, in order.

        ``method`` picks the ensemble method (``majority``, ``soft``, ``stacked``; None = the bundle's
        default), ``operating_point`` the threshold (``balanced``, ``fpr5``, ``fpr1``; None = balanced), and
        ``segments`` adds each text's segment scores and ``mixed`` flag. The cache keeps the members' votes,
        so every method and point answers from one scoring.
        """
        return self.submit(texts, method, operating_point, segments).result()

    def submit(self, texts: Sequence[str], method: str | None = None, operating_point: str | None = None,
               segments: bool = False) -> Future[list[Prediction]]:
        """Like :meth:`predict`, but return a future of the predictions.

        With batching, the texts (and their segments) are queued for the micro-batcher; cancelling the
        future before its batch runs drops the work (a caller that has gone away costs no compute), and
        :class:`Overloaded` is raised when the queue is full. Without batching, the work is done before this
        returns. Repeats are answered from the cache at once.
        """
        method, point = self.ensemble.check(method), self.ensemble.check_point(operating_point)
        check_texts(texts)
        if not segments:
            return _when_done(self._scored([(self._texts, texts)]),
                              lambda scored: self._predictions(scored, method, point))
        spans = [self._segment_spans(text) for text in texts]
        pieces = [text[span.start:span.end] for text, text_spans in zip(texts, spans, strict=True)
                  for span in text_spans]
        return _when_done(self._scored([(self._texts, texts), (self._segments, pieces)]),
                          lambda scored, scored_pieces: self._predictions(
                              scored, method, point, _segments_of(texts, spans, scored_pieces.scored)))

    def cost(self, texts: Sequence[str], segments: bool = False) -> int:
        """Token positions that scoring ``texts`` (and their segments) would run through the members
        (windows x their tokens): the measure of a request's work that the server limits. Tokenises, but runs
        no model."""
        check_texts(texts)
        return sum(_cost(lane, batch) for lane, batch in self._cost_batches(texts, segments))

    def cost_over(self, texts: Sequence[str], limit: int, segments: bool = False) -> int | None:
        """The cost of ``texts`` (and their segments) if it is over ``limit``, else None. Texts whose length
        alone proves them within the limit are not tokenised (most requests), so the check costs next to
        nothing."""
        check_texts(texts)
        batches = self._cost_batches(texts, segments)
        if sum(member.cost_bound(batch).sum() for lane, batch in batches for member in lane.members) <= limit:
            return None
        cost = sum(_cost(lane, batch) for lane, batch in batches)
        return cost if cost > limit else None

    def _cost_batches(self, texts: Sequence[str], segments: bool) -> list[tuple[_Lane, TextBatch]]:
        """What scoring ``texts`` runs: the texts through every member, and their segments if asked for."""
        batches = [(self._texts, TextBatch(texts))]
        if segments:
            pieces = [text[span.start:span.end] for text in texts for span in self._segment_spans(text)]
            batches.append((self._segments, TextBatch(pieces)))
        return batches

    def _segment_spans(self, text: str) -> list[Span]:
        """``text``'s segments; an :class:`InputError` when no segment member is loaded."""
        if not self.segment_members:
            asked = self.settings.segment_members or DEFAULT_SEGMENT_MEMBERS
            raise InputError(f"segment scores need one of the members {', '.join(asked)}, and none of them is "
                             "loaded; choose others with HUMANORAI_SEGMENT_MEMBERS or --segment-members")
        return segment_spans(text)

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        self._pool.shutdown(wait=False)

    def _scored(self, parts: list[tuple[_Lane, Sequence[str]]]) -> list[Future[_Lookup]]:
        """Each part's texts scored by its lane's members: repeats from the cache, the rest queued for the
        batcher together (or scored now, without batching), then cached."""
        pending = [self._lookup(lane, texts) for lane, texts in parts]
        if self._batcher is None:
            return [_done(self._filled(part, run_steps(part.lane.scoring(part.to_score)) if part.to_score else []))
                    for part in pending]
        queued = iter(self._batcher.submit_together([(part.to_score, part.lane.scoring)
                                                     for part in pending if part.to_score]))
        return [_when_done([next(queued)], partial(self._filled, part)) if part.to_score
                else _done(self._filled(part, [])) for part in pending]

    def _lookup(self, lane: _Lane, texts: Sequence[str]) -> _Pending:
        normalized = [normalize(text, RAW) for text in texts]
        keys = [cache_key(text, lane.cache_tag) for text in normalized]
        found: list[ScoredText | None] = [self._cache.get(key) for key in keys]
        for result in found:
            self.observer.on_cache(result is not None)
        return _Pending(lane, keys, found, [text for text, result in zip(normalized, found, strict=True)
                                            if result is None])

    def _filled(self, part: _Pending, results: list[ScoredText]) -> _Lookup:
        """``part``'s scorings once ``results`` (of its texts still to score, in order) are in; those are
        cached."""
        computed = iter(results)
        scored = []
        for key, result in zip(part.keys, part.found, strict=True):
            if result is None:
                result = next(computed)
                self._cache.put(key, result)
            scored.append(result)
        return _Lookup(scored, [result is not None for result in part.found])

    def _predictions(self, texts: _Lookup, method: str, point: str,
                     segments: list[tuple[Segment, ...]] | None = None) -> list[Prediction]:
        """Each scoring's verdict by ``method`` at ``point``, with its segments when given."""
        unavailable = sorted(self.unavailable)
        return [Prediction(votes=result.votes, verdict=self.ensemble.combine(list(result.votes), method, point),
                           timings_ms=result.timings_ms, bundle_id=self.manifest.bundle_id, unavailable=unavailable,
                           windows=result.windows, cached=cached,
                           segments=None if segments is None else segments[index],
                           mixed=None if segments is None else is_mixed(segments[index]))
                for index, (result, cached) in enumerate(zip(texts.scored, texts.cached, strict=True))]

    def _scoring(self, lane: _Lane, normalized_texts: list[str]) -> Steps[list[ScoredText]]:
        """Run each of ``lane``'s member groups on the texts, one step of each group at a time (groups side by
        side when ``parallel_members``), and turn their ``p_human`` into votes."""
        started = time.perf_counter()
        batch = TextBatch(normalized_texts, normalized=True)
        timings_ms: dict[str, float] = {}
        p_human: dict[str, np.ndarray] = {}
        running = [self._group_steps(group, batch, p_human, timings_ms) for group in lane.groups]
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
        stages = [*(group.prepare[0] for group in lane.groups if group.prepare),
                  *(member.name for member in lane.members), "total"]
        timings_ms = {name: timings_ms[name] for name in stages}
        p_human = calibrated(p_human, self._calibrations)
        windows = {member: values for (member, key), values in batch.annotations.items() if key == "windows"}
        return [ScoredText(votes=tuple(Vote(member.name, float(p_human[member.name][index]), member.threshold)
                                       for member in lane.members),
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


def _segments_of(texts: Sequence[str], spans: list[list[Span]],
                 scored_pieces: list[ScoredText]) -> list[tuple[Segment, ...]]:
    """Each text's segments with their scores (``scored_pieces`` holds every text's segments, in order)."""
    scored = iter(scored_pieces)
    return [tuple(Segment(span.start, span.end, segment_p_human(next(scored).votes),
                          word_count(text[span.start:span.end])) for span in text_spans)
            for text, text_spans in zip(texts, spans, strict=True)]


def _check_segment_members(manifest: Manifest, asked: tuple[str, ...] | None) -> None:
    """A :class:`SettingsError` naming the asked-for segment members the bundle does not have."""
    listed = [entry.name for entry in manifest.members]
    unknown = [name for name in asked or () if name.lower() not in {known.lower() for known in listed}]
    if unknown:
        raise SettingsError(f"segment member(s) {', '.join(unknown)} not in this bundle; its members are "
                            f"{', '.join(listed)}")


def _segment_members(members: list[Member], asked: tuple[str, ...] | None) -> list[Member]:
    """The loaded members that score segments: those asked for, else those of the default list."""
    chosen = {name.lower() for name in asked or DEFAULT_SEGMENT_MEMBERS}
    return [member for member in members if member.name.lower() in chosen]


def _cost(lane: _Lane, batch: TextBatch) -> int:
    return int(sum(member.cost(batch).sum() for member in lane.members))


def _done(value: Outcome) -> Future[Outcome]:
    future: Future[Outcome] = Future()
    future.set_result(value)
    return future


def _when_done(sources: list[Future[Any]], combine: Callable[..., Outcome]) -> Future[Outcome]:
    """A future of ``combine(*results)`` once every source is done. An error in a source or in ``combine``
    becomes its error; cancelling it cancels the sources, so work nobody waits for stops."""
    outcome: Future[Outcome] = Future()
    remaining = [len(sources)]
    lock = threading.Lock()

    def finish(done: Future[Any]) -> None:
        if done.cancelled() or outcome.done():
            return
        error = done.exception()
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        with contextlib.suppress(InvalidStateError):  # the caller cancelled, or another source failed first
            if error is not None:
                outcome.set_exception(error)
            elif last:
                try:
                    outcome.set_result(combine(*(source.result() for source in sources)))
                except Exception as failure:
                    outcome.set_exception(failure)

    def cancel_sources(future: Future[Outcome]) -> None:
        if future.cancelled():
            for source in sources:
                source.cancel()

    for source in sources:
        source.add_done_callback(finish)
    outcome.add_done_callback(cancel_sources)
    return outcome


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

