"""Segment helpers: blocks of whole segments."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engagequal.kernels.segments import segment_blocks


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
