"""An H2O cluster for training: started here and always shut down, or an existing one by URL.

``h2o.init()`` silently attaches to whatever cluster already listens on port 54321 and leaves the JVM it
starts running if Python dies. Here the JVM is our own child process: on a free port pair, bound to
127.0.0.1, shut down in a ``finally`` (errors and Ctrl-C included), and on Linux also killed by the
kernel if this process dies without running its ``finally`` (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from humanorai.errors import ClusterError
from humanorai.java_runtime import java_runtime
from humanorai.progress import note

os.environ.setdefault("DO_NOT_TRACK", "1")

import h2o  # noqa: E402  (DO_NOT_TRACK must be set before H2O is imported)
from h2o.exceptions import H2OConnectionError  # noqa: E402

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 120.0
#: Even ports p with p + 1 still below the ephemeral range.
PORT_RANGE = (20000, 32766)
START_ATTEMPTS = 3
#: What H2O's log says when a port it was given is taken.
PORT_TAKEN = "are not available"
#: What H2O's log says when a request's schema class was resolved wrongly and the JVM exits (code 255): on
#: Java 25, H2O 3.46 (certified for 8-17) dies so at its first session in about 3 starts of 10.
SCHEMA_RACE = "Failed to instantiate schema"
#: Start failures that another JVM, on other ports, need not meet.
RETRYABLE_STARTS = (PORT_TAKEN, SCHEMA_RACE)
_STOP_TIMEOUT_S = 15.0
#: How long a JVM whose connection was lost may take to be seen gone before it is reported as unresponsive.
_EXIT_WAIT_S = 5.0
#: How much of the JVM's log an error quotes.
_LOG_TAIL_CHARS = 2000
#: How long a probe of a starting JVM waits for any HTTP answer.
_PROBE_TIMEOUT_S = 1.0


def h2o_jar() -> Path:
    """The H2O server jar shipped inside the ``h2o`` Python package."""
    return Path(h2o.__file__).parent / "backend" / "bin" / "h2o.jar"


@contextlib.contextmanager
def h2o_cluster(url: str | None = None, nthreads: int = -1, max_mem: str = "4g") -> Iterator[str]:
    """Yield the URL of a connected H2O cluster; a cluster started here is gone when the block exits."""
    if url is not None:
        try:
            _connect(url)
        except Exception as error:  # h2o raises bare H2OConnectionError/requests errors
            raise ClusterError(f"cannot reach the H2O cluster at {url}: {error}") from error
        try:
            yield url
        finally:
            h2o.remove_all()
        return
    with tempfile.TemporaryDirectory(prefix="humanorai-h2o-") as ice_root:
        process, local_url = _start(nthreads, max_mem, Path(ice_root))
        try:
            yield local_url
        except H2OConnectionError as error:
            raise ClusterError(_lost(process, Path(ice_root) / "h2o.log", error)) from error
        finally:
            _stop(process)


def _start(nthreads: int, max_mem: str, ice_root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Launch the JVM on a free port pair and wait until it has opened a session; a start that failed for
    a reason another JVM need not meet (a port taken between the probe and the JVM's bind, H2O's schema race
    at its first session) is retried with a new JVM on other ports."""
    log_path = ice_root / "h2o.log"
    for attempt in range(1, START_ATTEMPTS + 1):
        port = _free_port_pair()
        process = _launch(port, nthreads, max_mem, ice_root)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(process, url, log_path)
            note(f"H2O runs on {java_runtime().describe()}")
            return process, url
        except ClusterError:
            _stop(process)
            reason = _retryable_reason(log_path)
            if attempt == START_ATTEMPTS or reason is None:
                raise
            logger.info("H2O on ports %d-%d failed to start (%s); starting another", port, port + 1, reason)
    raise AssertionError("unreachable")


def _retryable_reason(log_path: Path) -> str | None:
    """Which of the retryable start failures the whole log shows (the error quotes only its end), if any."""
    log = log_path.read_text(errors="replace") if log_path.is_file() else ""
    return next((reason for reason in RETRYABLE_STARTS if reason in log), None)


