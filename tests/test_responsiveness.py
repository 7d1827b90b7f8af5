"""Responsiveness: hand-worked cases and a naive reference on generated streams."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engagequal as eq
from engagequal.errors import OptionError
from engagequal.metrics._ties import tie_options
from engagequal.testing import assert_tables_equal
from engagequal.testing.reference import reference_responsiveness, rows_of
from engagequal.testing.strategies import event_tables

H = 3600


def test_hand_worked() -> None:
    # a -> b at 0, b answers after 1 h; a -> b at 10 h, b answers after 30 h (too late for 1D);
    # b -> a at 11 h (answers nothing of a's before? no: answers the 10 h message after 1 h)
    ev = {"actor": ["a", "b", "a", "b", "c"], "target": ["b", "a", "b", "a", "a"],
          "ts": [0, 1 * H, 10 * H, 11 * H, 12 * H],
          "kind": ["message", "reply", "message", "reply", "like"]}
    t = {r["user"]: r for r in eq.responsiveness(ev, delta="1D").to_pylist()}
    assert t["b"]["received"] == 2 and t["b"]["answered"] == 2
    assert t["b"]["response_rate"] == 1.0 and t["b"]["median_response_s"] == 3600.0
    # a received b's two replies and never answered within the day
    assert t["a"]["received"] == 2 and t["a"]["answered"] == 1  # 1 h reply -> a's 10 h message
    assert t["a"]["median_response_s"] == 9 * 3600.0
    # c only liked: not message-like, so nothing sent or received; rates undefined
    assert t["c"]["sent"] == 0 and t["c"]["answered_share"] is None
    assert t["c"]["response_rate"] is None and t["c"]["median_response_s"] is None


def test_delta_bounds_and_strictly_later() -> None:
    ev = {"actor": [1, 2, 1, 2], "target": [2, 1, 2, 1], "ts": [0, 100, 1000, 1000],
          "kind": ["message"] * 4}
    e = eq.responsiveness(ev, delta=100, level="event").to_pylist()
    by = {(r["actor"], r["ts"]): r for r in e}
    assert by[(1, 0)]["answered"] and by[(1, 0)]["response_s"] == 100.0  # exactly delta counts
    assert not by[(1, 1000)]["answered"]  # an answer at the same instant is not later
    assert by[(1, 1000)]["response_s"] is None
    assert not eq.responsiveness(ev, delta=99, level="event").column("answered")[0].as_py()


@pytest.mark.parametrize("delta", ["7D", 7 * 86400, dt.timedelta(days=7), "1W", "168h"])
def test_delta_forms(delta: object) -> None:
    ev = {"actor": [1, 2], "target": [2, 1], "ts": [0, 6 * 86400], "kind": ["message"] * 2}
    assert eq.responsiveness(ev, delta=delta).column("answered").to_pylist() == [0, 1]


def test_bad_options() -> None:
    ev = {"actor": [1], "target": [2], "ts": [0]}
    with pytest.raises(OptionError):
        eq.responsiveness(ev, delta="-1D")
    with pytest.raises(OptionError):
        eq.responsiveness(ev, delta="7 parsecs")
    with pytest.raises(OptionError, match="level"):
        eq.responsiveness(ev, level="dyad")


MESSAGE_KINDS = {"comment", "reply", "message", "call", "meeting"}


@given(event_tables(max_users=5, max_events=40), st.sampled_from([60, 3600, 86400 * 30, 10**8]))
def test_matches_naive_reference(table: pa.Table, delta_s: int) -> None:
    ev = eq.read_events(table)
    got = eq.responsiveness(ev, delta=delta_s)
    ref = reference_responsiveness(rows_of(table, ev.kind_weights), delta_ns=delta_s * 10**9,
                                   message_kinds=MESSAGE_KINDS)
    exp = pa.Table.from_pylist([{"user": u, **v} for u, v in ref.items()], schema=got.schema)
    assert_tables_equal(got, exp, key=["user"], rtol=1e-12)


@given(event_tables(max_users=5, max_events=40), st.integers(0, 30_000_000),
       st.integers(1, 30_000_000))
def test_window_matches_naive_reference(table: pa.Table, start: int, length: int) -> None:
    ev = eq.read_events(table)
    t0, t1 = 1_500_000_000 + start, 1_500_000_000 + start + length
    got = eq.responsiveness(ev, delta="30D", window=(t0, t1))
    opts = tie_options(ev, window=(t0, t1))
    ref = reference_responsiveness(rows_of(table, ev.kind_weights), delta_ns=30 * 86400 * 10**9,
                                   message_kinds=MESSAGE_KINDS, window=(opts.t0, opts.t1))
    exp = pa.Table.from_pylist([{"user": u, **v} for u, v in ref.items()], schema=got.schema)
    assert_tables_equal(got, exp, key=["user"], rtol=1e-12)


@given(st.integers(1, 6).flatmap(lambda nu: st.lists(
    st.tuples(st.integers(0, nu - 1), st.integers(0, nu - 1), st.integers(0, 12)),
    max_size=60).map(lambda ev: (nu, ev))))
def test_answer_times_kernel_matches_loop(case: tuple[int, list[tuple[int, int, int]]]) -> None:
    import numpy as np

    from engagequal.metrics.responsiveness import answer_times

    nu, ev = case
    a = np.array([e[0] for e in ev], np.int32)
    b = np.array([e[1] for e in ev], np.int32)
    t = np.array([e[2] for e in ev], np.int64)
    expected = []
    for x, y, tt in ev:
        later = [s - tt for (p, q, s) in ev if p == y and q == x and s > tt and x != y]
        expected.append(min(later) if later else -1)
    assert answer_times(a, b, t, nu).tolist() == expected


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(-5, 5)), max_size=60),
       st.sampled_from([1, 3, 10**9, 2**40]), st.integers(-(2**40), 2**40))
def test_sort_within_segments_equals_lexsort(rows, scale, shift) -> None:
    """Packed-key sort (values shifted, divided by their gcd) or its lexsort fallback."""
    from engagequal.kernels.segments import sort_within_segments

    seg = np.array([s for s, _ in rows], dtype=np.int32)
    val = np.array([v * scale + shift for _, v in rows], dtype=np.int64)
    s, v = sort_within_segments(seg, val)
    o = np.lexsort((val, seg))
    assert s.tolist() == seg[o].tolist() and v.tolist() == val[o].tolist()
