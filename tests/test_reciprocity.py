"""Reciprocity: DESIGN.md fixtures, networkx and a naive reference as oracles."""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engagequal as eq
from engagequal.errors import OptionError
from engagequal.kernels.dyads import aggregate_dyads, aggregate_pairs, pairs_from_dyads
from engagequal.metrics._ties import dyads_of, tie_options
from engagequal.metrics.reciprocity import reciprocity_dyad, reciprocity_global, reciprocity_user
from engagequal.testing import assert_tables_equal
from engagequal.testing.reference import Row, reference_reciprocity, rows_of
from engagequal.testing.strategies import event_tables

IGRAPH = {"actor": [1, 2, 2, 3, 4], "target": [2, 1, 3, 4, 4], "ts": [0, 1, 2, 3, 4]}


# --- exact answers on the DESIGN.md fixtures ----------------------------------------------

def test_igraph_fixture_global() -> None:
    g = eq.reciprocity(IGRAPH).to_pylist()[0]
    assert g["arc"] == 0.5  # 2 of the 4 loop-free ties are returned
    assert g["pair_ratio"] == pytest.approx(1 / 3)  # 1 mutual pair of 3 connected
    assert g["rho"] == pytest.approx(0.25)  # (0.5 - 4/12) / (1 - 4/12)
    assert (g["users"], g["ties"], g["mutual_pairs"], g["connected_pairs"]) == (4, 4, 1, 3)
    assert g["self_interactions"] == 1
    r, q = g["arc"], g["pair_ratio"]
    assert r == pytest.approx(2 * q / (1 + q))


def test_igraph_fixture_user_and_dyad() -> None:
    u = {r["user"]: r for r in eq.reciprocity(IGRAPH, level="user").to_pylist()}
    assert u[1]["node_reciprocity"] == 1.0 and u[1]["connections"] == 1
    assert u[2]["node_reciprocity"] == pytest.approx(2 / 3)  # 2*1 / (2 out + 1 in)
    assert u[2]["out_share"] == 0.5 and u[2]["contacts"] == 1 and u[2]["audience"] == 0
    assert u[3]["node_reciprocity"] == 0.0 and u[3]["contacts"] == 1 and u[3]["audience"] == 1
    assert u[4]["out_share"] is None  # no out-ties: undefined, null
    assert u[4]["node_reciprocity"] == 0.0 and u[4]["audience"] == 1
    d = eq.reciprocity(IGRAPH, level="dyad").to_pylist()
    assert [(r["u"], r["v"], r["mutual"]) for r in d] == [(1, 2, True), (2, 3, False),
                                                          (3, 4, False)]
    assert d[1]["w_vu"] == 0.0 and d[1]["n_uv"] == 1 and d[1]["balance"] == 0.0
    assert (d[0]["first"], d[0]["last"]) == (0, 1)


def test_weighted_fixture() -> None:
    # W = [[0,5,0],[1,0,2],[0,0,0]]: min(5,1) * 2 / (5 + 1 + 2) = 0.25
    ev = {"actor": [0, 1, 1], "target": [1, 0, 2], "ts": [0, 0, 0], "w": [5.0, 1.0, 2.0]}
    tabs = eq.reciprocity_tables(ev, weight="w")
    assert tabs["global"]["weighted"][0].as_py() == pytest.approx(0.25)
    u = {r["user"]: r for r in tabs["user"].to_pylist()}
    assert u[0]["reciprocated_strength"] == 1.0 and u[0]["nonreciprocated_out"] == 4.0
    assert u[1]["reciprocated_strength"] == 1.0 and u[1]["nonreciprocated_out"] == 2.0
    assert u[2]["nonreciprocated_in"] == 2.0 and u[2]["weighted_reciprocity"] is None
    assert u[0]["balance"] == pytest.approx(1 / 5)


def test_parallel_events_sum_and_min_weight() -> None:
    ev = {"actor": ["a", "a", "b"], "target": ["b", "b", "a"], "ts": [0, 1, 2],
          "kind": ["message", "message", "like"]}
    d = eq.reciprocity(ev, level="dyad").to_pylist()[0]
    assert (d["w_uv"], d["w_vu"], d["n_uv"], d["n_vu"]) == (6.0, pytest.approx(0.1), 2, 1)
    assert eq.reciprocity(ev)["arc"][0].as_py() == 1.0
    # a like is below a threshold of 0.5: b -> a is no tie
    g = eq.reciprocity(ev, min_weight=0.5).to_pylist()[0]
    assert g["arc"] == 0.0 and g["ties"] == 1
    assert eq.reciprocity(ev, level="dyad", min_weight=0.5)["mutual"].to_pylist() == [False]