def _connect(url: str) -> None:
    """Connect quietly (h2o prints an "is old" notice to stdout on every connect, which is no news here),
    unless already connected to ``url``: a second connection would replace the first without closing it,
    and h2o's exit hook would then try to close the first against a cluster already stopped (a traceback
    at exit after an interrupted training)."""
    current = h2o.connection()
    if current is not None and current.connected and current.base_url.rstrip("/") == url.rstrip("/"):
        return
    with contextlib.redirect_stdout(io.StringIO()):
        h2o.connect(url=url, verbose=False)


def _free_port_pair() -> int:
    """A port p such that p and p + 1 (H2O's internal port) are both free on 127.0.0.1, drawn below Linux's
    ephemeral range (32768-60999), where outgoing connections take their ports."""
    for _ in range(100):
        port = random.randrange(*PORT_RANGE, 2)
        if _port_free(port) and _port_free(port + 1):
            return port
    raise ClusterError(f"no free port pair found between {PORT_RANGE[0]} and {PORT_RANGE[1]}")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _launch(port: int, nthreads: int, max_mem: str, ice_root: Path) -> subprocess.Popen[bytes]:
    runtime = java_runtime()
    command = [
        str(runtime.java), *runtime.jvm_options(), f"-Xmx{max_mem}", "-jar", str(h2o_jar()),
        "-name", f"humanorai-{os.getpid()}-{port}", "-ip", "127.0.0.1", "-port", str(port),
        "-nthreads", str(nthreads), "-ice_root", str(ice_root), "-log_dir", str(ice_root),
        "-allow_unsupported_java",
    ]
    log = (ice_root / "h2o.log").open("wb")
    logger.debug("starting H2O on %s: %s", runtime.describe(), " ".join(command))
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM the JVM when the Python process that started it dies."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClusterError(f"the H2O JVM exited with code {process.returncode} while starting:\n"
                               f"{_log_tail(log_path)}")
        if not _answers(url):
            time.sleep(0.5)
            continue
        try:
            _connect(url)
            _ = h2o.connection().session_id  # the first POST /4/sessions: where the schema race kills a JVM
            return
        except Exception as error:  # answering, not ready yet (or dying: the next poll sees it)
            last_error = error
            time.sleep(0.5)
    raise ClusterError(f"H2O did not come up at {url} within {_START_TIMEOUT_S:.0f} s ({last_error})")


def _lost(process: subprocess.Popen[bytes], log_path: Path, error: Exception) -> str:
    """What to tell when our JVM stopped answering mid-work: whether it is gone, and the end of its log (the
    only trace of why: the log goes with the cluster's temporary folder)."""
    try:  # a JVM killed a moment ago may not have exited yet: the lost connection is often the first sign
        code: int | None = process.wait(timeout=_EXIT_WAIT_S)
    except subprocess.TimeoutExpired:
        code = None
    state = "stopped answering" if code is None else f"exited with code {code}"
    return f"the H2O JVM {state} while training ({error}); its log ends:\n{_log_tail(log_path)}"


def _log_tail(log_path: Path) -> str:
    """The end of the JVM's log: what an error about it quotes."""
    return log_path.read_text(errors="replace")[-_LOG_TAIL_CHARS:] if log_path.is_file() else "(no log)"


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` within a second. ``h2o.connect`` waits 15 s (five tries of
    3 s) on a port that accepts connections and never answers: another program's, taken before our JVM
    could bind it, while our JVM gives up on it in 3."""
    try:
        with urllib.request.urlopen(f"{url}/3/Cloud", timeout=_PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError:  # an answer, if not a welcome one
        return True
    except OSError:  # refused, reset or silent
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the JVM, escalating to SIGKILL, and wait for it so no process is left behind."""
    with contextlib.suppress(Exception):
        h2o.connection().close()
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    logger.debug("H2O JVM %s stopped", process.pid)
