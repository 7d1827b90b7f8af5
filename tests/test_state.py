"""Mergeable partial state: streamed == in memory, merge laws, persistence."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engagequal as eq
from engagequal.errors import InputError, OptionError, SourceError
from engagequal.state import StreamState, merge_states

KINDS = ["like", "comment", "reply", "message", "share", "follow"]


def assert_tables_close(a: pa.Table, b: pa.Table, rel: float = 1e-9) -> None:
    """Same schema and rows; floats within ``rel`` (relative), nulls in the same places."""
    assert a.schema.names == b.schema.names
    assert a.num_rows == b.num_rows, (a.num_rows, b.num_rows)
    for name in a.column_names:
        x, y = a.column(name).combine_chunks(), b.column(name).combine_chunks()
        assert x.type == y.type, name
        if pa.types.is_floating(x.type):
            assert x.is_null().equals(y.is_null()), name
            xv = x.fill_null(0.0).to_numpy()
            yv = y.fill_null(0.0).to_numpy()
            np.testing.assert_allclose(xv, yv, rtol=rel, atol=0, err_msg=name)
        else:
            assert x.equals(y), (name, x, y)


@st.composite
def event_tables(draw: Any, min_size: int = 0, string_ids: bool | None = None) -> pa.Table:
    n = draw(st.integers(min_size, 60))
    n_users = draw(st.integers(1, 8))
    use_str = draw(st.booleans()) if string_ids is None else string_ids
    ids = st.integers(0, n_users - 1)
    actor = draw(st.lists(ids, min_size=n, max_size=n))
    target = draw(st.lists(ids, min_size=n, max_size=n))
    ts = draw(st.lists(st.integers(0, 40 * 86_400), min_size=n, max_size=n))
    kind = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n))
    if use_str:
        actor_a = pa.array([f"u{a}" for a in actor], pa.string())
        target_a = pa.array([f"u{t}" for t in target], pa.string())
    else:
        actor_a = pa.array(np.asarray(actor, dtype=np.int64) * 7 + 3)
        target_a = pa.array(np.asarray(target, dtype=np.int64) * 7 + 3)
    return pa.table({"actor": actor_a, "target": target_a,
                     "ts": pa.array(ts, pa.int64()), "kind": pa.array(kind, pa.string())})


def split(table: pa.Table, cuts: list[int]) -> list[pa.Table]:
    """Slice ``table`` at the (sorted, clipped) cut points."""
    pts = sorted({min(max(c, 0), table.num_rows) for c in cuts} | {0, table.num_rows})
    return [table.slice(a, b - a) for a, b in itertools.pairwise(pts)] or [table]


def streamed(parts: list[pa.Table], **options: Any) -> dict[str, pa.Table]:
    base = StreamState.empty(**options)
    return merge_states([base, *[base.partial(p) for p in parts]]).finalize()


def in_memory(table: pa.Table, **options: Any) -> dict[str, pa.Table]:
    ev = eq.read_events(table)
    tie = {k: v for k, v in options.items() if k in ("window", "half_life")}
    out = {f"reciprocity_{lv}": eq.reciprocity(ev, level=lv, **tie)
           for lv in ("global", "user", "dyad")}
    resp = {k: v for k, v in options.items() if k in ("window", "delta")}
    out["responsiveness_user"] = eq.responsiveness(ev, **resp)
    return out


def check_equal(got: dict[str, pa.Table], want: dict[str, pa.Table]) -> None:
    for name, table in want.items():
        assert_tables_close(got[name], table)


# ------------------------------------------------------------- hand-worked
def test_decay_rescales_to_the_latest_reference() -> None:
    # a -> b with weight 1 at t=0 and again at t=h: at T=h, 0.5 + 1 = 1.5 exactly
    h = 86_400
    one = {"actor": ["a"], "target": ["b"], "ts": [0], "kind": ["comment"]}
    two = {"actor": ["a"], "target": ["b"], "ts": [h], "kind": ["comment"]}
    base = StreamState.empty(half_life=h)
    s = base.partial(two).merge(base.partial(one))
    assert s.ref == h * 1_000_000_000
    assert s.dw.tolist() == [1.5]
    assert s.dn.tolist() == [2]
    assert (s.dfirst.tolist(), s.dlast.tolist()) == ([0], [h * 1_000_000_000])


def test_union_of_dictionaries_keeps_id_order() -> None:
    base = StreamState.empty()
    a = base.partial({"actor": [30, 10], "target": [10, 30], "ts": [0, 1]})
    b = base.partial({"actor": [20], "target": [10], "ts": [2]})
    m = a.merge(b)
    assert m.users.to_pylist() == [10, 20, 30]
    # dyads (u, v) in code order: 10->30, 20->10, 30->10
    assert list(zip(m.du.tolist(), m.dv.tolist())) == [(0, 2), (1, 0), (2, 0)]
    assert m.dn.tolist() == [1, 1, 1]


@given(st.lists(st.tuples(st.integers(0, 40), st.booleans(), st.floats(0, 5, width=32)),
                max_size=60))
def test_kind_counts_over_the_grid_equal_the_sorted_keys(
        rows: list[tuple[int, bool, float]]) -> None:
    from engagequal.state import _kind_counts

    keys = np.array([k for k, _, _ in rows], dtype=np.int64)
    sent = np.array([s for _, s, _ in rows], dtype=bool)
    w = np.array([x for _, _, x in rows], dtype=np.float64)
    args = (keys[sent], keys[~sent], w[sent], w[~sent])
    grid = _kind_counts(*args, 41)  # a grid of 41 keys: counted over it
    by_sort = _kind_counts(*args, 10**9)  # a grid too large: the sorted distinct keys
    want = np.unique(keys)
    for a, b in zip(grid, by_sort, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)  # exactly: the sums run in the same order
    np.testing.assert_array_equal(grid[0], want)
    np.testing.assert_array_equal(grid[1] + grid[2], [np.count_nonzero(keys == k) for k in want])


def test_igraph_fixture_split_in_three() -> None:
    ev = pa.table({"actor": [1, 2, 2, 3, 4], "target": [2, 1, 3, 4, 4], "ts": [0, 1, 2, 3, 4]})
    g = streamed(split(ev, [1, 3]))["reciprocity_global"].to_pylist()[0]
    assert g["arc"] == 0.5
    assert g["pair_ratio"] == pytest.approx(1 / 3)
    assert g["rho"] == pytest.approx(0.25)
    assert g["self_interactions"] == 1


def test_responsiveness_answer_in_a_later_batch() -> None:
    first = {"actor": ["a"], "target": ["b"], "ts": [0], "kind": ["message"]}
    later = {"actor": ["b"], "target": ["a"], "ts": [60], "kind": ["message"]}
    t = streamed([pa.table(first), pa.table(later)], delta="1h")["responsiveness_user"]
    row = {r["user"]: r for r in t.to_pylist()}
    assert row["b"]["answered"] == 1
    assert row["b"]["median_response_s"] == 60.0
    assert row["a"]["sent_answered"] == 1


def test_lateness_resolves_and_bounds_pending() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    ts = np.sort(rng.integers(0, 200 * 86_400, n))
    t = pa.table({"actor": rng.integers(0, 20, n), "target": rng.integers(0, 20, n), "ts": ts,
                  "kind": np.full(n, "message")})
    parts = split(t, list(range(0, n, 250)))
    base = StreamState.empty(lateness=0, delta="7D")
    s = base
    peak = 0
    for p in parts:
        s = s.merge(base.partial(p))
        peak = max(peak, s.pt.size)
    assert peak < n / 4  # pending messages stay within about delta of the newest
    assert_tables_close(s.finalize()["responsiveness_user"], eq.responsiveness(t))


# ----------------------------------------------------------------- properties
@given(event_tables(), st.lists(st.integers(0, 60), max_size=6), st.randoms())
def test_any_split_any_order_equals_in_memory(table: pa.Table, cuts: list[int],
                                              rnd: Any) -> None:
    parts = split(table, cuts)
    rnd.shuffle(parts)
    check_equal(streamed(parts), in_memory(table))


@given(event_tables(min_size=1), st.lists(st.integers(0, 60), max_size=4),
       st.sampled_from(["1D", "10D", 3600.0]))
def test_decayed_split_equals_in_memory(table: pa.Table, cuts: list[int], hl: Any) -> None:
    check_equal(streamed(split(table, cuts)[::-1], half_life=hl),
                in_memory(table, half_life=hl))


@given(event_tables(), st.lists(st.integers(0, 60), max_size=4),
       st.integers(0, 20), st.integers(1, 25))
def test_window_split_equals_in_memory(table: pa.Table, cuts: list[int], d0: int,
                                       length: int) -> None:
    window = (d0 * 86_400, (d0 + length) * 86_400)
    check_equal(streamed(split(table, cuts), window=window, delta="2D"),
                in_memory(table, window=window, delta="2D"))


@given(event_tables(string_ids=True), event_tables(string_ids=True),
       event_tables(string_ids=True))
def test_merge_is_associative_and_commutative(a: pa.Table, b: pa.Table, c: pa.Table) -> None:
    base = StreamState.empty(half_life="5D")
    sa, sb, sc = (base.partial(x) for x in (a, b, c))
    left = sa.merge(sb).merge(sc).finalize()
    right = sa.merge(sb.merge(sc)).finalize()
    swapped = sc.merge(sb).merge(sa).finalize()
    for name in left:
        if name != "accounting":
            assert_tables_close(left[name], right[name])
            assert_tables_close(left[name], swapped[name])


@given(event_tables(), st.integers(0, 60))
def test_saved_and_resumed_state_gives_the_same_result(table: pa.Table, cut: int) -> None:
    import tempfile

    first, second = split(table, [cut]) if 0 < cut < table.num_rows else (table, table[:0])
    base = StreamState.empty(half_life="3D")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ckpt"
        base.partial(first).save(path)
        resumed = StreamState.load(path).merge(base.partial(second))
        check_equal(resumed.finalize(), in_memory(table, half_life="3D"))
        # saving twice replaces the checkpoint atomically
        resumed.save(path)
        check_equal(StreamState.load(path).finalize(), in_memory(table, half_life="3D"))


# ---------------------------------------------------------------- bad input
def test_schema_drift_of_ids_is_an_error() -> None:
    base = StreamState.empty()
    a = base.partial({"actor": [1], "target": [2], "ts": [0]})
    b = base.partial({"actor": ["x"], "target": ["y"], "ts": [0]})
    with pytest.raises(InputError, match="schema drift"):
        a.merge(b)


def test_states_with_different_options_do_not_merge() -> None:
    a = StreamState.empty(half_life="1D").partial({"actor": [1], "target": [2], "ts": [0]})
    b = StreamState.empty(half_life="2D").partial({"actor": [1], "target": [2], "ts": [0]})
    with pytest.raises(OptionError, match="different options"):
        a.merge(b)


def test_load_rejects_a_folder_that_is_not_a_state(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a saved engagequal state"):
        StreamState.load(tmp_path)


def test_accounting_adds_up_in_lenient_mode() -> None:
    t = pa.table({"actor": [1, None, 2, 3], "target": [2, 1, 1, None], "ts": [0, 1, 2, 3]})
    base = StreamState.empty(strict=False)
    s = merge_states([base.partial(t.slice(0, 2)), base.partial(t.slice(2, 2))])
    acc = s.accounting()
    mem = eq.read_events(t, strict=False).accounting
    assert (acc.rows_in, acc.rows_used) == (mem.rows_in, mem.rows_used)
    assert dict(acc.set_aside) == dict(mem.set_aside)
