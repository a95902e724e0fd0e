"""Peak resident memory of a process and of a process tree, from /proc."""

from __future__ import annotations

from pathlib import Path

from bench.common import peak_rss_mb


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(child) for child in task.read_text().split())
        except OSError:
            continue
    return found


def tree_peak_rss_mb(pid: int) -> float:
    """The sum of each process's own peak (VmHWM): an upper bound of the tree's peak."""
    return peak_rss_mb(pid) + sum(tree_peak_rss_mb(child) for child in children(pid))
