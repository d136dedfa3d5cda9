"""Usable CPUs: affinity (a real restricted child process) and cgroup quotas (v1 and v2 files laid out as
the kernel does)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from humanorai.cpus import cgroup_cpu_limit, usable_cpus


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and at least two CPUs")
def test_a_process_pinned_to_one_cpu_uses_one() -> None:
    one = min(os.sched_getaffinity(0))
    code = (f"import os; os.sched_setaffinity(0, {{{one}}}); from humanorai.cpus import usable_cpus; "
            "print(usable_cpus())")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "1\n"
    assert usable_cpus() <= len(os.sched_getaffinity(0))


def write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


def test_a_v2_quota_binds_and_the_tightest_on_the_path_wins(tmp_path: Path) -> None:
    membership = tmp_path / "cgroup"
    write(membership, "0::/pod/worker\n")
    write(tmp_path / "fs" / "pod" / "worker" / "cpu.max", "max 100000\n")
    assert cgroup_cpu_limit(membership, tmp_path / "fs") is None
    write(tmp_path / "fs" / "pod" / "cpu.max", "150000 100000\n")  # the parent's 1.5 CPUs bind the child
    assert cgroup_cpu_limit(membership, tmp_path / "fs") == 1.5
    write(tmp_path / "fs" / "pod" / "worker" / "cpu.max", "50000 100000\n")
    assert cgroup_cpu_limit(membership, tmp_path / "fs") == 0.5


def test_a_v1_quota_is_read_from_the_cpu_controller(tmp_path: Path) -> None:
    membership = tmp_path / "cgroup"
    write(membership, "4:memory:/box\n2:cpu,cpuacct:/box\n1:name=systemd:/\n")
    folder = tmp_path / "fs" / "cpu,cpuacct" / "box"
    write(folder / "cpu.cfs_quota_us", "-1\n")
    write(folder / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_limit(membership, tmp_path / "fs") is None
    write(folder / "cpu.cfs_quota_us", "300000\n")
    assert cgroup_cpu_limit(membership, tmp_path / "fs") == 3.0


def test_no_cgroup_file_means_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path / "absent", tmp_path) is None
