"""The local H2O cluster for training: ports below the ephemeral range, a retry when a port is taken, a clear
error when the JVM dies."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator

import pytest

from humanorai.errors import ClusterError
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
def test_a_jvm_that_dies_mid_training_is_a_cluster_error_with_its_log() -> None:
    before = h2o_jvm_pids()
    lost = r"(?s)the H2O JVM exited with code -9 while training .*log ends:.*H2O"
    with pytest.raises(ClusterError, match=lost), h2o_cluster():
        (ours,) = h2o_jvm_pids() - before
        os.kill(ours, signal.SIGKILL)
        h2o.H2OFrame([[1.0, 2.0]])
    assert h2o_jvm_pids() == before
