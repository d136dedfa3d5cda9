"""The local H2O cluster for training: ports below the ephemeral range, a retry when a port is taken or the
JVM dies of H2O's schema race, a clear error when the JVM dies."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from humanorai.errors import ClusterError
from humanorai.java_runtime import java_runtime
from humanorai.members.h2o import cluster
from humanorai.members.h2o.cluster import PORT_RANGE, h2o, h2o_cluster
from tests.conftest import h2o_jvm_pids


def test_port_pairs_are_drawn_below_the_ephemeral_range() -> None:
    for _ in range(20):
        port = cluster._free_port_pair()
        assert PORT_RANGE[0] <= port and port + 1 < 32768 and port % 2 == 0


@pytest.mark.slow
def test_a_port_taken_before_the_jvm_binds_it_is_retried_on_others(monkeypatch: pytest.MonkeyPatch) -> None:
    free = cluster._free_port_pair
    taken_port = free()

    def pairs() -> Iterator[int]:
        yield taken_port  # free when probed, taken by the time the JVM binds it
        while True:
            yield free()

    offered = pairs()
    monkeypatch.setattr(cluster, "_free_port_pair", lambda: next(offered))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken_port))
        squatter.listen()
        with h2o_cluster() as url:
            assert not url.endswith(f":{taken_port}") and h2o.cluster().is_running()


@pytest.mark.slow
def test_a_jvm_that_dies_of_the_schema_race_is_replaced_and_the_session_opens_while_starting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = java_runtime()
    starts = tmp_path / "starts"
    java = tmp_path / "java"  # its first start dies as H2O on Java 25 does at its first session; then the real one
    java.write_text(f"""#!/bin/sh
echo start >> {starts}
if [ "$(wc -l < {starts})" -eq 1 ]; then
  echo "FATAL water.default: {cluster.SCHEMA_RACE} of class: water.api.Schema"; exit 255
fi
exec {real.java} "$@"
""")
    java.chmod(0o755)
    monkeypatch.setattr(cluster, "java_runtime", lambda: replace(real, java=java))
    with h2o_cluster():
        assert h2o.connection()._session_id is not None  # opened before any work, where a retry is still free
        assert h2o.H2OFrame([[1.0, 2.0]]).shape == (1, 2)
    assert starts.read_text().count("start") == 2


def test_a_jvm_that_dies_of_another_cause_while_starting_is_not_retried(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    starts = tmp_path / "starts"
    java = tmp_path / "java"
    java.write_text(f"#!/bin/sh\necho start >> {starts}\necho 'Error: Invalid maximum heap size'; exit 1\n")
    java.chmod(0o755)
    monkeypatch.setattr(cluster, "java_runtime", lambda: replace(java_runtime(), java=java))
    refused = r"(?s)exited with code 1 while starting.*Invalid maximum heap size"
    with pytest.raises(ClusterError, match=refused), h2o_cluster():
        pass
    assert starts.read_text().count("start") == 1


@pytest.mark.slow
def test_a_jvm_that_dies_mid_training_is_a_cluster_error_with_its_log() -> None:
    before = h2o_jvm_pids()
    lost = r"(?s)the H2O JVM exited with code -9 while training .*log ends:.*H2O"
    with pytest.raises(ClusterError, match=lost), h2o_cluster():
        (ours,) = h2o_jvm_pids() - before
        os.kill(ours, signal.SIGKILL)
        h2o.H2OFrame([[1.0, 2.0]])
    assert h2o_jvm_pids() == before