def test_null_rule_on_empty_and_loop_only() -> None:
    g = eq.reciprocity({"actor": [1], "target": [1], "ts": [0]}).to_pylist()[0]
    assert g["arc"] is None and g["pair_ratio"] is None and g["rho"] is None
    assert g["weighted"] is None and g["users"] == 1 and g["self_interactions"] == 1
    u = eq.reciprocity({"actor": [1], "target": [1], "ts": [0]}, level="user").to_pylist()
    assert u[0]["node_reciprocity"] is None and u[0]["balance"] is None
    empty = pa.table({"actor": pa.array([], pa.int64()), "target": pa.array([], pa.int64()),
                      "ts": pa.array([], pa.int64())})
    tabs = eq.reciprocity_tables(empty)
    assert tabs["global"]["arc"].to_pylist() == [None]
    assert tabs["user"].num_rows == 0 and tabs["dyad"].num_rows == 0
    for t in tabs.values():  # never NaN anywhere
        for c in t.columns:
            if pa.types.is_floating(c.type):
                assert not any(x != x for x in c.to_pylist() if x is not None)


def test_rho_complete_graph_is_null() -> None:
    # density 1: reciprocity beyond chance is 0 / 0
    ev = {"actor": [1, 2], "target": [2, 1], "ts": [0, 1]}
    g = eq.reciprocity(ev).to_pylist()[0]
    assert g["arc"] == 1.0 and g["rho"] is None


def test_bad_level() -> None:
    with pytest.raises(OptionError, match="level"):
        eq.reciprocity(IGRAPH, level="pair")
    with pytest.raises(OptionError, match="levels"):
        eq.reciprocity_tables(IGRAPH, levels=["global", "x"])


def test_tables_helper_equals_single_levels() -> None:
    tabs = eq.reciprocity_tables(IGRAPH)
    for lv in ("global", "user", "dyad"):
        assert tabs[lv].equals(eq.reciprocity(IGRAPH, level=lv))


# --- helpers ------------------------------------------------------------------------------

