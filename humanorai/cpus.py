"""How many CPUs this process may really use, for sizing thread pools.

``os.cpu_count()`` counts the machine's CPUs. Under ``taskset`` or a container's CPU quota the process
gets fewer, and a pool sized by the machine oversubscribes them: on a 16-core host pinned to 2 cores,
each of two transformers would run 8 threads on 2 cores. The answer here is the smallest of the CPU
affinity and the cgroup CPU quota (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``, along the process's cgroup
path up to the root), rounded up, and at least 1.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus() -> int:
    """The CPUs this process may use: affinity and cgroup quota, whichever is smaller."""
    quota = cgroup_cpu_limit(Path("/proc/self/cgroup"), CGROUP_ROOT)
    allowed = _affinity_count()
    return max(1, min(allowed, math.ceil(quota)) if quota is not None else allowed)


def _affinity_count() -> int:
    if hasattr(os, "process_cpu_count"):  # Python 3.13+: affinity-aware
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cgroup_cpu_limit(membership: Path, root: Path) -> float | None:
    """The tightest CPU quota (in CPUs) on the process's cgroup path, or None where there is none.

    ``membership`` is a ``/proc/<pid>/cgroup`` file; ``root`` the cgroup mount. v2 lists ``0::/path``
    and states ``cpu.max`` as ``QUOTA PERIOD`` (or ``max``); v1 has a ``cpu`` controller line and
    ``cpu.cfs_quota_us`` (-1: none) with ``cpu.cfs_period_us``.
    """
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    limits: list[float] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            limits += _along(root, path, _v2_limit)
        elif "cpu" in controllers.split(","):  # mounted as cpu,cpuacct/ and usually linked as cpu/ too
            for mount in {root / "cpu", root / controllers}:
                limits += _along(mount, path, _v1_limit)
    return min(limits) if limits else None


def _along(mount: Path, path: str, read_limit: Callable[[Path], float | None]) -> list[float]:
    """Each limit from the process's cgroup folder up to the mount (a parent's quota binds its children)."""
    folder = mount / path.lstrip("/")
    limits = []
    while True:
        limit = read_limit(folder)
        if limit is not None:
            limits.append(limit)
        if folder == mount or mount not in folder.parents:
            return limits
        folder = folder.parent


def _v2_limit(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _v1_limit(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period
