"""Ingest: every source, ids, times, typed errors, lenient accounting, invariances."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engagequal as eq
from engagequal.errors import (
    DuplicateEventError,
    InputError,
    InvalidTimeError,
    InvalidWeightError,
    MissingColumnError,
    NullValueError,
    SourceError,
    UnknownKindError,
)
from engagequal.testing import assert_events_equal, assert_tables_equal
from engagequal.testing.strategies import event_tables

UTC = dt.timezone.utc


def base_table() -> pa.Table:
    t0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    ids = ["ann", "bö", "chloé", "李", "ann", "bö", "dan"]
    tgt = ["bö", "ann", "李", "chloé", "ann", "dan", "ann"]
    return pa.table({
        "from": pa.array(ids, pa.string()),
        "to": pa.array(tgt, pa.string()),
        "when": pa.array([t0 + dt.timedelta(minutes=17 * i, milliseconds=3 * i)
                          for i in range(len(ids))], pa.timestamp("ms", tz="UTC")),
        "kind": ["message", "reply", "like", "comment", "message", "call", "meeting"],
    })


MAP = {"actor": "from", "target": "to", "ts": "when"}


def _sources(tmp: Path) -> dict[str, Any]:
    import duckdb
    import pandas as pd
    import polars as pl

    t = base_table()
    pq.write_table(t, tmp / "ev.parquet")
    folder = tmp / "parts"
    folder.mkdir()
    pq.write_table(t.slice(0, 3), folder / "part-0.parquet")
    pq.write_table(t.slice(3), folder / "part-1.parquet")
    pacsv.write_csv(t, tmp / "ev.csv")
    con = duckdb.connect()
    return {
        "table": t,
        "reader": t.to_reader(max_chunksize=2),
        "batches": t.to_batches(max_chunksize=3),
        "pandas": t.to_pandas(),
        "pandas_no_capsule": pd.DataFrame(t.to_pydict()),
        "polars": pl.DataFrame(t),
        "polars_lazy": pl.DataFrame(t).lazy(),
        "duckdb": con.from_arrow(t),
        "parquet_file": tmp / "ev.parquet",
        "parquet_file_str": str(tmp / "ev.parquet"),
        "parquet_folder": folder,
        "csv_file": tmp / "ev.csv",
        "dataset": ds.dataset(tmp / "ev.parquet"),
        "list_of_dicts": t.to_pylist(),
        "dict_of_columns": t.to_pydict(),
    }


def test_every_source_gives_identical_events(tmp_path: Path) -> None:
    ref = eq.read_events(base_table(), **MAP)
    assert ref.n_events == 7
    assert ref.users.to_pylist() == sorted({*base_table()["from"].to_pylist(), "李"})
    srcs = _sources(tmp_path)
    assert len(srcs) >= 14
    for name, src in srcs.items():
        ev = eq.read_events(src, **MAP)
        try:
            assert_events_equal(ev, ref)
        except AssertionError as exc:
            raise AssertionError(f"source {name!r}: {exc}") from exc


def test_unreadable_source_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read events"):
        eq.read_events(42)
    with pytest.raises(SourceError, match="no such file"):
        eq.read_events(tmp_path / "nope.parquet")
    (tmp_path / "x.txt").write_text("a b c")
    with pytest.raises(SourceError, match="suffix"):
        eq.read_events(tmp_path / "x.txt")
    assert isinstance(SourceError("x"), TypeError)


# --- ids ----------------------------------------------------------------------------------

def test_ids_full_int64_range_round_trip() -> None:
    lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    actor = pa.array([lo, hi, 0, -1, hi], pa.int64())
    target = pa.array([hi, lo, lo, 0, -1], pa.int64())
    ev = eq.read_events({"actor": actor, "target": target, "ts": [0, 1, 2, 3, 4]})
    assert ev.users.to_pylist() == [lo, -1, 0, hi]
    assert ev.user_ids(ev.actor).equals(actor) and ev.user_ids(ev.target).equals(target)
    g = eq.reciprocity(ev).to_pylist()[0]
    assert g["ties"] == 5 and g["mutual_pairs"] == 1


def test_narrow_and_unsigned_ids_widen() -> None:
    ev = eq.read_events({"actor": pa.array([3, 200], pa.uint8()),
                         "target": pa.array([200, 3], pa.int16()), "ts": [0, 1]})
    assert ev.users.type == pa.int64() and ev.users.to_pylist() == [3, 200]
    with pytest.raises(InputError, match="2\\*\\*63"):
        eq.read_events({"actor": pa.array([2**64 - 1], pa.uint64()),
                        "target": pa.array([1], pa.uint64()), "ts": [0]})


def test_mixed_id_types_are_an_error() -> None:
    with pytest.raises(InputError, match="mix integers and strings"):
        eq.read_events({"actor": [1, 2], "target": ["a", "b"], "ts": [0, 1]})


@given(event_tables(max_users=10))
def test_ids_round_trip(table: pa.Table) -> None:
    ev = eq.read_events(table)
    assert ev.user_ids(ev.actor).to_pylist() == table["actor"].to_pylist()
    assert ev.user_ids(ev.target).to_pylist() == table["target"].to_pylist()
    users = ev.users.to_pylist()
    assert users == sorted(set(users))  # codes follow the id order


def test_dictionary_encoded_ids_and_large_strings() -> None:
    a = pa.array(["x", "y", "x"]).dictionary_encode()
    b = pa.array(["y", "x", "z"], pa.large_string())
    ev = eq.read_events({"actor": a, "target": b, "ts": [0, 1, 2]})
    assert ev.users.to_pylist() == ["x", "y", "z"]
    assert ev.actor.tolist() == [0, 1, 0] and ev.target.tolist() == [1, 0, 2]


# --- times --------------------------------------------------------------------------------

SECS = [1_600_000_000, 1_600_000_061, 1_599_999_999]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Kolkata", "America/New_York"])
def test_timestamps_any_unit_and_zone(unit: str, tz: str | None) -> None:
    scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    col = pa.array([s * scale for s in SECS], pa.int64()).cast(pa.timestamp(unit, tz=tz))
    ev = eq.read_events({"actor": [1, 2, 3], "target": [2, 3, 1], "ts": col})
    assert ev.ts.tolist() == [s * 10**9 for s in SECS]
    assert ev.times(ev.ts).equals(col)  # back in the input's unit and zone
    d = eq.reciprocity(ev, level="dyad")
    assert d.schema.field("first").type == col.type


@pytest.mark.parametrize("col", [pa.array(SECS, pa.int64()), pa.array(SECS, pa.int32()),
                                 pa.array([float(s) for s in SECS]),
                                 pa.array(["2020-09-13T12:26:40Z", "2020-09-13T12:27:41+00:00",
                                           "2020-09-13T12:26:39"]),
                                 pa.array([dt.datetime.fromtimestamp(s, UTC) for s in SECS])])
def test_numeric_string_and_datetime_times(col: pa.Array) -> None:
    ev = eq.read_events({"actor": [1, 2, 3], "target": [2, 3, 1], "ts": col})
    assert ev.ts.tolist() == [s * 10**9 for s in SECS]


def test_fractional_seconds() -> None:
    ev = eq.read_events({"actor": [1], "target": [2], "ts": [1.25]})
    assert ev.ts.tolist() == [1_250_000_000]


# --- typed errors -------------------------------------------------------------------------

def _bad(**over: Any) -> dict[str, Any]:
    cols: dict[str, Any] = {"actor": [1, 2, 3, 4, 5], "target": [2, 3, 4, 5, 1],
                            "ts": [0, 1, 2, 3, 4], "kind": ["like"] * 5}
    cols.update(over)
    return cols


@pytest.mark.parametrize(("cols", "opts", "err", "column", "count"), [
    (_bad(actor=[1, None, 3, None, None]), {}, NullValueError, "actor", 3),
    (_bad(target=[None, 3, 4, 5, 1]), {}, NullValueError, "target", 1),
    (_bad(ts=[0.0, float("nan"), float("inf"), None, 4.0]), {}, InvalidTimeError, "ts", 3),
    (_bad(ts=["2020-01-01", "yesterday", "2020-01-02", "soon", "2020-01-03"]), {},
     InvalidTimeError, "ts", 2),
    (_bad(kind=["like", "poke", "poke", "wave", "like"]), {}, UnknownKindError, "kind", 3),
    (_bad(w=[1.0, -1.0, float("inf"), 2.0, float("nan")]), {"weight": "w"},
     InvalidWeightError, "w", 3),
    (_bad(eid=[1, 1, 2, 3, 3]), {"event_id": "eid"}, DuplicateEventError, "eid", 2),
])
def test_typed_errors_name_column_count_examples(cols: dict[str, Any], opts: dict[str, Any],
                                                 err: type[InputError], column: str,
                                                 count: int) -> None:
    with pytest.raises(err) as info:
        eq.read_events(cols, **opts)
    e = info.value
    assert isinstance(e, ValueError) and isinstance(e, InputError)
    assert e.column == column and e.count == count
    assert 1 <= len(e.examples) <= 3 and all("row" in x for x in e.examples)
    msg = str(e)
    assert repr(column) in msg and f"{count:,} row" in msg and "examples" in msg
    # lenient mode sets exactly those rows aside, counted under the error's reason
    ev = eq.read_events(cols, strict=False, **opts)
    acc = ev.accounting
    assert sum(acc.set_aside.values()) == count
    assert acc.rows_in == acc.rows_used + count == 5


def test_missing_column_names_the_role() -> None:
    with pytest.raises(MissingColumnError) as info:
        eq.read_events({"a": [1], "target": [2], "ts": [0]})
    assert info.value.column == "actor" and "actor='<column>'" in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(MissingColumnError, match="'when'"):
        eq.read_events({"actor": [1], "target": [2], "ts": [0]}, ts="when")


def test_unknown_kind_can_be_mapped() -> None:
    ev = eq.read_events(_bad(kind=["poke"] * 5), kind_weights={"poke": 0.25})
    assert ev.weight.tolist() == [0.25] * 5


def test_self_interactions_kept_and_counted() -> None:
    ev = eq.read_events({"actor": [1, 1, 2], "target": [1, 2, 2], "ts": [0, 1, 2]})
    assert ev.n_events == 3 and ev.accounting.notes["self_interaction"] == 2
    assert eq.reciprocity(ev)["self_interactions"].to_pylist() == [2]


# --- lenient accounting -------------------------------------------------------------------

@st.composite
def flawed(draw: st.DrawFn) -> tuple[pa.Table, dict[str, int]]:
    n = draw(st.integers(0, 40))
    flaw = st.sampled_from(["ok", "ok", "null_actor", "null_target", "bad_ts", "unknown_kind",
                            "bad_weight"])
    flaws = [draw(flaw) for _ in range(n)]
    actor = [None if f == "null_actor" else draw(st.integers(0, 5)) for f in flaws]
    target = [None if f == "null_target" else draw(st.integers(0, 5)) for f in flaws]
    ts = [draw(st.sampled_from([float("nan"), float("inf"), None])) if f == "bad_ts"
          else float(draw(st.integers(0, 10**6))) for f in flaws]
    kind = ["poke" if f == "unknown_kind" else draw(st.sampled_from(["like", "reply", None]))
            for f in flaws]
    weight = [-1.0 if f == "bad_weight" else draw(st.one_of(st.none(), st.floats(0, 3)))
              for f in flaws]
    expected: dict[str, int] = {}
    for f in flaws:
        if f != "ok":
            expected[f] = expected.get(f, 0) + 1
    table = pa.table({"actor": pa.array(actor, pa.int64()), "target": pa.array(target, pa.int64()),
                      "ts": pa.array(ts, pa.float64()), "kind": pa.array(kind, pa.string()),
                      "w": pa.array(weight, pa.float64())})
    return table, expected


@given(flawed())
def test_lenient_rows_in_equals_used_plus_set_aside(case: tuple[pa.Table, dict[str, int]]) -> None:
    table, expected = case
    ev = eq.read_events(table, weight="w", strict=False)
    acc = ev.accounting
    assert acc.rows_in == table.num_rows
    assert acc.rows_in == acc.rows_used + sum(acc.set_aside.values()) == ev.n_events + sum(
        expected.values())
    assert dict(acc.set_aside) == expected
    rows = acc.set_aside_rows
    assert rows.num_rows == sum(expected.values())
    by_reason: dict[str, int] = {}
    for r in rows["reason"].to_pylist():
        by_reason[r] = by_reason.get(r, 0) + 1
    assert by_reason == expected
    t = acc.table()
    assert dict(zip(t["reason"].to_pylist(), t["rows"].to_pylist(), strict=True)).items() >= \
        expected.items()
    # the funnel's claim, checked by marking the codes: every user has a kept event
    assert dataclasses.replace(ev).active.tolist() == ev.active.tolist() == [True] * ev.n_users


# --- invariances --------------------------------------------------------------------------

def _all_tables(table: pa.Table) -> dict[str, pa.Table]:
    ev = eq.read_events(table)
    out = eq.reciprocity_tables(ev)
    out["responsiveness"] = eq.responsiveness(ev, delta="3D")
    return out


KEYS = {"global": [], "user": ["user"], "dyad": ["u", "v"], "responsiveness": ["user"]}


@given(event_tables(max_events=50), st.randoms(use_true_random=False))
def test_row_order_changes_nothing(table: pa.Table, rnd: Any) -> None:
    perm = list(range(table.num_rows))
    rnd.shuffle(perm)
    a = _all_tables(table)
    b = _all_tables(table.take(pa.array(perm, pa.int64())))
    for k in a:
        assert_tables_equal(a[k], b[k], key=KEYS[k], rtol=1e-12, atol=1e-12)


def _relabel(table: pa.Table, mapping: dict[Any, Any]) -> pa.Table:
    typ = pa.string() if isinstance(next(iter(mapping.values())), str) else pa.int64()
    return table.set_column(0, "actor", pa.array([mapping[x] for x in table["actor"]
                                                  .to_pylist()], typ)) \
        .set_column(1, "target", pa.array([mapping[x] for x in table["target"].to_pylist()],
                                          typ))


def _canonical_dyads(t: pa.Table) -> pa.Table:
    """Dyad rows with (u, v) in the id order of the current labels (swap the sides)."""
    rows = []
    for r in t.to_pylist():
        if r["u"] > r["v"]:
            r = {**r, "u": r["v"], "v": r["u"], "w_uv": r["w_vu"], "w_vu": r["w_uv"],
                 "n_uv": r["n_vu"], "n_vu": r["n_uv"]}
        rows.append(r)
    return pa.Table.from_pylist(rows, schema=t.schema)


@given(event_tables(max_events=40, min_events=1), st.booleans(),
       st.randoms(use_true_random=False))
def test_relabelling_ids_changes_nothing(table: pa.Table, keep_order: bool, rnd: Any) -> None:
    old = sorted(set(table["actor"].to_pylist()) | set(table["target"].to_pylist()))
    new = rnd.sample(range(-(10**12), 10**12), len(old))
    if keep_order:
        new.sort()
    else:
        rnd.shuffle(new)
    as_str = rnd.random() < 0.5
    labels = [f"u{x + 10**12:013d}" for x in new] if as_str else new  # padded: order kept
    mapping = dict(zip(old, labels, strict=True))
    a = _all_tables(table)
    b = _all_tables(_relabel(table, mapping))
    assert_tables_equal(a["global"], b["global"], key=[], rtol=1e-12)
    for k in ("user", "responsiveness"):
        t = a[k].set_column(0, "user", pa.array([mapping[x] for x in a[k]["user"].to_pylist()],
                                                b[k].schema.field("user").type))
        assert_tables_equal(t, b[k], key=["user"], rtol=1e-12, atol=1e-12)
    d = a["dyad"]
    typ = b["dyad"].schema.field("u").type
    d = d.set_column(0, "u", pa.array([mapping[x] for x in d["u"].to_pylist()], typ))
    d = d.set_column(1, "v", pa.array([mapping[x] for x in d["v"].to_pylist()], typ))
    if keep_order:
        assert d["u"].to_pylist() == b["dyad"]["u"].to_pylist()  # same row order too
    assert_tables_equal(_canonical_dyads(d), b["dyad"], key=["u", "v"], rtol=1e-12)


# --- reply trees --------------------------------------------------------------------------

@given(event_tables(reply_trees=True, max_events=30, min_events=1))
def test_replies_without_target_aim_at_parent_actor(table: pa.Table) -> None:
    ev = eq.read_events(table, event_id="event_id", parent="parent")
    assert ev.tree is not None and ev.n_events == table.num_rows
    targets = table["target"].to_pylist()
    parents = table["parent"].to_pylist()
    actors = table["actor"].to_pylist()
    got = ev.user_ids(ev.target).to_pylist()
    for i, (t, p) in enumerate(zip(targets, parents, strict=True)):
        expected = actors[p - 1000] if t is None else t
        assert got[i] == expected
    # every event is a tie candidate; the reciprocity tables agree with plain rows
    plain = table.set_column(1, "target", pa.array(got, table.schema.field("target").type))
    a = eq.reciprocity_tables(ev)
    b = eq.reciprocity_tables(plain.drop_columns(["event_id", "parent"]))
    for k in a:
        assert_tables_equal(a[k], b[k], key=KEYS[k])


def test_dictionary_chunks_with_different_and_unused_values() -> None:
    # two chunks with their own dictionaries; "zed" is only on a row set aside
    a1 = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2]), pa.array(["bo", "al", "zed"]))
    a2 = pa.DictionaryArray.from_arrays(pa.array([1, 0]), pa.array(["cy", "al"]))
    t1 = pa.DictionaryArray.from_arrays(pa.array([1, 0, 0]), pa.array(["al", "bo"]))
    t2 = pa.DictionaryArray.from_arrays(pa.array([0, 1]), pa.array(["bo", "cy"]))
    table = pa.table({"actor": pa.chunked_array([a1, a2]), "target": pa.chunked_array([t1, t2]),
                      "ts": pa.chunked_array([pa.array([0, 1, None]), pa.array([3, 4])])})
    ev = eq.read_events(table, strict=False)
    assert ev.users.to_pylist() == ["al", "bo", "cy"]
    assert ev.user_ids(ev.actor).to_pylist() == ["bo", "al", "al", "cy"]
    assert ev.user_ids(ev.target).to_pylist() == ["bo", "al", "bo", "cy"]
    assert dict(ev.accounting.set_aside) == {"bad_ts": 1}


def test_active_users_of_a_subset() -> None:
    ev = eq.read_events({"actor": [1, 2, 3, 4], "target": [2, 1, 2, 2], "ts": [0, 1, 2, 3]})
    assert ev.active.all()
    assert ev.subset(np.array([True, False, False, True])).active.tolist() == [
        True, True, False, True]
    assert ev.subset(np.zeros(4, dtype=bool)).active.tolist() == [False] * 4


def test_parquet_string_ids_equal_in_memory(tmp_path: Path) -> None:
    t = base_table()
    path = tmp_path / "ev.parquet"
    pq.write_table(t, path, row_group_size=2)
    ev = eq.read_events(path, **MAP)
    assert pa.types.is_string(ev.users.type)
    assert_events_equal(ev, eq.read_events(t, **MAP))
