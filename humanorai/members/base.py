"""What every ensemble member and every member family implements, and what they are given.

A *member* scores texts: batch-first, like scikit-learn's ``predict_proba``, it takes a :class:`TextBatch`
and returns one ``p_human`` per text. A *family* (the H2O trio on TF-IDF, the transformers) owns its
members' training, loading, files and description, behind the :class:`Family` protocol; the engine, the
training pipeline, the CLI and the server only ever ask the registry (:mod:`humanorai.members.registry`),
so a new family is one folder plus one registry line.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from humanorai.bundle import Manifest, MemberEntry
from humanorai.settings import TrainSettings, TransformerSettings
from humanorai.text import RAW, NormalizationSpec, normalize

if TYPE_CHECKING:
    from humanorai.corpus import Split

Shared = TypeVar("Shared")
Outcome = TypeVar("Outcome")

#: Work done in steps: a generator that yields between units of work and returns its result. The scheduler
#: (:mod:`humanorai.scoring.batching`) interleaves the steps of several batches and stops a batch whose
#: callers are gone between two steps.
Steps = Generator[None, None, Outcome]


def run_steps(steps: Steps[Outcome]) -> Outcome:
    """Run step-wise work to its end, for callers that need no interleaving."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


class TextBatch:
    """Texts scored together, normalised once, plus features computed once and shared between members.

    ``texts`` are the light :data:`~humanorai.text.RAW` normalisation of what was submitted (the cache key's
    form). Every other normalisation starts with the same steps (NFKC, whitespace), so it gives the same
    result from these texts as from the originals; :meth:`normalized` computes each spec once per batch.
    """

    def __init__(self, texts: Sequence[str], *, normalized: bool = False) -> None:
        self.texts = list(texts) if normalized else [normalize(text, RAW) for text in texts]
        self._shared: dict[object, Any] = {}
        self._lock = threading.Lock()
        #: (member name, key) → one value per text, e.g. how many windows a transformer scored.
        self.annotations: dict[tuple[str, str], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.texts)

    def shared(self, key: object, compute: Callable[[list[str]], Shared]) -> Shared:
        """Return ``compute(texts)``, computed by the first member that asks for ``key``."""
        with self._lock:
            if key not in self._shared:
                self._shared[key] = compute(self.texts)
            return self._shared[key]  # type: ignore[no-any-return]

    def normalized(self, spec: NormalizationSpec) -> list[str]:
        """The texts normalised by ``spec``, computed once per batch and spec."""
        if spec == RAW:
            return self.texts
        return self.shared(("normalized", spec), lambda texts: [normalize(text, spec) for text in texts])

    def annotate(self, member: str, key: str, values: np.ndarray) -> None:
        """Attach per-text facts a member wants reported next to its ``p_human``."""
        self.annotations[(member, key)] = values


class Member(ABC):
    """An ensemble member: a name, a decision threshold, how it runs, and ``predict_proba``."""

    #: Display name used in results and the manifest (``"DRF"``, ``"BERT"``…).
    name: str
    #: ``p_human`` at or above which this member votes HUMAN.
    threshold: float

    @property
    @abstractmethod
    def description(self) -> str:
        """How the member runs on this machine (``in-process MOJO``, ``onnx int8``…), for logs and /ready."""

    @abstractmethod
    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        """Return ``p_human`` for every text of ``batch`` as a float64 array of ``len(batch)``."""

    def scoring(self, batch: TextBatch) -> Steps[np.ndarray]:
        """:meth:`predict_proba` in steps, so that a long batch can be interleaved with short ones and
        stopped part-way. One step by default; members whose cost grows with text length override it."""
        yield from ()
        return self.predict_proba(batch)

    def cost(self, batch: TextBatch) -> np.ndarray:
        """Per text, the token positions this member would run (windows x their tokens): what bounds a
        request's work. 0 by default, for members whose cost is small and linear in characters."""
        return np.zeros(len(batch), dtype=np.int64)

    def cost_bound(self, batch: TextBatch) -> np.ndarray:
        """Per text, an upper bound of :meth:`cost` that needs no tokenising, so that most requests are
        known to be within budget for free."""
        return self.cost(batch)


class BundleContext:
    """What member loaders get from a bundle: its folder, manifest, the serving settings, and resources
    several members share (e.g. the TF-IDF vectorizer), loaded at most once and only when asked for."""

    def __init__(self, root: Path, manifest: Manifest, transformers: TransformerSettings | None = None) -> None:
        self.root = root
        self.manifest = manifest
        self.transformers = transformers or TransformerSettings()
        self._resources: dict[str, Any] = {}
        self._lock = threading.Lock()

    def resource(self, key: str, load: Callable[[], Shared]) -> Shared:
        """``load()``, run once per bundle for ``key``; later calls return the same object."""
        with self._lock:
            if key not in self._resources:
                self._resources[key] = load()
            return self._resources[key]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class MemberGroup:
    """Members that run one after another in one task (they share work), after an optional ``prepare``
    step timed on its own (e.g. the TF-IDF matrix of the H2O trio). Groups run concurrently."""

    members: list[Member]
    #: (timing name, work done once per batch before the members run), or None.
    prepare: tuple[str, Callable[[TextBatch], object]] | None = None


@dataclass(frozen=True)
class TrainingJob:
    """What a family needs to train its chosen members into the staging folder of a bundle."""

    #: The member names of this family that were asked for (in the family's order).
    members: tuple[str, ...]
    split: Split
    staging: Path
    settings: TrainSettings


@dataclass(frozen=True)
class FamilyBuild:
    """What a family's training returns; the pipeline assembles the manifest from these, once."""

    entries: list[MemberEntry]
    #: Bundle files several of its members read (sha256 by bundle-relative path).
    shared_files: dict[str, str] = field(default_factory=dict)
    #: Recorded under the manifest's ``preprocessing`` (e.g. the TF-IDF parameters).
    preprocessing: dict[str, Any] = field(default_factory=dict)
    #: Recorded under the manifest's ``training`` (the family's settings).
    training: dict[str, Any] = field(default_factory=dict)


class Family(Protocol):
    """A family of members: how they are trained, loaded, grouped, and which files they own.

    Implementations keep heavy imports (H2O, PyTorch…) inside their methods, so the registry stays cheap
    to import (``humanorai --help`` reads member names from it)."""

    #: The ``kind`` the manifest records for this family's members.
    kind: str
    #: The members it can train, in order (``train --members`` takes them in any case).
    members: tuple[str, ...]
    #: Whether its members run multi-threaded inference, so concurrent members share the cores.
    threaded: bool

    def describe(self) -> str:
        """One line on what the family is, for the CLI's help and the docs."""

    def train(self, job: TrainingJob) -> FamilyBuild:
        """Train ``job.members`` on ``job.split.train`` (validation for early stopping), writing their
        files under ``job.staging``."""

    def session(self, settings: TrainSettings) -> AbstractContextManager[TrainSettings]:
        """Resources that several trainings in a row can share (e.g. one H2O cluster for every fold of a
        cross evaluation); yields the settings that use them."""

    def load(self, context: BundleContext, entry: MemberEntry) -> Member:
        """Build the member that ``entry`` of a verified bundle describes."""

    def shared_files(self, manifest: Manifest) -> dict[str, str]:
        """The manifest's shared files this family's members read (verified once, before they load)."""

    def groups(self, members: list[Member], context: BundleContext) -> list[MemberGroup]:
        """How its loaded members run: which share a task, and any work done once per batch."""
