"""Property tests the other files do not cover (issue 10).

Already elsewhere: rows in = used + set aside for row-level flaws and the
invariance of reciprocity and responsiveness under row order and id
relabelling (test_ingest.py); streamed = in memory on clean streams
(test_stream.py, test_state.py); Dask = in memory on clean streams
(test_dask.py).  Here, over generated streams:

* reply forests with every tree flaw (duplicate ids, second parents, self
  parents, cycles, missing parents, null ids, null threads, cross-thread
  parents) plus row flaws: the accounting adds up, strict mode raises a typed
  error exactly when lenient mode sets rows aside, and the whole report
  (users, dyads, threads, layers, quality) does not depend on the row order;
* the whole report does not depend on the values of the ids, only on their
  order (user and event ids relabelled monotonically, integers to strings);
* lenient streams with bad rows: in memory = streamed = Dask, accounting
  included;
* no floating-point result is NaN, and the values the spec defines are not
  null (undefined ones are).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engagequal as eq
from engagequal.errors import EngagequalWarning, InputError
from engagequal.testing import assert_no_nan, assert_tables_equal
from engagequal.testing.strategies import event_tables

KINDS = ["reply", "comment", "like", "message"]
MAIN = ("users", "dyads", "threads", "layers")
KEYS = {"users": ["user"], "dyads": ["u", "v"], "threads": ["thread"], "layers": ["ego"]}
TREE = {"event_id": "id", "parent": "parent"}


@st.composite
def flawed_forests(draw: st.DrawFn) -> tuple[pa.Table, dict[str, Any]]:
    """A reply forest with tree and row flaws.  Rows sharing an id and a time
    differ in their parent only (a second parent, or an exact copy): among rows
    that differ in more at the same time, the row order picks the one kept."""
    n = draw(st.integers(0, 30))
    n_users = draw(st.integers(1, 6))
    ids = list(range(100, 100 + n))
    parent: list[int | None] = []
    for i in range(n):
        c = draw(st.integers(0, 9))
        if c < 3 or i == 0:
            parent.append(None)
        elif c < 7:  # an earlier event
            parent.append(ids[draw(st.integers(0, i - 1))])
        elif c == 7:  # itself
            parent.append(ids[i])
        elif c == 8:  # any event: cycles
            parent.append(ids[draw(st.integers(0, n - 1))])
        else:  # not in the data
            parent.append(99)
    ts = draw(st.permutations(range(n)))
    rows = [{"actor": draw(st.integers(0, n_users - 1)),
             "target": None if draw(st.booleans()) else draw(st.integers(0, n_users - 1)),
             "ts": 1_700_000_000 + 3_600 * t, "kind": draw(st.sampled_from(KINDS)),
             "id": ids[i], "parent": parent[i]} for i, t in enumerate(ts)]
    opts: dict[str, Any] = dict(TREE)
    if draw(st.booleans()):  # threads, before the copies (that keep their row's thread)
        for r in rows:
            r["thread"] = draw(st.sampled_from(["a", "b", None]))
        opts["thread"] = "thread"
    extra: list[dict[str, Any]] = []
    for r in rows:
        flaw = draw(st.sampled_from(["none"] * 6 + ["copy", "reuse", "second", "null_id",
                                                    "null_actor", "bad_ts", "poke"]))
        if flaw == "copy":  # an exact duplicate row
            extra.append(dict(r))
        elif flaw == "reuse":  # the id of an earlier or later, different row
            extra.append({**r, "ts": r["ts"] + 1, "actor": (r["actor"] + 1) % n_users})
        elif flaw == "second" and n:  # the same event under another parent, same time
            extra.append({**r, "parent": ids[draw(st.integers(0, n - 1))]})
        elif flaw == "null_id":
            r["id"] = None
        elif flaw == "null_actor":
            r["actor"] = None
        elif flaw == "bad_ts":
            r["ts"] = None
        elif flaw == "poke":
            r["kind"] = "poke"
    rows += extra
    schema = pa.schema([("actor", pa.int64()), ("target", pa.int64()), ("ts", pa.int64()),
                        ("kind", pa.string()), ("id", pa.int64()), ("parent", pa.int64())]
                       + ([("thread", pa.string())] if "thread" in opts else []))
    return pa.Table.from_pylist(rows, schema=schema), opts


def analyse(source: Any, **options: Any) -> eq.Report:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EngagequalWarning)
        return eq.analyze(source, layer_method="rank", progress=False, **options)


def same_reports(a: eq.Report, b: eq.Report, relabel: Callable[[str, pa.Table], pa.Table]
                 | None = None) -> None:
    for name in MAIN:
        x, y = getattr(a, name), getattr(b, name)
        if relabel is not None:
            x = relabel(name, x)
        if x.num_columns == 0 and y.num_columns == 0:
            continue
        assert_tables_equal(x, y, key=KEYS[name], rtol=1e-9, atol=1e-12)
    assert a.summary.equals(b.summary) or _close_rows(a.summary, b.summary)


def _close_rows(a: pa.Table, b: pa.Table) -> bool:
    assert_tables_equal(a, b, key=[], rtol=1e-9, atol=1e-12)
    return True


def counts(acc: eq.Accounting) -> tuple[int, int, dict[str, int], dict[str, int]]:
    return acc.rows_in, acc.rows_used, dict(acc.set_aside), dict(acc.notes)


# ------------------------------------------------------------------ the accounting
@given(flawed_forests())
def test_forest_flaws_are_all_accounted_for(case: tuple[pa.Table, dict[str, Any]]) -> None:
    table, opts = case
    ev = eq.read_events(table, strict=False, **opts)
    acc = ev.accounting
    aside = sum(acc.set_aside.values())
    assert acc.rows_in == table.num_rows == acc.rows_used + aside == ev.n_events + aside
    rows = acc.set_aside_rows
    assert rows.num_rows == aside
    pos = rows["row"].to_numpy()
    assert np.unique(pos).size == pos.size and (pos.size == 0 or pos.max() < table.num_rows)
    reasons = rows["reason"].to_pylist()
    assert {r: reasons.count(r) for r in set(reasons)} == dict(acc.set_aside)
    assert ev.tree is not None and ev.tree.parent.size == ev.n_events
    assert bool((ev.tree.parent < ev.n_events).all())
    # strict raises a typed error exactly when lenient sets rows aside
    if aside:
        with pytest.raises(InputError) as info:
            eq.read_events(table, **opts)
        assert info.value.reason in acc.set_aside or info.value.count > 0
    else:
        assert counts(eq.read_events(table, **opts).accounting) == counts(acc)
    report = analyse(ev)
    assert_no_nan(report)
    assert report.threads.num_rows == len(np.unique(ev.tree.thread))


@given(flawed_forests(), st.randoms(use_true_random=False))
def test_forest_report_ignores_row_order(case: tuple[pa.Table, dict[str, Any]],
                                         rnd: Any) -> None:
    table, opts = case
    perm = list(range(table.num_rows))
    rnd.shuffle(perm)
    shuffled = table.take(pa.array(perm, pa.int64()))
    a = eq.read_events(table, strict=False, **opts)
    b = eq.read_events(shuffled, strict=False, **opts)
    assert counts(a.accounting) == counts(b.accounting)
    same_reports(analyse(a), analyse(b))


# ------------------------------------------------------------------ relabelling
def _monotone(values: list[Any], rnd: Any, as_str: bool) -> dict[Any, Any]:
    """An order-preserving map of ``values`` to spread-out ints or padded strings."""
    old = sorted(set(values))
    new = sorted(rnd.sample(range(-(10**15), 10**15), len(old)))
    if as_str:
        return {o: f"id{n + 10**15:016d}" for o, n in zip(old, new, strict=True)}
    return dict(zip(old, new, strict=True))


def _mapped(col: pa.ChunkedArray | pa.Array, m: dict[Any, Any], as_str: bool) -> pa.Array:
    return pa.array([None if x is None else m[x] for x in col.to_pylist()],
                    pa.string() if as_str else pa.int64())


@settings(max_examples=40)
@given(flawed_forests(), st.booleans(), st.booleans(), st.randoms(use_true_random=False))
def test_report_depends_on_id_order_only(case: tuple[pa.Table, dict[str, Any]], user_str: bool,
                                         event_str: bool, rnd: Any) -> None:
    table, opts = case
    users = [x for c in ("actor", "target") for x in table[c].to_pylist() if x is not None]
    events = [x for c in ("id", "parent") for x in table[c].to_pylist() if x is not None]
    um = _monotone(users or [0], rnd, user_str)
    em = _monotone(events or [0], rnd, event_str)
    t2 = table
    for c, m, s in (("actor", um, user_str), ("target", um, user_str), ("id", em, event_str),
                    ("parent", em, event_str)):
        t2 = t2.set_column(t2.schema.get_field_index(c), c, _mapped(table[c], m, s))
    a = analyse(table, strict=False, **opts)
    b = analyse(t2, strict=False, **opts)
    assert counts(_acc(a)) == counts(_acc(b))

    def relabel(name: str, t: pa.Table) -> pa.Table:
        for col, m, s in (("user", um, user_str), ("u", um, user_str), ("v", um, user_str),
                          ("ego", um, user_str)):
            if col in t.column_names:
                t = t.set_column(t.schema.get_field_index(col), col, _mapped(t[col], m, s))
        if name == "threads" and "thread" in t.column_names and "thread" not in opts:
            t = t.set_column(t.schema.get_field_index("thread"), "thread",
                             _mapped(t["thread"], em, event_str))
        return t

    same_reports(a, b, relabel)


def _acc(r: eq.Report) -> eq.Accounting:
    d = r.dropped.to_pylist()
    aside = {x["reason"]: x["rows"] for x in d if x["action"] == "set_aside"}
    notes = {x["reason"]: x["rows"] for x in d if x["action"] == "kept"}
    s = r.summary.to_pylist()[0]
    return eq.Accounting(rows_in=s["rows_in"], rows_used=s["events"], set_aside=aside,
                         notes=notes)


# ------------------------------------------------------------------ memory = stream = Dask
@st.composite
def flawed_streams(draw: st.DrawFn) -> tuple[pa.Table, list[int]]:
    n = draw(st.integers(1, 50))
    u = st.integers(0, 7)
    rows = []
    for _ in range(n):
        flaw = draw(st.sampled_from(["none"] * 5 + ["null_actor", "null_target", "bad_ts",
                                                    "poke", "bad_weight"]))
        rows.append({
            "actor": None if flaw == "null_actor" else draw(u),
            "target": None if flaw == "null_target" else draw(u),
            "ts": None if flaw == "bad_ts" else draw(st.integers(0, 20 * 86_400)),
            "kind": "poke" if flaw == "poke" else draw(st.sampled_from(KINDS)),
            "w": -1.0 if flaw == "bad_weight" else draw(st.one_of(st.none(),
                                                                  st.floats(0, 5))),
        })
    schema = pa.schema([("actor", pa.int64()), ("target", pa.int64()), ("ts", pa.int64()),
                        ("kind", pa.string()), ("w", pa.float64())])
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return pa.Table.from_pylist(rows, schema=schema), cuts


def _pieces(table: pa.Table, cuts: list[int]) -> list[pa.Table]:
    bounds = [0, *cuts, table.num_rows]
    return [table.slice(a, b - a) for a, b in itertools.pairwise(bounds)]


@given(flawed_streams())
def test_lenient_stream_equals_memory(case: tuple[pa.Table, list[int]]) -> None:
    table, cuts = case
    mem = analyse(table, strict=False, weight="w", metrics=["reciprocity", "responsiveness",
                                                            "layers"])
    batches = [b for p in _pieces(table, cuts) for b in p.to_batches()] or [
        pa.RecordBatch.from_pylist([], schema=table.schema)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EngagequalWarning)
        got = eq.analyze_stream(iter(batches), strict=False, weight="w", progress=False,
                                layer_method="rank",
                                metrics=["reciprocity", "responsiveness", "layers"])
    assert counts(_acc(got))[:3] == counts(_acc(mem))[:3]
    for name in ("reciprocity_global", "reciprocity_user", "reciprocity_dyad",
                 "responsiveness_user", "layers_ego"):
        key = {"reciprocity_global": [], "reciprocity_user": ["user"],
               "reciprocity_dyad": ["u", "v"], "responsiveness_user": ["user"],
               "layers_ego": ["ego"]}[name]
        assert_tables_equal(got.details[name], mem.details[name], key=key, rtol=1e-9,
                            atol=1e-12)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask.dataframe")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, cluster.get_client() as c:
        yield c


@settings(max_examples=8)
@given(case=flawed_streams())
def test_lenient_dask_equals_memory(client: Any, case: tuple[pa.Table, list[int]]) -> None:
    import dask.dataframe as dd
    import pandas as pd
    from dask.delayed import delayed

    table, cuts = case
    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    bounds = [0, *cuts, len(df)]
    frame = dd.from_delayed([delayed(df.iloc[a:b]) for a, b in itertools.pairwise(bounds)],
                            meta=df.iloc[:0], verify_meta=False)
    res = eq.dask.analyze(frame, client, strict=False, weight="w", delta="1D")
    mem = eq.read_events(table, strict=False, weight="w").accounting
    assert counts(res.accounting)[:3] == counts(mem)[:3]
    assert sorted(res.accounting.set_aside_rows["row"].to_pylist()) == \
        sorted(mem.set_aside_rows["row"].to_pylist())
    for level in ("global", "user", "dyad"):
        want = eq.reciprocity(table, level=level, strict=False, weight="w")
        key = {"global": [], "user": ["user"], "dyad": ["u", "v"]}[level]
        assert_tables_equal(res[f"reciprocity_{level}"], want, key=key, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ NaN and null
@given(event_tables(max_events=40, weights=True, reply_trees=True))
def test_no_nan_and_defined_values_are_not_null(table: pa.Table) -> None:
    read = {"kind": "kind", "weight": "weight", "event_id": "event_id", "parent": "parent"}
    report = analyse(table, **read)
    assert_no_nan(report)
    g = report.details["reciprocity_global"].to_pylist()[0]
    assert (g["arc"] is None) == (g["ties"] == 0)
    assert (g["pair_ratio"] is None) == (g["connected_pairs"] == 0)
    for u in report.details["reciprocity_user"].to_pylist():
        assert (u["node_reciprocity"] is None) == (u["out_ties"] + u["in_ties"] == 0), u
        assert (u["out_share"] is None) == (u["out_ties"] == 0), u
    for t in report.threads.to_pylist():
        assert t["size"] >= 1 and t["max_depth"] is not None and t["mean_depth"] is not None
    for q in report.details["quality"].to_pylist():
        assert q["score"] is not None and 0 <= q["score"] <= 100, q
