"""Hot kernels at ``EQ_MICRO_EVENTS`` events: dyads, reverse ties, depths, runs, ranks, Ckmeans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import engagequal as eq
from engagequal.kernels.dyads import aggregate_dyads, reverse_pairs
from engagequal.kernels.trees import root_and_depth


def test_aggregate_dyads(events: eq.Events, measure: Callable[..., Any]) -> None:
    e = events
    d = measure(aggregate_dyads, e.actor, e.target, e.weight, e.ts, e.n_users)
    assert len(d) > 0


def test_reverse_pairs(events: eq.Events, measure: Callable[..., Any]) -> None:
    e = events
    d = aggregate_dyads(e.actor, e.target, e.weight, e.ts, e.n_users)
    rev = measure(lambda: reverse_pairs(d.u, d.v, d.n_users).index())
    assert rev.size == len(d)


def test_root_and_depth_time_ordered(events: eq.Events, measure: Callable[..., Any]) -> None:
    assert events.tree is not None
    _, depth, stuck = measure(root_and_depth, events.tree.parent)
    assert not stuck.any() and depth.max() > 5


def test_root_and_depth_shuffled(shuffled_parent: np.ndarray,
                                 measure: Callable[..., Any]) -> None:
    _, depth, stuck = measure(root_and_depth, shuffled_parent)
    assert not stuck.any() and depth.max() > 5


def test_alternating_runs(events: eq.Events, measure: Callable[..., Any]) -> None:
    from engagequal.kernels.treestats import alternating_runs

    assert events.tree is not None
    runs = measure(alternating_runs, events.tree.parent, events.actor)
    assert runs is not None


def test_segment_ranks(events: eq.Events, measure: Callable[..., Any]) -> None:
    from engagequal.kernels.ranks import segment_ranks

    e = events
    d = aggregate_dyads(e.actor, e.target, e.weight, e.ts, e.n_users)
    ranks = measure(segment_ranks, d.u, d.w)
    assert ranks.min() == 1


def test_ckmeans_segments(events: eq.Events, measure: Callable[..., Any]) -> None:
    from engagequal.kernels.ckmeans import ckmeans_segments
    from engagequal.kernels.segments import segment_starts

    e = events
    d = aggregate_dyads(e.actor, e.target, e.weight, e.ts, e.n_users)
    order = np.lexsort((d.w, d.u))
    xs, us = d.w[order], d.u[order]
    starts = segment_starts(us)
    res = measure(lambda: ckmeans_segments(xs, starts, k_max=6, var_floor=1e-4))
    assert res.k.size == starts.size


def test_synth_population(measure: Callable[..., Any]) -> None:
    from benchmarks.micro.conftest import N_EVENTS
    from engagequal.synth import population

    table, _ = measure(lambda: population(max(2, N_EVENTS // 50), N_EVENTS, seed=1))
    assert table.num_rows == N_EVENTS
