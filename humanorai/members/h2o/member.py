"""H2O DRF, GBM and GLM scored in-process from their MOJOs.

H2O's own ``hex.genmodel`` scorer runs inside this process through JPype, with the ``h2o-genmodel.jar``
that the bundle ships: no H2O cluster and no H2OFrame at prediction time. The TF-IDF matrix is computed
once per batch (the family's group ``prepare`` step, :func:`tfidf_matrix`) and read by all three members.

Pitfalls handled here, each covered by the parity test against H2O's own ``predict``:
- Absent terms are passed as 0.0, never NaN: for trees a missing value takes the NA branch and GLM imputes
  the column mean, both unlike a zero TF-IDF weight.
- Columns are mapped by name from ``getNames()[:nfeatures()]``; H2O drops constant columns at training
  time, so a MOJO may read fewer columns than the TF-IDF has.
- The HUMAN class index comes from the response domain, which may read ``"1"`` or ``"1.0"``.
- The JVM starts lazily, on the first load, so a server that forks workers starts it after the fork.
"""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

import jpype
import numpy as np
import scipy.sparse as sp

from humanorai.errors import MojoError
from humanorai.java_runtime import java_runtime
from humanorai.labels import HUMAN
from humanorai.members.base import Member, TextBatch
from humanorai.members.h2o.features import FeatureSet

logger = logging.getLogger(__name__)

TFIDF_SHARED_KEY = "tfidf"
_WARMUP_ROWS = 200
_jvm_lock = threading.Lock()
#: Per Python thread: attached to the JVM as a daemon already (checked once per thread, not per batch).
_daemon_threads = threading.local()


def ensure_jvm(genmodel_jar: Path) -> None:
    """Start the JVM with ``genmodel_jar`` on the class path, once per process; the calling thread is then
    attached as a daemon (see :func:`attach_as_daemon`)."""
    with _jvm_lock:
        if not jpype.isJVMStarted():
            _start_jvm(genmodel_jar)
    attach_as_daemon()


def _start_jvm(genmodel_jar: Path) -> None:
    if not genmodel_jar.is_file():
        raise MojoError(f"{genmodel_jar}: h2o-genmodel.jar not found")
    runtime = java_runtime()
    try:
        # -Xrs: the JVM leaves SIGTERM/SIGINT to Python, so a server drains its requests on a signal
        # instead of the JVM's handlers ending the process (and crashing inside native code).
        jpype.startJVM(str(runtime.libjvm), "-Xmx1g", "-Xss4m", "-Xrs", *runtime.jvm_options(),
                       classpath=[str(genmodel_jar)], convertStrings=True)
    except OSError as error:
        raise MojoError(f"cannot start the Java VM of {runtime.describe()} at {runtime.home}: {error}") from error
    _unhook_python_gc()
    logger.debug("JVM of %s started with %s", runtime.describe(), genmodel_jar)


def _unhook_python_gc() -> None:
    """Remove the callback JPype adds to every Python garbage collection (it weighs memory and may start a
    Java GC). Our Java objects are freed with their Python references and the JVM collects its own heap.
    The callback made scoring about 20 % slower on the tiny test bundle (docs/benchmarks.md), and on JPype
    1.7 a collection in one thread can corrupt an exception in flight in another (JPype #1447, fixed in
    1.8, which the package index here does not carry yet)."""
    import _jpype

    gc.callbacks[:] = [callback for callback in gc.callbacks if callback is not _jpype._collect]


def attach_as_daemon() -> None:
    """Attach the calling thread to the JVM as a daemon. Otherwise JPype attaches a thread that calls Java
    (or starts the JVM) as a non-daemon thread, which the JVM waits for at exit even after the Python thread
    has ended: a server whose models loaded or scored in other threads would never finish exiting."""
    if getattr(_daemon_threads, "attached", False):
        return
    thread = jpype.JClass("java.lang.Thread")
    if thread.isAttached() and not thread.currentThread().isDaemon():
        thread.detach()
    if not thread.isAttached():
        thread.attachAsDaemon()
    _daemon_threads.attached = True


def tfidf_matrix(batch: TextBatch, features: FeatureSet) -> sp.csr_matrix:
    """The batch's TF-IDF matrix, computed once and shared by every MOJO member."""
    return batch.shared(TFIDF_SHARED_KEY, features.transform)


class MojoMember(Member):
    """One H2O model (DRF, GBM or GLM) scored from its MOJO zip."""

    def __init__(self, name: str, mojo_path: Path, genmodel_jar: Path, features: FeatureSet,
                 threshold: float = 0.5) -> None:
        self.name = name
        self.threshold = threshold
        self._features = features
        ensure_jvm(genmodel_jar)
        mojo_model = jpype.JClass("hex.genmodel.MojoModel")
        try:
            self._model = mojo_model.load(str(mojo_path))
        except jpype.JException as error:
            raise MojoError(f"{mojo_path.name}: not a loadable MOJO ({error.message()})") from error
        self._columns = self._feature_columns(features)
        self._human_index = self._human_class_index()
        self._n_outputs = int(self._model.getNumResponseClasses()) + 1
        self._double_array = jpype.JArray(jpype.JDouble)
        self._warm_up()

    def _feature_columns(self, features: FeatureSet) -> np.ndarray:
        position = {name: index for index, name in enumerate(features.feature_names())}
        names = [str(name) for name in self._model.getNames()][: int(self._model.nfeatures())]
        unknown = [name for name in names if name not in position]
        if unknown:
            raise MojoError(f"{self.name}: MOJO reads columns the TF-IDF does not have: {unknown[:5]}")
        return np.array([position[name] for name in names], dtype=np.int64)

    def _human_class_index(self) -> int:
        domain = [str(value) for value in self._model.getDomainValues(self._model.getResponseIdx())]
        for index, value in enumerate(domain):
            try:
                if float(value) == HUMAN:
                    return index
            except ValueError:
                continue
        raise MojoError(f"{self.name}: response domain {domain} has no HUMAN class (1)")

    def _warm_up(self) -> None:
        """Let the JIT compile the scoring path now rather than on the first request."""
        zeros = np.zeros((_WARMUP_ROWS, len(self._columns)))
        self._score_dense(zeros)

    def _score_dense(self, rows: np.ndarray) -> np.ndarray:
        attach_as_daemon()
        p_human = np.empty(len(rows), dtype=np.float64)
        predictions = self._double_array(self._n_outputs)
        for index, row in enumerate(rows):
            self._model.score0(self._double_array(row), predictions)
            p_human[index] = predictions[1 + self._human_index]
        return p_human

    @property
    def description(self) -> str:
        return f"in-process MOJO on {java_runtime().describe()}"

    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        matrix = tfidf_matrix(batch, self._features)
        return self._score_dense(matrix[:, self._columns].toarray())

