"""Micro-benchmarks of the hot kernels (pytest-benchmark), with peak memory.

Run with ``python -m pytest benchmarks/micro --benchmark-only`` (the default
test run does not collect this folder).  Size: ``EQ_MICRO_EVENTS`` (default 1M).
Each benchmark also records the peak traced memory of one call in
``extra_info`` (``peak_bytes``, ``bytes_per_event``): numpy reports its
allocations to tracemalloc, so for these pure-numpy kernels the figure is exact.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import engagequal as eq
from engagequal.synth import parse_count, population

N_EVENTS = parse_count(os.environ.get("EQ_MICRO_EVENTS", "1M"))
_PEAKS: dict[str, int] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Peak memory beside the timing table."""
    if not _PEAKS:
        return
    terminalreporter.write_sep("-", f"peak traced memory of one call ({N_EVENTS:,} events)")
    for name, peak in sorted(_PEAKS.items(), key=lambda kv: kv[1]):
        terminalreporter.write_line(f"{name:<40} {peak / 2**20:10.1f} MiB "
                                    f"{peak / N_EVENTS:8.1f} B/event")


@pytest.fixture(scope="session")
def events() -> eq.Events:
    table, _ = population(max(2, N_EVENTS // 50), N_EVENTS, seed=0)
    return eq.read_events(table, event_id="event_id", parent="parent", thread="thread")


@pytest.fixture(scope="session")
def shuffled_parent(events: eq.Events) -> np.ndarray:
    """The reply forest with its nodes in random order (same shape)."""
    assert events.tree is not None
    parent = events.tree.parent
    n = parent.size
    perm = np.random.default_rng(0).permutation(n)  # new position of each node
    out = np.full(n, -1, np.int64)
    has = parent >= 0
    out[perm[has]] = perm[parent[has]]
    return out


@pytest.fixture
def measure(benchmark: Any, request: Any) -> Callable[..., Any]:
    """Benchmark ``fn(*args)`` and record the peak traced memory of one call."""

    def run(fn: Callable[..., Any], *args: Any) -> Any:
        tracemalloc.start()
        fn(*args)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        benchmark.extra_info["peak_bytes"] = peak
        benchmark.extra_info["bytes_per_event"] = peak / N_EVENTS
        benchmark.extra_info["events"] = N_EVENTS
        _PEAKS[request.node.name] = peak
        return benchmark(fn, *args)

    return run