def _ns(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A time column (in the events' time type) as int64 ns."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_timestamp(t):
        scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[t.unit]
        return pa.array(arr.cast(pa.int64()).to_numpy() * scale)
    if pa.types.is_integer(t):
        return pa.array(arr.to_numpy() * 10**9)
    return pa.array(np.round(arr.to_numpy() * 1e9).astype(np.int64))


def expected_tables(ref: dict[str, Any], got: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The reference figures as tables with the schemas of ``got`` (times in ns)."""
    g = pa.Table.from_pylist([ref["global"]], schema=got["global"].schema)
    u = pa.Table.from_pylist([{"user": k, **v} for k, v in ref["user"].items()],
                             schema=got["user"].schema)
    dschema = got["dyad"].schema
    dschema = dschema.set(dschema.get_field_index("first"), pa.field("first", pa.int64()))
    dschema = dschema.set(dschema.get_field_index("last"), pa.field("last", pa.int64()))
    d = pa.Table.from_pylist([{"u": a, "v": b, **v} for (a, b), v in ref["dyad"].items()],
                             schema=dschema)
    return {"global": g, "user": u, "dyad": d}


def check_all_levels(table: pa.Table, *, weight: str | None = None, **opts: Any) -> None:
    """The three tables of ``table`` equal the naive reference."""
    ev = eq.read_events(table, weight=weight)
    tie = tie_options(ev, **opts)
    got = eq.reciprocity_tables(ev, **opts)
    rows = rows_of(table, ev.kind_weights, weight=weight)
    ref = reference_reciprocity(rows, min_weight=tie.min_weight,
                                window=None if tie.t0 is None and tie.t1 is None
                                else (tie.t0, tie.t1),
                                half_life_s=tie.half_life, reference_ns=tie.reference)
    exp = expected_tables(ref, got)
    dy = got["dyad"]
    dy = dy.set_column(dy.schema.get_field_index("first"), "first", _ns(dy["first"]))
    dy = dy.set_column(dy.schema.get_field_index("last"), "last", _ns(dy["last"]))
    assert_tables_equal(got["global"], exp["global"], key=[], rtol=1e-9, atol=1e-12)
    assert_tables_equal(got["user"], exp["user"], key=["user"], rtol=1e-9, atol=1e-12)
    assert_tables_equal(dy, exp["dyad"], key=["u", "v"], rtol=1e-9, atol=1e-12)


# --- oracles on generated streams ---------------------------------------------------------

@given(event_tables(weights=True))
def test_all_levels_match_naive_reference(table: pa.Table) -> None:
    check_all_levels(table, weight="weight")


@given(event_tables(), st.sampled_from([0.0, 0.1, 1.0, 2.5]))
def test_min_weight_matches_naive_reference(table: pa.Table, mw: float) -> None:
    check_all_levels(table, min_weight=mw)


def _nx_graph(rows: list[Row]) -> nx.DiGraph:
    g = nx.DiGraph()
    for r in rows:
        if r.actor != r.target:
            w = g.get_edge_data(r.actor, r.target, {"w": 0.0})["w"]
            g.add_edge(r.actor, r.target, w=w + r.weight)
    g.remove_edges_from([(a, b) for a, b, w in g.edges(data="w") if not w > 0])
    return g


@given(event_tables())
def test_arc_and_node_reciprocity_match_networkx(table: pa.Table) -> None:
    ev = eq.read_events(table)
    g = _nx_graph(rows_of(table, ev.kind_weights))
    tabs = eq.reciprocity_tables(ev, levels=["global", "user"])
    arc = tabs["global"]["arc"][0].as_py()
    if g.number_of_edges() == 0:
        assert arc is None
    else:
        assert arc == pytest.approx(nx.overall_reciprocity(g), rel=1e-12)
    for row in tabs["user"].to_pylist():
        u = row["user"]
        if u in g and g.degree(u) > 0:
            assert row["node_reciprocity"] == pytest.approx(nx.reciprocity(g, u), rel=1e-12)
        else:  # networkx raises for isolated nodes: undefined, null here
            assert row["node_reciprocity"] is None


@given(event_tables(id_kind="int", kinds=False), st.randoms(use_true_random=False))
def test_pair_ratio_rho_identity(table: pa.Table, rnd: Any) -> None:
    g = eq.reciprocity(table).to_pylist()[0]
    if g["ties"]:
        q = g["pair_ratio"]
        assert g["arc"] == pytest.approx(2 * q / (1 + q))
        n = g["users"]
        a = g["ties"] / (n * (n - 1))
        if a < 1:
            assert g["rho"] == pytest.approx((g["arc"] - a) / (1 - a))


# --- the three aggregation paths agree ----------------------------------------------------

@given(event_tables(max_users=12, max_events=60))
def test_pairs_from_events_equal_pairs_from_dyads(table: pa.Table) -> None:
    """Merged streaming / Dask state (directed dyads) gives the same tables."""
    ev = eq.read_events(table)
    opts = tie_options(ev)
    d = dyads_of(ev, opts)
    got = eq.reciprocity_tables(ev)
    assert_tables_equal(reciprocity_global(ev, d, opts), got["global"], key=[])
    assert_tables_equal(reciprocity_user(ev, d, opts), got["user"], key=["user"])
    assert_tables_equal(reciprocity_dyad(ev, d, opts), got["dyad"], key=["u", "v"])


@given(st.integers(2, 50).flatmap(lambda nu: st.tuples(
    st.just(nu),
    st.lists(st.tuples(st.integers(0, nu - 1), st.integers(0, nu - 1),
                       st.floats(0, 5), st.integers(-10**12, 10**12)), max_size=80))))
def test_pair_kernel_matches_dict(case: tuple[int, list[tuple[int, int, float, int]]]) -> None:
    nu, ev = case
    a = np.array([e[0] for e in ev], np.int32)
    b = np.array([e[1] for e in ev], np.int32)
    w = np.array([e[2] for e in ev], np.float64)
    t = np.array([e[3] for e in ev], np.int64)
    p = aggregate_pairs(a, b, w, t, nu)
    q = pairs_from_dyads(aggregate_dyads(a, b, w, t, nu))
    exp: dict[tuple[int, int], list[Any]] = {}
    for x, y, ww, tt in ev:
        if x == y:
            continue
        k = (min(x, y), max(x, y))
        e = exp.setdefault(k, [0.0, 0.0, 0, 0, tt, tt])
        e[0 if x < y else 1] += ww
        e[2 if x < y else 3] += 1
        e[4], e[5] = min(e[4], tt), max(e[5], tt)
    keys = sorted(exp)
    for pp in (p, q):
        assert list(zip(pp.u.tolist(), pp.v.tolist())) == keys
        for i, k in enumerate(keys):
            e = exp[k]
            assert pp.w_uv[i] == pytest.approx(e[0]) and pp.w_vu[i] == pytest.approx(e[1])
            assert (pp.n_uv[i], pp.n_vu[i], pp.first[i], pp.last[i]) == tuple(e[2:])
