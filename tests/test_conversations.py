"""Conversation depth: hand-worked trees, oracles on generated forests, policies."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from math import comb

import networkx as nx
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engagequal as eq
from engagequal.errors import OptionError, ParentCycleError
from engagequal.kernels.treestats import alternating_runs, subtree_aggregate
from engagequal.metrics.conversations import (
    DYAD_SCHEMA,
    EVENT_SCHEMA,
    THREAD_SCHEMA,
    USER_SCHEMA,
    conversation_tables,
)

TREE = {"event_id": "id", "parent": "parent", "target": None}


def _read(ids, parents, actors, ts=None, **kw):
    ts = list(range(len(ids))) if ts is None else ts
    opts = {**TREE, **kw}
    return eq.read_events({"id": ids, "parent": parents, "actor": actors, "ts": ts}, **opts)


# ---------------------------------------------------------------------------
# hand-worked trees
#
#   1 A ── 2 B ── 3 A ── 4 B          depths 0 1 2 3
#      │      └── 5 C                 depth 2
#      └── 6 A ── 7 A                 depths 1 2 (self-replies)
# ---------------------------------------------------------------------------
HAND = ([1, 2, 3, 4, 5, 6, 7], [None, 1, 2, 3, 2, 1, 6], ["A", "B", "A", "B", "C", "A", "A"])


def test_hand_thread_table():
    t = eq.conversations(_read(*HAND)).to_pylist()
    assert len(t) == 1
    r = t[0]
    assert r["thread"] == 1
    assert (r["size"], r["roots"], r["replies"], r["participants"]) == (7, 1, 6, 3)
    assert (r["max_depth"], r["max_width"], r["root_fanout"], r["h_index"]) == (3, 3, 2, 2)
    assert r["mean_depth"] == pytest.approx(11 / 7)
    # subtree sizes 4,2,1,1,2,1 -> W = 12+10+6+6+10+6 = 50 over C(7,2) = 21 pairs
    assert r["virality"] == pytest.approx(50 / 21)
    # A and B post again after someone else; C does not
    assert r["reentry"] == pytest.approx(2 / 3)
    # maximal runs: A B A B (ends at 4) and B C (ends at 5)
    assert (r["exchanges"], r["longest_exchange"], r["conversations"]) == (2, 4, 1)


def test_hand_event_table():
    t = eq.conversations(_read(*HAND), level="event").to_pydict()
    assert t["depth"] == [0, 1, 2, 3, 2, 1, 2]
    assert t["root"] == [1] * 7
    assert t["parent"] == [None, 1, 2, 3, 2, 1, 6]
    assert t["target"] == [None, "A", "B", "A", "B", "A", "A"]
    assert t["turn"] == [1, 2, 3, 4, 2, 1, 1]
    assert t["exchange_length"] == [4, 4, 4, 4, 2, 1, 1]
    assert t["in_conversation"] == [True, True, True, True, False, False, False]
    assert t["thread"] == [1] * 7


def test_hand_dyad_and_user_tables():
    d = eq.conversations(_read(*HAND), level="dyad").to_pylist()
    assert d == [
        {"u": "A", "v": "B", "exchanges": 1, "conversations": 1, "longest_exchange": 4,
         "turns": 4},
        {"u": "B", "v": "C", "exchanges": 1, "conversations": 0, "longest_exchange": 2,
         "turns": 0},
    ]
    u = {r["user"]: r for r in eq.conversations(_read(*HAND), level="user").to_pylist()}
    a, b, c = u["A"], u["B"], u["C"]
    assert (a["events"], a["threads_joined"], a["replies"], a["max_reply_depth"]) == (4, 1, 3, 2)
    assert a["mean_reply_depth"] == pytest.approx(5 / 3)
    assert a["conversation_share"] == 0.5
    assert (a["threads_started"], a["replies_received"], a["distinct_repliers"]) == (1, 3, 2)
    assert a["mean_depth_reached"] == 3.0
    assert (b["events"], b["replies"], b["max_reply_depth"], b["conversation_share"]) == (
        2, 2, 3, 1.0)
    assert b["mean_depth_reached"] is None and b["threads_started"] == 0
    assert (c["conversation_share"], c["mean_reply_depth"]) == (0.0, 2.0)


def test_third_person_splits_runs_that_share_an_event():
    # A B A C A C: runs A B A (3 turns) and A C A C (4 turns) share event 3
    ev = _read([1, 2, 3, 4, 5, 6], [None, 1, 2, 3, 4, 5], list("ABACAC"))
    e = eq.conversations(ev, level="event").to_pydict()
    assert e["turn"] == [1, 2, 3, 2, 3, 4]
    assert e["exchange_length"] == [3, 3, 4, 4, 4, 4]
    th = eq.conversations(ev).to_pylist()[0]
    assert (th["exchanges"], th["conversations"], th["longest_exchange"]) == (2, 2, 4)
    d = eq.conversations(ev, level="dyad").to_pylist()
    assert [(r["u"], r["v"], r["longest_exchange"], r["turns"]) for r in d] == [
        ("A", "B", 3, 3), ("A", "C", 4, 4)]


def test_single_event_thread_and_chain_virality():
    one = eq.conversations(_read([1], [None], ["A"])).to_pylist()[0]
    assert one["virality"] is None and one["h_index"] == 0 and one["longest_exchange"] == 1
    # a path of n nodes: mean distance (n + 1) / 3
    n = 6
    ch = eq.conversations(_read(list(range(n)), [None, *range(n - 1)], ["A"] * n)).to_pylist()
    assert ch[0]["virality"] == pytest.approx((n + 1) / 3)
    assert ch[0]["h_index"] == 3 and ch[0]["max_width"] == 1 and ch[0]["exchanges"] == 0


def test_no_tree_gives_empty_tables_with_schema():
    ev = eq.read_events({"actor": [1, 2], "target": [2, 1], "ts": [0, 1]})
    tabs = conversation_tables(ev)
    for lv, schema in [("thread", THREAD_SCHEMA), ("event", EVENT_SCHEMA),
                       ("dyad", DYAD_SCHEMA), ("user", USER_SCHEMA)]:
        assert tabs[lv].num_rows == 0 and tabs[lv].schema == schema
    with pytest.raises(OptionError):
        eq.conversations(ev, level="nope")


def test_dyads_join_reciprocity_dyads():
    ev = _read(*HAND)
    conv = eq.conversations(ev, level="dyad")
    rec = eq.reciprocity(ev, level="dyad")
    pairs = set(zip(rec["u"].to_pylist(), rec["v"].to_pylist(), strict=True))
    assert set(zip(conv["u"].to_pylist(), conv["v"].to_pylist(), strict=True)) <= pairs


# ---------------------------------------------------------------------------
# imperfect trees: the documented policies
# ---------------------------------------------------------------------------
def test_parent_cycle_is_reported_and_finishes():
    ids, parents = [1, 2, 3, 4, 5], [None, 3, 4, 2, 2]  # 2 -> 3 -> 4 -> 2, 5 hangs below
    with pytest.raises(ParentCycleError) as exc:
        _read(ids, parents, list("ABCDE"))
    assert "[2, 3, 4]" in str(exc.value)
    ev = _read(ids, parents, list("ABCDE"), strict=False)
    assert ev.accounting.set_aside == {"parent_cycle": 3}
    assert ev.accounting.notes.get("orphan_parent") == 1
    t = eq.conversations(ev).to_pydict()
    assert sorted(t["thread"]) == [1, 5] and t["max_depth"] == [0, 0]


def test_orphan_and_cross_thread_parents():
    ev = eq.read_events({"id": [1, 2, 3, 4], "parent": [None, 9, 1, 3], "actor": list("ABAB"),
                         "thread": ["x", "x", "x", "y"], "ts": [0, 1, 2, 3]},
                        event_id="id", parent="parent", thread="thread", target=None)
    assert ev.accounting.notes["orphan_parent"] == 1
    assert ev.accounting.notes["cross_thread_parent"] == 1
    t = {r["thread"]: r for r in eq.conversations(ev).to_pylist()}
    # thread x holds two trees: {1, 3} and {2}; one connected pair at distance 1
    assert (t["x"]["size"], t["x"]["roots"], t["x"]["max_depth"]) == (3, 2, 1)
    assert t["x"]["virality"] == 1.0
    assert (t["y"]["size"], t["y"]["roots"], t["y"]["virality"]) == (1, 1, None)


# ---------------------------------------------------------------------------
# kernels against direct definitions
# ---------------------------------------------------------------------------
def test_subtree_aggregate_max_and_chain():
    parent = np.array([-1, 0, 1, 1, 0])
    vals = np.array([5.0, 1.0, 7.0, 2.0, 3.0])
    assert subtree_aggregate(parent, vals, op="max").tolist() == [7.0, 7.0, 7.0, 2.0, 3.0]
    n = 1000
    chain = np.arange(-1, n - 1)
    assert subtree_aggregate(chain, np.ones(n)).tolist() == list(range(n, 0, -1))


# ---------------------------------------------------------------------------
# oracles on generated forests
# ---------------------------------------------------------------------------
@st.composite
def forests(draw):
    n = draw(st.integers(1, 30))
    parents = [-1] + [draw(st.integers(-1, i - 1)) for i in range(1, n)]
    actors = [draw(st.integers(0, 3)) for _ in range(n)]
    ts = [draw(st.integers(0, 8)) for _ in range(n)]
    perm = draw(st.permutations(range(n)))
    return parents, actors, ts, perm


def _events(parents, actors, ts, perm):
    """Rows in the order ``perm``; ids are 100 + node."""
    ids = [100 + i for i in perm]
    par = [None if parents[i] < 0 else 100 + parents[i] for i in perm]
    return _read(ids, par, [actors[i] for i in perm], [ts[i] for i in perm])


def _naive_runs(parents, actors):
    """Maximal alternating runs (tuples of nodes), by walking every root-to-leaf path."""
    n = len(parents)
    kids = defaultdict(list)
    for i, p in enumerate(parents):
        if p >= 0:
            kids[p].append(i)
    paths = []

    def walk(node, path):  # recursion is fine on <= 30 nodes
        path = [*path, node]
        if not kids[node]:
            paths.append(path)
        for c in kids[node]:
            walk(c, path)

    for r in range(n):
        if parents[r] < 0:
            walk(r, [])
    runs = set()
    for path in paths:
        a = [actors[x] for x in path]
        for i, j in itertools.combinations(range(len(path) + 1), 2):
            seg = a[i:j]
            if len(seg) < 2 or any(seg[k] == seg[k + 1] for k in range(len(seg) - 1)):
                continue
            if any(seg[k] != seg[k + 2] for k in range(len(seg) - 2)):
                continue
            runs.add(tuple(path[i:j]))
    # maximal: not contained in a longer run (left extension is path-independent)
    return {r for r in runs if not any(len(s) > len(r) and
                                       any(s[k:k + len(r)] == r for k in range(len(s)))
                                       for s in runs)}


@given(forests())
def test_depth_virality_and_widths_against_networkx(f):
    parents, actors, ts, perm = f
    n = len(parents)
    ev = _events(parents, actors, ts, perm)
    e = eq.conversations(ev, level="event").to_pydict()
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from((i, p) for i, p in enumerate(parents) if p >= 0)
    depth = {}
    for comp in nx.connected_components(g):
        root = next(i for i in comp if parents[i] < 0)
        for node, d in nx.single_source_shortest_path_length(g, root).items():
            depth[node] = (d, root)
    for eid, d, r in zip(e["event_id"], e["depth"], e["root"], strict=True):
        assert (d, r - 100) == depth[eid - 100]
    th = {r["thread"] - 100: r for r in eq.conversations(ev).to_pylist()}
    for comp in nx.connected_components(g):
        root = next(i for i in comp if parents[i] < 0)
        row = th[root]
        sub = g.subgraph(comp)
        m = len(comp)
        if m == 1:
            assert row["virality"] is None
        else:
            assert row["virality"] == pytest.approx(nx.wiener_index(sub) / comb(m, 2))
        ds = [depth[i][0] for i in comp]
        assert row["max_depth"] == max(ds)
        assert row["max_width"] == max(Counter(ds).values())
        assert row["root_fanout"] == ds.count(1)
        assert row["h_index"] == max(h for h in range(m + 1)
                                     if sum(d >= h for d in ds) >= h)
        assert row["participants"] == len({actors[i] for i in comp})
        # re-entry: a later own post with someone else's post strictly between
        who = {actors[i] for i in comp}
        back = sum(any(ts[x] < ts[y] < ts[z] and actors[x] == actors[z] == u != actors[y]
                       for x in comp for y in comp for z in comp) for u in who)
        assert row["reentry"] == pytest.approx(back / len(who))


@given(forests())
def test_exchanges_against_naive_walk(f):
    parents, actors, ts, perm = f
    runs = _naive_runs(parents, actors)
    ev = _events(parents, actors, ts, perm)
    tabs = conversation_tables(ev)
    th = tabs["thread"].to_pylist()
    root_of = {}
    for i in range(len(parents)):
        r = i
        while parents[r] >= 0:
            r = parents[r]
        root_of[i] = r
    for row in th:
        mine = [r for r in runs if root_of[r[0]] == row["thread"] - 100]
        assert row["exchanges"] == len(mine)
        assert row["conversations"] == sum(len(r) >= 3 for r in mine)
        assert row["longest_exchange"] == max([1] + [len(r) for r in mine])
    e = tabs["event"].to_pydict()
    for eid, length in zip(e["event_id"], e["exchange_length"], strict=True):
        assert length == max([1] + [len(r) for r in runs if eid - 100 in r])
    dy = defaultdict(list)
    for r in runs:
        dy[tuple(sorted({actors[x] for x in r}))].append(r)
    got = {(r["u"], r["v"]): r for r in tabs["dyad"].to_pylist()}
    assert set(got) == set(dy)
    for k, rs in dy.items():
        row = got[k]
        assert row["exchanges"] == len(rs)
        assert row["conversations"] == sum(len(r) >= 3 for r in rs)
        assert row["longest_exchange"] == max(len(r) for r in rs)
        assert row["turns"] == len({x for r in rs if len(r) >= 3 for x in r})
    # the kernel on positional arrays agrees with the table
    k = alternating_runs(np.array(parents, dtype=np.int64), np.array(actors))
    assert int(k.end.sum()) == len(runs)


@given(forests(), st.randoms(use_true_random=False))
def test_row_order_does_not_change_any_table(f, rnd):
    parents, actors, ts, perm = f
    other = list(perm)
    rnd.shuffle(other)
    a = conversation_tables(_events(parents, actors, ts, perm))
    b = conversation_tables(_events(parents, actors, ts, other))
    assert a["thread"].equals(b["thread"])
    assert a["dyad"].equals(b["dyad"])
    assert a["user"].equals(b["user"])
    assert a["event"].sort_by("event_id").equals(b["event"].sort_by("event_id"))


@given(forests(), st.sets(st.sampled_from(THREAD_SCHEMA.names[1:])),
       st.sets(st.sampled_from(USER_SCHEMA.names[1:])))
def test_asked_columns_equal_the_full_tables_columns(f, thread_cols, user_cols):
    """Only the statistics of the asked columns are computed, with the same values."""
    ev = _events(*f)
    full = conversation_tables(ev)
    part = conversation_tables(ev, levels=("thread", "user"),
                               columns={"thread": sorted(thread_cols), "user": sorted(user_cols)})
    want_t = [c for c in THREAD_SCHEMA.names if c == "thread" or c in thread_cols]
    want_u = [c for c in USER_SCHEMA.names if c == "user" or c in user_cols]
    assert part["thread"].equals(full["thread"].select(want_t))
    assert part["user"].equals(full["user"].select(want_u))
    one = eq.conversations(ev, columns=sorted(thread_cols))
    assert one.equals(full["thread"].select(want_t))


def test_unknown_column_is_an_option_error():
    ev = _read([1, 2], [None, 1], [7, 8])
    with pytest.raises(OptionError, match="unknown: \\['depth'\\]"):
        eq.conversations(ev, columns=["depth"])
    empty = eq.conversations({"actor": [1], "target": [2], "ts": [0]}, columns=["max_depth"])
    assert empty.column_names == ["thread", "max_depth"] and empty.num_rows == 0


def test_user_table_against_direct_counts():
    rng = np.random.default_rng(3)
    n = 400
    parents = [-1] + [int(rng.integers(-1, i)) if rng.random() < 0.9 else -1
                      for i in range(1, n)]
    actors = rng.integers(0, 12, n).tolist()
    ev = _events(parents, actors, list(range(n)), list(range(n)))
    e = eq.conversations(ev, level="event").to_pydict()
    u = {r["user"]: r for r in eq.conversations(ev, level="user").to_pylist()}
    depth = dict(zip(e["event_id"], e["depth"], strict=True))
    root = dict(zip(e["event_id"], e["root"], strict=True))
    actor = dict(zip(e["event_id"], e["actor"], strict=True))
    conv = dict(zip(e["event_id"], e["in_conversation"], strict=True))
    for who, row in u.items():
        mine = [x for x in depth if actor[x] == who]
        reps = [depth[x] for x in mine if depth[x] > 0]
        assert row["events"] == len(mine)
        assert row["threads_joined"] == len({root[x] for x in mine})
        assert row["max_reply_depth"] == (max(reps) if reps else None)
        assert row["conversation_share"] == pytest.approx(sum(conv[x] for x in mine) / len(mine))
        started = [x for x in mine if depth[x] == 0]
        assert row["threads_started"] == len(started)
        got = [x for x in depth if root[x] in started and depth[x] > 0 and actor[x] != who]
        assert row["replies_received"] == len(got)
        assert row["distinct_repliers"] == len({actor[x] for x in got})
        if started:
            reach = [max(depth[x] for x in depth if root[x] == s) for s in started]
            assert row["mean_depth_reached"] == pytest.approx(np.mean(reach))


# ---------------------------------------------------------------------------
# scale: a chain one million replies deep
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_million_deep_chain():
    n = 1_000_000
    ids = np.arange(n, dtype=np.int64)
    parent = pa.array(np.arange(-1, n - 1), mask=ids == 0)
    ev = eq.read_events({"id": ids, "parent": parent, "actor": ids % 2, "ts": ids},
                        event_id="id", parent="parent", target=None)
    tabs = conversation_tables(ev)
    th = tabs["thread"].to_pylist()[0]
    assert (th["size"], th["max_depth"], th["h_index"], th["max_width"]) == (
        n, n - 1, n // 2, 1)
    assert th["longest_exchange"] == n and th["conversations"] == 1
    assert th["virality"] == pytest.approx((n + 1) / 3)
    assert tabs["event"]["depth"].to_numpy()[-1] == n - 1


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1, 0],
                                   [3, 0, 5, 2, 6, 1, 4]])
def test_second_parent_keeps_the_nearest_whatever_the_row_order(order):
    # 4 is listed under 3 (depth 3) and under 1 (depth 1); 5 under its own child
    # 6 (a cycle) and under 2; all rows of one event share its time
    ids = [1, 2, 3, 4, 4, 5, 6, 5]
    parents = [None, 1, 2, 3, 1, 6, 5, 2]
    ts = [0, 1, 2, 3, 3, 4, 5, 4]
    rows = [*order, 7] if 7 not in order else order
    ev = _read([ids[i] for i in rows], [parents[i] for i in rows], ["A"] * len(rows),
               [ts[i] for i in rows], strict=False)
    assert ev.accounting.set_aside == {"duplicate_event_id": 2}
    assert ev.accounting.notes["second_parent"] == 2
    e = eq.conversations(ev, level="event").sort_by("event_id").to_pydict()
    assert e["event_id"] == [1, 2, 3, 4, 5, 6]
    assert e["parent"] == [None, 1, 2, 1, 2, 5]
    assert e["depth"] == [0, 1, 2, 1, 2, 3]


# shared/data/apache-mbox/README.md, "Figures computed here": max depth, mean
# depth, longest run, longest run from the root, maximal runs >= 2 .. >= 6
MBOX = {
    "httpd-users-2020-07.mbox": (8, 1.2778, 4, 4, (37, 15, 4, 0, 0)),
    "maven-dev-2017-11-mboxvm.mbox": (15, 2.1893, 6, 5, (87, 31, 14, 4, 1)),
    "maven-dev-2017-12-mboxvm.mbox": (20, 3.0362, 6, 6, (68, 25, 13, 6, 2)),
}


@pytest.mark.parametrize("name", sorted(MBOX))
def test_apache_mbox_readme_figures(name):
    io = pytest.importorskip("engagequal.io")
    from tests.conftest import data_path

    t = io.read_mbox(data_path("apache-mbox", name))
    first = t.filter(pa.compute.equal(t["event_id"], t["record"]))  # one row per message
    tabs = conversation_tables(eq.read_events(first, **io.READ_OPTIONS))
    max_depth, mean_depth, run_max, run_root, hist = MBOX[name]
    th, e = tabs["thread"], tabs["event"].to_pydict()
    assert pa.compute.max(th["max_depth"]).as_py() == max_depth
    assert round(np.mean(e["depth"]), 4) == mean_depth
    assert max(e["turn"]) == run_max
    assert max(t_ for t_, d in zip(e["turn"], e["depth"], strict=True) if t_ == d + 1) == run_root
    # maximal runs: no child continues them (child's turn is one more)
    turn_of = dict(zip(e["event_id"], e["turn"], strict=True))
    extended = {p for p, t_ in zip(e["parent"], e["turn"], strict=True)
                if p is not None and t_ == turn_of[p] + 1}
    ends = [t_ for i, t_ in zip(e["event_id"], e["turn"], strict=True)
            if t_ >= 2 and i not in extended]
    assert tuple(sum(x >= k for x in ends) for k in (2, 3, 4, 5, 6)) == hist
    assert pa.compute.sum(th["exchanges"]).as_py() == hist[0]
    assert pa.compute.sum(th["conversations"]).as_py() == hist[1]
    assert pa.compute.max(th["longest_exchange"]).as_py() == run_max
