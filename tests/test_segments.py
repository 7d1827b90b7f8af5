"""Segment helpers: blocks of whole segments, orders, running counts, scatter reductions."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engagequal.kernels.segments import (
    bincount,
    running_count,
    scatter_reduce,
    segment_blocks,
    stable_order,
)


@given(st.lists(st.integers(1, 20), min_size=0, max_size=60), st.integers(1, 50))
def test_segment_blocks_cover_every_segment_once(lengths: list[int], size: int) -> None:
    starts = np.concatenate([[0], np.cumsum(lengths[:-1])]).astype(np.int64) if lengths \
        else np.zeros(0, np.int64)
    n = int(sum(lengths))
    blocks = segment_blocks(starts, n, size)
    if not lengths:
        assert blocks == []
        return
    assert [a for a, _ in blocks] == [0, *[b for _, b in blocks[:-1]]]
    assert blocks[-1][1] == len(lengths)
    ends = [*starts.tolist(), n]
    for a, b in blocks:
        assert a < b
        held = ends[b] - ends[a]
        # a block stops before the first segment start at or past the next multiple of size
        assert held <= size + lengths[b - 1] - 1


@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0.0, -0.0, 1.0, 2.5, 7.0, 1e300])),
                max_size=80), st.booleans())
def test_segment_order_is_a_stable_lexsort(rows: list[tuple[int, float]],
                                           descending: bool) -> None:
    from engagequal.kernels.ranks import segment_order

    rows = sorted(rows, key=lambda r: r[0])  # segments contiguous, values in any order
    seg = np.array([r[0] for r in rows], dtype=np.int32)
    val = np.array([r[1] for r in rows], dtype=np.float64)
    want = np.lexsort((-val if descending else val, seg))
    assert segment_order(seg, val, descending=descending).tolist() == want.tolist()


_I64 = st.integers(-(2**63), 2**63 - 1)


@given(st.lists(st.one_of(st.integers(-5, 5), _I64), max_size=60),
       st.sampled_from([1, 10**9, 3]), st.sampled_from([0, 2**40, -(2**61)]))
def test_stable_order_is_the_stable_argsort(raw: list[int], scale: int, shift: int) -> None:
    # small values, values with a common divisor (times in seconds as nanoseconds),
    # and spans too wide to pack (the argsort fallback)
    vals = [v * scale + shift if abs(v) <= 5 else v for v in raw]
    x = np.array(vals, dtype=np.int64)
    assert stable_order(x).tolist() == np.argsort(x, kind="stable").tolist()
    assert stable_order(x[:0]).tolist() == []
    f = x.astype(np.float64)  # floats: the stable argsort itself
    assert stable_order(f).tolist() == np.argsort(f, kind="stable").tolist()
    big = np.array([2**64 - 1, 2**63, 2**64 - 1], dtype=np.uint64)  # above int64
    assert stable_order(big).tolist() == [1, 0, 2]


@given(st.lists(st.integers(0, 9), max_size=50), st.lists(st.integers(-3, 40), max_size=50))
def test_scatter_reduce_equals_ufunc_at(idx: list[int], vals: list[int]) -> None:
    k = min(len(idx), len(vals))
    i, v = np.array(idx[:k], dtype=np.int64), np.array(vals[:k], dtype=np.int32)
    for uf in (np.maximum, np.minimum, np.add):
        got, want = np.zeros(10, dtype=np.int64), np.zeros(10, dtype=np.int64)
        scatter_reduce(uf, got, i, v)
        uf.at(want, i, v.astype(np.int64))
        assert got.tolist() == want.tolist()


@given(st.lists(st.booleans(), max_size=80))
def test_running_count_is_the_cumsum(mask: list[bool]) -> None:
    m = np.array(mask, dtype=bool)
    for dt in (np.int32, np.int64):
        assert running_count(m, dt).tolist() == np.cumsum(m).tolist()
        assert running_count(m, dt).dtype == dt


def test_bincount_blocks_and_many_bins_equal_numpy() -> None:
    rng = np.random.default_rng(3)
    for bins in (7, 3_000_000):  # a partial count per block, and one call for many bins
        x = rng.integers(0, bins, 2_500_000).astype(np.int32)
        w = rng.integers(0, 5, x.size).astype(np.int32)
        assert np.array_equal(bincount(x, minlength=bins), np.bincount(x, minlength=bins))
        assert np.array_equal(bincount(x, weights=w), np.bincount(x, weights=w))
