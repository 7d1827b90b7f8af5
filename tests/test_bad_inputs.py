"""A corpus of hostile inputs, each with its expected outcome (issue 10).

Every case is a source (built fresh per use: readers are consumed, files are
written under ``tmp_path``), read options and the expected outcome:

* strict mode: either an exact typed error (class, a message pattern naming
  the column and the count, ``err.column`` and ``err.count``), or a read that
  sets nothing aside;
* lenient mode (``strict=False``): either the same typed error (source-level
  flaws that no row can be blamed for), or the exact ``set_aside`` and
  ``notes`` counts, with ``rows_in == rows_used + sum(set_aside)``;
* then ``engagequal.analyze`` in lenient mode (where the read succeeds): no
  exception, and no floating-point value in any table is NaN (values the spec
  leaves undefined are null).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engagequal as eq
from engagequal.errors import (
    DuplicateEventError,
    EngagequalError,
    EngagequalWarning,
    InputError,
    InvalidTimeError,
    InvalidWeightError,
    MissingColumnError,
    NullValueError,
    OptionError,
    ParentCycleError,
    SourceError,
    UnknownKindError,
)
from engagequal.testing import assert_no_nan

I64_MIN, I64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
T0 = 1_700_000_000  # epoch seconds
TREE = {"event_id": "id", "parent": "parent"}

Source = Callable[[Path], Any]


@dataclass(frozen=True)
class Case:
    """One hostile input and what the library must do with it."""

    name: str
    source: Source
    options: dict[str, Any] = field(default_factory=dict)
    rows: int | None = None  # rows_in, when the read succeeds
    # strict mode: the typed error, a regex of its message, its column and count
    error: type[EngagequalError] | None = None
    match: str | None = None
    column: str | None = None
    count: int | None = None
    # lenient mode: None -> the same error as strict; else the exact counts
    set_aside: dict[str, int] | None = None
    notes: dict[str, int] = field(default_factory=dict)
    check: Callable[[eq.Events], None] | None = None  # more checks of the lenient read
    report: Callable[[eq.Report], None] | None = None  # checks of the lenient analysis


def cols(n: int | None = None, **over: Any) -> Source:
    """A mapping of columns: five users in a ring by default, overridden by ``over``."""
    base: dict[str, Any] = {"actor": [1, 2, 3, 4, 5], "target": [2, 3, 4, 5, 1],
                            "ts": [T0 + 60 * i for i in range(5)], "kind": ["message"] * 5}
    base.update(over)
    if n is not None:
        base = {k: v[:n] for k, v in base.items()}
    return lambda _tmp: {k: (v if isinstance(v, pa.Array) else list(v)) for k, v in base.items()}


def table(**columns: Any) -> Source:
    return lambda _tmp: pa.table(columns)


def tree(actor: list[Any], parent: list[Any], ids: list[Any] | None = None, **extra: Any
         ) -> Source:
    """A reply forest: event ``ids`` (default 1..n), their parents, aimed at the parent."""
    n = len(actor)
    ids = list(range(1, n + 1)) if ids is None else ids
    data: dict[str, Any] = {"actor": actor, "target": [None] * n,
                            "ts": [T0 + 10 * i for i in range(n)], "kind": ["reply"] * n,
                            "id": ids, "parent": parent, **extra}
    return lambda _tmp: data


def parquet_file(t: pa.Table, mangle: Callable[[bytes], bytes] | None = None,
                 name: str = "events.parquet", **write: Any) -> Source:
    def make(tmp: Path) -> Path:
        path = tmp / name
        pq.write_table(t, path, **write)
        if mangle is not None:
            path.write_bytes(mangle(path.read_bytes()))
        return path
    return make


def parquet_folder(*parts: pa.Table, mangle_last: Callable[[bytes], bytes] | None = None
                   ) -> Source:
    def make(tmp: Path) -> Path:
        folder = tmp / "dataset"
        folder.mkdir(exist_ok=True)
        for i, part in enumerate(parts):
            path = folder / f"part-{i}.parquet"
            pq.write_table(part, path)
            if mangle_last is not None and i == len(parts) - 1:
                path.write_bytes(mangle_last(path.read_bytes()))
        return folder
    return make


def ring(n: int, ts: pa.Array | None = None) -> pa.Table:
    """``n`` events on a ring of 7 users, one a minute."""
    users = np.arange(n) % 7
    return pa.table({"actor": pa.array(users, pa.int64()),
                     "target": pa.array((users + 1) % 7, pa.int64()),
                     "ts": ts if ts is not None else pa.array(T0 + 60 * np.arange(n), pa.int64()),
                     "kind": pa.array(["message"] * n)})


def text_file(name: str, content: str) -> Source:
    def make(tmp: Path) -> Path:
        (tmp / name).write_text(content)
        return tmp / name
    return make


def truncate(at: float) -> Callable[[bytes], bytes]:
    return lambda raw: raw[: int(len(raw) * at)]


def overwrite(at: float, junk: bytes = b"\xff" * 16) -> Callable[[bytes], bytes]:
    def f(raw: bytes) -> bytes:
        i = int(len(raw) * at)
        return raw[:i] + junk + raw[i + len(junk):]
    return f


def nat_rows(_tmp: Path) -> list[dict[str, Any]]:
    import pandas as pd

    return [{"actor": 1, "target": 2, "ts": pd.NaT}]


def empty_columns(**types: pa.DataType) -> Source:
    base = {"actor": pa.int64(), "target": pa.int64(), "ts": pa.int64(), **types}
    return lambda _tmp: pa.table({k: pa.array([], t) for k, t in base.items()})


def stamps(unit: str, tz: str | None, secs: list[int]) -> pa.Array:
    scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    return pa.array([s * scale for s in secs], pa.int64()).cast(pa.timestamp(unit, tz=tz))


# --- checks used by several cases ---------------------------------------------------------

def users_are(*ids: Any) -> Callable[[eq.Events], None]:
    def check(ev: eq.Events) -> None:
        assert ev.users.to_pylist() == sorted(ids)
    return check


def times_are(*secs: float) -> Callable[[eq.Events], None]:
    def check(ev: eq.Events) -> None:
        assert ev.ts.tolist() == [round(s * 1e9) for s in secs]
    return check


def kinds_are(*kinds: str) -> Callable[[eq.Events], None]:
    def check(ev: eq.Events) -> None:
        assert list(ev.kinds) == sorted(kinds)
    return check


def summary_is(report: eq.Report, **values: Any) -> None:
    s = report.summary.to_pylist()[0]
    assert {k: s[k] for k in values} == values


def no_ties(report: eq.Report) -> None:
    s = report.summary.to_pylist()[0]
    assert s["ties"] == 0 and s["arc"] is None and s["pair_ratio"] is None
    assert report.dyads.num_rows == 0


def one_tie(report: eq.Report) -> None:
    s = report.summary.to_pylist()[0]
    assert (s["ties"], s["arc"], s["pair_ratio"], s["rho"]) == (1, 0.0, 0.0, -1.0)
    u = {r["user"]: r for r in report.users.to_pylist()}
    assert u[2]["out_share"] is None  # user 2 reaches no one: undefined, null
    assert u[1]["out_share"] == 0.0


def parents_are(*parents: int) -> Callable[[eq.Events], None]:
    def check(ev: eq.Events) -> None:
        assert ev.tree is not None and ev.tree.parent.tolist() == list(parents)
    return check


def depths_are(*depths: int) -> Callable[[eq.Events], None]:
    def check(ev: eq.Events) -> None:
        assert ev.tree is not None and ev.tree.depth.tolist() == list(depths)
    return check


LONG = "x" * 1_000_000
UNICODE = ["ann", "bö", "李", "😀", "e\u0301", "é", "", " ", "a\x00b", "\u202eabc", LONG]

# --- the corpus ---------------------------------------------------------------------------

CASES: list[Case] = [
    # empty input
    Case("empty arrays", empty_columns(), rows=0, set_aside={}),
    Case("empty table with every role", empty_columns(kind=pa.string(), id=pa.int64(),
                                                      parent=pa.int64(), thread=pa.string(),
                                                      w=pa.float64()),
         {**TREE, "thread": "thread", "weight": "w"}, rows=0, set_aside={}),
    Case("empty string-id table", empty_columns(actor=pa.string(), target=pa.string()),
         rows=0, set_aside={}),
    Case("empty Parquet file", parquet_file(ring(0)), rows=0, set_aside={}),
    Case("empty list of dicts", lambda _tmp: [], error=MissingColumnError, match="'actor'",
         column="actor"),
    Case("no columns at all", lambda _tmp: pa.table({}), error=MissingColumnError,
         match="'actor'", column="actor"),
    # one event
    Case("one event", cols(1), rows=1, set_aside={}, report=one_tie),
    Case("one self-interaction", cols(1, target=[1]), rows=1, set_aside={},
         notes={"self_interaction": 1}, report=no_ties),
    Case("one root of a reply tree", tree([1], [None]), TREE, rows=1, set_aside={}),
    Case("one event in a Parquet file", parquet_file(ring(1)), rows=1, set_aside={}),
    # all self-interactions
    Case("all self-interactions", cols(target=[1, 2, 3, 4, 5]), rows=5, set_aside={},
         notes={"self_interaction": 5}, report=no_ties),
    Case("all self-replies in a thread", tree([7, 7, 7, 7], [None, 1, 2, 3]), TREE, rows=4,
         set_aside={}, notes={"self_interaction": 3}, check=depths_are(0, 1, 2, 3),
         report=no_ties),
    # nulls in every column
    Case("null actor", cols(actor=[1, None, 3, None, None]), error=NullValueError,
         match=r"'actor': 3 row", column="actor", count=3, set_aside={"null_actor": 3}),
    Case("null target", cols(target=[None, 3, 4, 5, None]), error=NullValueError,
         match=r"'target': 2 row", column="target", count=2, set_aside={"null_target": 2}),
    Case("null time", cols(ts=[T0, None, T0, T0, None]), error=InvalidTimeError,
         match=r"'ts': 2 row", column="ts", count=2, set_aside={"bad_ts": 2}),
    Case("null kind is the default kind", cols(kind=[None, "like", None, None, "reply"]),
         rows=5, set_aside={}),
    Case("null weight is the kind's weight", cols(w=[None, 2.0, None, None, None]),
         {"weight": "w"}, rows=5, set_aside={},
         check=lambda ev: np.testing.assert_array_equal(ev.weight, [3, 2, 3, 3, 3])),
    Case("null event_id", tree([1, 2, 3], [None, 1, None], ids=[1, None, None]), TREE,
         error=NullValueError, match=r"'id': 2 row", column="id", count=2,
         set_aside={"null_event_id": 2}),
    Case("null parent is a root", tree([1, 2, 3], [None, None, None]), TREE, rows=3,
         set_aside={}, check=parents_are(-1, -1, -1)),
    Case("null thread takes the root's thread",
         tree([1, 2, 3], [None, 1, 2], thread=["t", None, None]),
         {**TREE, "thread": "thread"}, rows=3, set_aside={}),
    Case("null thread on a root too", tree([1, 2, 3], [None, 1, None], thread=[None, None, "t"]),
         {**TREE, "thread": "thread"}, error=NullValueError, match=r"'thread': 2 row",
         column="thread", count=2, set_aside={"null_thread": 2}),
    Case("every column null", table(actor=pa.nulls(4, pa.int64()), target=pa.nulls(4, pa.int64()),
                                    ts=pa.nulls(4, pa.int64()), kind=pa.nulls(4, pa.string())),
         error=NullValueError, match=r"'actor': 4 row", column="actor", count=4,
         set_aside={"null_actor": 4}),
    Case("every column of null type", table(actor=pa.nulls(3), target=pa.nulls(3),
                                            ts=pa.nulls(3)),
         error=NullValueError, match=r"'actor': 3 row", column="actor", count=3,
         set_aside={"null_actor": 3}),
    Case("nulls in every column, one reason per row",
         cols(actor=[None, 2, 3, 4, 5], target=[2, None, 4, 5, 1],
              ts=[T0, T0, None, T0, T0], kind=[None, "like", "like", None, "like"]),
         error=NullValueError, match=r"'actor': 1 row", column="actor", count=1,
         set_aside={"null_actor": 1, "null_target": 1, "bad_ts": 1}),
    # mixed id types
    Case("actor ints, target strings", cols(target=["2", "3", "4", "5", "1"]), error=InputError,
         match="mix integers and strings", column="actor"),
    Case("ints and strings in one column of dicts",
         lambda _tmp: [{"actor": 1, "target": 2, "ts": T0}, {"actor": "b", "target": 2, "ts": T0}],
         error=SourceError, match="list of dicts"),
    Case("pandas NaT in a list of dicts", nat_rows, error=SourceError, match="list of dicts"),
    Case("float ids", cols(actor=[1.0, 2.0, 3.0, 4.0, 5.0]), error=InputError,
         match=r"'actor' has type double", column="actor"),
    Case("boolean ids", cols(actor=[True, False, True, False, True]), error=InputError,
         match=r"'actor' has type bool", column="actor"),
    Case("string parents of integer events", tree([1, 2], [None, "one"]), TREE,
         error=InputError, match="parent ids of type string"),
    Case("uint64 ids above int64", table(actor=pa.array([2**64 - 1, 1], pa.uint64()),
                                         target=pa.array([1, 2], pa.uint64()), ts=[T0, T0]),
         error=InputError, match=r"2\*\*63"),
    Case("narrow and unsigned ints widen", table(actor=pa.array([1, 200], pa.uint8()),
                                                 target=pa.array([200, 1], pa.int16()),
                                                 ts=[T0, T0]),
         rows=2, set_aside={}, check=users_are(1, 200)),
    # ids at the int64 limits
    Case("user ids at the int64 limits",
         cols(actor=[I64_MIN, I64_MAX, 0, -1, I64_MAX], target=[I64_MAX, I64_MIN, I64_MIN, 0, -1]),
         rows=5, set_aside={}, check=users_are(I64_MIN, -1, 0, I64_MAX)),
    Case("event ids at the int64 limits",
         tree([1, 2, 3, 4], [None, I64_MAX, I64_MIN, I64_MIN + 1],
              ids=[I64_MAX, I64_MIN, I64_MIN + 1, 0]), TREE, rows=4, set_aside={},
         check=parents_are(-1, 0, 1, 2)),
    Case("event ids near the top, parents near the bottom",
         tree([1, 2, 3], [None, I64_MIN, I64_MAX], ids=[I64_MAX, I64_MAX - 1, I64_MAX - 2]),
         TREE, rows=3, set_aside={}, notes={"orphan_parent": 1}, check=parents_are(-1, -1, 0)),
    # huge and unicode string ids
    Case("unicode, empty, NUL, bidi and 1 MB string ids",
         cols(len(UNICODE), actor=UNICODE, target=UNICODE[1:] + UNICODE[:1],
              ts=[T0 + i for i in range(len(UNICODE))], kind=["message"] * len(UNICODE)),
         rows=len(UNICODE), set_aside={}, check=users_are(*UNICODE)),
    Case("composed and decomposed é are two users",
         cols(2, actor=["é", "e\u0301"], target=["e\u0301", "é"]), rows=2, set_aside={},
         report=lambda r: summary_is(r, mutual_pairs=1, users=2)),
    Case("1 MB string ids in Parquet (dictionary read)",
         parquet_file(pa.table({"actor": [LONG, "b"], "target": ["b", LONG], "ts": [T0, T0 + 1]})),
         rows=2, set_aside={}, check=users_are(LONG, "b")),
    Case("unicode event ids and threads",
         tree(["a", "b", "c"], [None, "😀", "李"], ids=["😀", "李", "e\u0301"],
              thread=["ü", "ü", "ü"]), {**TREE, "thread": "thread"}, rows=3, set_aside={},
         check=depths_are(0, 1, 2)),
    # timestamps: order, duplicates, units, zones, NaN and infinities
    Case("times out of order", cols(ts=[T0 + 300, T0, T0 + 120, T0 - 86_400, T0 + 60]), rows=5,
         set_aside={}, check=times_are(T0 + 300, T0, T0 + 120, T0 - 86_400, T0 + 60)),
    Case("every time equal", cols(ts=[T0] * 5), rows=5, set_aside={}),
    Case("duplicated times in a reply chain", tree([1, 2, 1, 2], [None, 1, 2, 3], ts=[T0] * 4),
         TREE, rows=4,
         set_aside={}, check=depths_are(0, 1, 2, 3)),
    *[Case(f"timestamp[{u}, {tz}]", cols(3, ts=stamps(u, tz, [T0, T0 + 1, T0 - 1])), rows=3,
           set_aside={}, check=times_are(T0, T0 + 1, T0 - 1))
      for u in ("s", "ms", "us", "ns") for tz in (None, "Asia/Kolkata")],
    Case("float and int epoch seconds", cols(3, ts=[float(T0), T0 + 0.25, T0 - 1.5]), rows=3,
         set_aside={}, check=times_are(T0, T0 + 0.25, T0 - 1.5)),
    Case("ISO strings with offsets",
         cols(3, ts=["2023-11-14T22:13:20Z", "2023-11-15T03:43:20+05:30", "2023-11-14T22:13:20"]),
         rows=3, set_aside={}, check=times_are(T0, T0, T0)),
    Case("date64 with milliseconds",
         cols(2, ts=pa.array([86_400_000, 86_400_123], pa.date64())), rows=2, set_aside={},
         check=times_are(86_400, 86_400.123)),
    Case("NaN and infinite times", cols(ts=[math.nan, math.inf, -math.inf, T0, None]),
         error=InvalidTimeError, match=r"'ts': 4 row", column="ts", count=4,
         set_aside={"bad_ts": 4}),
    Case("times beyond int64 nanoseconds", cols(ts=[I64_MIN, I64_MAX, 10**11, T0, -(10**11)]),
         error=InvalidTimeError, match=r"'ts': 4 row", column="ts", count=4,
         set_aside={"bad_ts": 4}),
    Case("float times beyond the year 2262", cols(ts=[1e300, 9.3e9, T0, T0, T0]),
         error=InvalidTimeError, match=r"'ts': 2 row", column="ts", count=2,
         set_aside={"bad_ts": 2}),
    Case("unparseable and out-of-range ISO strings",
         cols(ts=["yesterday", "", "2024-13-01", "9999-12-31T23:59:59", "2024-01-01"]),
         error=InvalidTimeError, match=r"'ts': 4 row", column="ts", count=4,
         set_aside={"bad_ts": 4}),
    Case("date beyond datetime in a strict error's examples",
         cols(2, actor=[None, 2], ts=pa.array([2**31 - 1, 19_000], pa.date32())),
         error=NullValueError, match=r"'actor': 1 row.*raw date32", column="actor", count=1,
         set_aside={"null_actor": 1}),
    Case("boolean times", cols(ts=[True] * 5), error=InvalidTimeError,
         match=r"'ts' has type bool", column="ts"),
    Case("duration times", cols(ts=pa.array([1] * 5, pa.duration("s"))), error=InvalidTimeError,
         match=r"'ts' has type duration", column="ts"),
    # unknown kinds
    Case("unknown kinds", cols(kind=["poke", "like", "poke", "Like", "message"]),
         error=UnknownKindError, match=r"'kind': 3 row.*poke", column="kind", count=3,
         set_aside={"unknown_kind": 3}),
    Case("empty-string kind", cols(kind=["", "like", "like", "like", "like"]),
         error=UnknownKindError, match=r"'kind': 1 row", column="kind", count=1,
         set_aside={"unknown_kind": 1}),
    Case("unknown kinds mapped", cols(kind=["poke", "like", "poke", "Like", "message"]),
         {"kind_weights": {"poke": 0.2, "Like": 0.1}}, rows=5, set_aside={}),
    Case("integer kinds are unknown names", cols(kind=[1, 2, 3, 4, 5]), error=UnknownKindError,
         match=r"'kind': 5 row", column="kind", count=5, set_aside={"unknown_kind": 5}),
    Case("negative kind weight option", cols(), {"kind_weights": {"like": -1}},
         error=OptionError, match="kind_weights"),
    Case("huge kind weight option", cols(), {"kind_weights": {"like": 1e300}},
         error=OptionError, match="kind_weights"),
    # weights
    Case("negative, NaN, infinite and huge weights", cols(w=[-1.0, math.nan, math.inf, 1e308, 2.0]),
         {"weight": "w"}, error=InvalidWeightError, match=r"'w': 4 row", column="w", count=4,
         set_aside={"bad_weight": 4}),
    Case("string weights", cols(w=["1", "heavy", "1", "1", "1"]), {"weight": "w"},
         error=InvalidWeightError, match="'w' is not numeric", column="w"),
    # duplicate event ids
    Case("an exact duplicate row", tree([1, 2, 2], [None, 1, 1], ids=[1, 2, 2], ts=[T0] * 3),
         TREE,
         error=DuplicateEventError, match=r"'id': 1 row", column="id", count=1,
         set_aside={"duplicate_row": 1}),
    Case("an exact duplicate with a null-typed column",
         lambda _tmp: {"actor": [1, 1], "target": [2, 2], "ts": [T0, T0], "id": [1, 1],
                       "w": pa.nulls(2)},
         {"event_id": "id", "weight": "w"}, error=DuplicateEventError, match=r"'id': 1 row",
         column="id", count=1, set_aside={"duplicate_row": 1}),
    Case("an id reused by a different row",
         lambda _tmp: {"actor": [1, 2, 3], "target": [2, 1, 1], "ts": [T0, T0 + 5, T0 + 9],
                       "id": [1, 2, 2], "parent": [None, 1, 1]},
         TREE, error=DuplicateEventError, match=r"'id': 1 row", column="id", count=1,
         set_aside={"duplicate_event_id": 1}),
    Case("a second parent at the same time: the nearest parent is kept",
         lambda _tmp: {"actor": [1, 2, 3, 4, 4], "target": [None] * 5, "ts": [T0] * 5,
                       "id": [1, 2, 3, 4, 4], "parent": [None, 1, 2, 3, 1]},
         TREE, error=DuplicateEventError, column="id", count=1,
         set_aside={"duplicate_event_id": 1}, notes={"second_parent": 1},
         check=parents_are(-1, 0, 1, 0)),
    Case("string ids repeated three times", tree(["a", "b", "c", "d"], [None, "x", "x", "x"],
                                                 ids=["x", "y", "y", "y"]),
         TREE, error=DuplicateEventError, match=r"'id': 2 row", column="id", count=2,
         set_aside={"duplicate_event_id": 2}),
    # parents: self, cycles, other threads, missing
    Case("a parent pointing to itself", tree([1, 2, 3], [None, 2, 2]), TREE,
         error=ParentCycleError, match=r"'parent': 1 row", column="parent", count=1,
         set_aside={"parent_cycle": 1}, notes={"orphan_parent": 1},
         check=parents_are(-1, -1)),
    Case("a three-cycle with a reply hanging off it",
         tree([1, 2, 3, 4, 5], [None, 4, 2, 3, 3]), TREE, error=ParentCycleError,
         match=r"'parent': 3 row", column="parent", count=3, set_aside={"parent_cycle": 3},
         notes={"orphan_parent": 1}, check=parents_are(-1, -1)),
    Case("two cycles and a self-loop", tree([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 5, None]), TREE,
         error=ParentCycleError, match=r"'parent': 5 row", column="parent", count=5,
         set_aside={"parent_cycle": 5}),
    Case("a string-id cycle", tree(["a", "b"], ["q", "p"], ids=["p", "q"]), TREE,
         error=ParentCycleError, column="parent", count=2, set_aside={"parent_cycle": 2},
         report=lambda r: summary_is(r, events=0, users=0)),
    Case("a second parent set aside on a cycle leaves a self-parent (fuzzing find)",
         lambda _tmp: {"actor": [1, 2, 3, 4, 5], "target": [None] * 5, "ts": [T0] * 5,
                       "kind": ["reply"] * 5, "id": [40, 10, 50, 40, 50],
                       "parent": [50, 40, 50, 10, 10]},
         TREE, error=DuplicateEventError, match=r"'id': 2 row", column="id", count=2,
         set_aside={"duplicate_event_id": 2, "parent_cycle": 2}, notes={"orphan_parent": 1},
         check=parents_are(-1), report=lambda r: summary_is(r, events=1)),
    *[Case(f"an event under itself and under a missing parent, {order} (hypothesis find)",
           lambda _tmp, p=parents: {"actor": [1, 1], "target": [None] * 2, "ts": [T0] * 2,
                                    "id": [7, 7], "parent": p},
           TREE, error=DuplicateEventError, column="id", count=1,
           set_aside={"duplicate_event_id": 1}, notes={"orphan_parent": 1},
           check=parents_are(-1))
      for order, parents in (("self first", [7, 99]), ("self last", [99, 7]))],
    Case("parents across threads", tree([1, 2, 3, 4], [None, 1, 2, 3],
                                        thread=["a", "a", "b", "b"]),
         {**TREE, "thread": "thread"}, rows=4, set_aside={}, notes={"cross_thread_parent": 1},
         check=depths_are(0, 1, 0, 1)),
    Case("parents missing from the data", tree([1, 2, 3, 4], [None, 99, 1, 98]), TREE, rows=4,
         set_aside={}, notes={"orphan_parent": 2}, check=depths_are(0, 0, 1, 0)),
    Case("a reply before its parent in time", tree([1, 2, 3], [2, None, 1]), TREE, rows=3,
         set_aside={}, check=depths_are(1, 0, 2)),
    Case("rows listed children first", tree([1, 2, 3, 4], [2, 3, 4, None]), TREE, rows=4,
         set_aside={}, check=depths_are(3, 2, 1, 0)),
    Case("parent= without event_id=", tree([1, 2], [None, 1]), {"parent": "parent"},
         error=OptionError, match="event_id"),
    # truncated or corrupt Parquet
    *[Case(f"Parquet truncated to {int(100 * at)}%", parquet_file(ring(500), truncate(at)),
           error=SourceError, match=r"events\.parquet") for at in (0.0, 0.1, 0.5, 0.99)],
    *[Case(f"Parquet bytes overwritten at {int(100 * at)}%",
           parquet_file(ring(2000), overwrite(at), row_group_size=500),
           error=SourceError, match=r"events\.parquet") for at in (0.02, 0.3, 0.6, 0.999)],
    Case("not a Parquet file", text_file("x.parquet", "actor,target\n1,2\n"),
         error=SourceError, match=r"x\.parquet"),
    Case("a truncated file in a folder",
         parquet_folder(ring(50), ring(50), mangle_last=truncate(0.5)),
         error=SourceError, match=r"part-1\.parquet"),
    Case("corrupt pages in a folder's file",
         parquet_folder(ring(50), ring(4000), mangle_last=overwrite(0.3)),
         error=SourceError, match=r"part-1\.parquet"),
    Case("a ragged CSV file", text_file("e.csv", "actor,target,ts\n1,2,3\n4,5\n"),
         error=SourceError, match=r"e\.csv"),
    Case("a missing path", lambda tmp: tmp / "nowhere.parquet", error=SourceError,
         match="no such file"),
    # schema drift between the files of one dataset
    Case("time int64 in one file, double in the next",
         parquet_folder(ring(20), ring(20, pa.array(T0 + 60.0 * np.arange(20)))),
         error=SourceError, match=r"schema drift: column 'ts'.*part-1\.parquet"),
    Case("time int64 in one file, timestamp in the next",
         parquet_folder(ring(20), ring(20, stamps("ms", "UTC", list(range(T0, T0 + 20))))),
         error=SourceError, match=r"schema drift: column 'ts'.*part-1\.parquet"),
    Case("actor int64 in one file, strings in the next",
         parquet_folder(ring(20), ring(20).set_column(
             0, "actor", pa.array([str(i % 7) for i in range(20)]))),
         error=SourceError, match=r"schema drift: column 'actor'.*part-1\.parquet"),
    Case("actor int64 in one file, int32 in the next",
         parquet_folder(ring(20), ring(20).set_column(0, "actor",
                                                      ring(20)["actor"].cast(pa.int32()))),
         error=SourceError, match=r"schema drift: column 'actor'"),
    Case("the time column renamed in the second file",
         parquet_folder(ring(20), ring(20).rename_columns(["actor", "target", "time", "kind"])),
         error=InvalidTimeError, match=r"'ts': 20 row", column="ts", count=20,
         set_aside={"bad_ts": 20}),
    Case("the kind column absent from the second file: the default kind",
         parquet_folder(ring(20), ring(30).drop_columns(["kind"])), rows=50, set_aside={},
         check=kinds_are("interaction", "message")),
    Case("same schema, two files", parquet_folder(ring(20), ring(30)), rows=50, set_aside={}),
]


def _ids(cases: list[Case]) -> list[str]:
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "case names must be unique"
    return names


def _check_error(case: Case, exc: BaseException) -> None:
    assert case.error is not None
    assert type(exc) is case.error, f"{type(exc).__name__}: {exc}"
    msg = str(exc)
    if case.match:
        assert re.search(case.match, msg, flags=re.S), msg
    if isinstance(exc, InputError):
        if case.column is not None:
            assert exc.column == case.column and repr(case.column) in msg, msg
        if case.count is not None:
            assert exc.count == case.count and f"{case.count:,} row" in msg, msg
            assert 1 <= len(exc.examples) <= 3 and all("row" in x for x in exc.examples)


def _check_read(case: Case, ev: eq.Events, strict: bool) -> None:
    acc = ev.accounting
    aside = sum(acc.set_aside.values())
    assert acc.rows_in == acc.rows_used + aside
    assert acc.rows_used == ev.n_events
    assert acc.set_aside_rows.num_rows == aside
    if case.rows is not None:
        assert acc.rows_in == case.rows
    if strict:
        assert aside == 0
    else:
        assert dict(acc.set_aside) == case.set_aside
    assert dict(acc.notes) == case.notes
    if case.check is not None:
        case.check(ev)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_bad_input(case: Case, tmp_path: Path) -> None:
    # strict
    if case.error is not None:
        with pytest.raises(EngagequalError) as info:
            eq.read_events(case.source(tmp_path), strict=True, **case.options)
        _check_error(case, info.value)
    else:
        _check_read(case, eq.read_events(case.source(tmp_path), **case.options), strict=True)
    # lenient
    if case.set_aside is None:
        with pytest.raises(EngagequalError) as info:
            eq.read_events(case.source(tmp_path), strict=False, **case.options)
        _check_error(case, info.value)
        return
    ev = eq.read_events(case.source(tmp_path), strict=False, **case.options)
    rows_in = ev.accounting.rows_in
    assert rows_in == ev.n_events + sum(case.set_aside.values())
    _check_read(case, ev, strict=False)
    # the kernels on what was kept: no exception, no NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EngagequalWarning)  # e.g. "too few ties" notices
        for method in ("rank", "natural"):
            report = eq.analyze(case.source(tmp_path), strict=False, layer_method=method,
                                **case.options)
            assert_no_nan(report)
            s = report.summary.to_pylist()[0]
            assert s["events"] == ev.n_events and s["rows_in"] == rows_in
            dropped = dict(zip(report.dropped["reason"].to_pylist(),
                               report.dropped["rows"].to_pylist(), strict=True))
            assert dropped == {**case.set_aside, **case.notes}
            if case.report is not None:
                case.report(report)


def test_corpus_size() -> None:
    """The closing figures of issue 10 quote this count."""
    assert len(CASES) >= 100, len(CASES)


def test_order_and_units_change_nothing() -> None:
    """Times out of order, or in another unit and zone, give the same tables."""
    from engagequal.testing import assert_tables_equal

    t = ring(60)
    perm = np.random.default_rng(3).permutation(60)
    base = eq.analyze(t, layer_method="rank")
    shuffled = eq.analyze(t.take(pa.array(perm)), layer_method="rank")
    zoned = eq.analyze(t.set_column(2, "ts", stamps("us", "America/New_York",
                                                    t["ts"].to_pylist())), layer_method="rank")
    for other in (shuffled, zoned):
        assert_tables_equal(other.users, base.users, key=["user"], rtol=1e-12, atol=1e-12)
        assert_tables_equal(other.dyads.drop_columns(["first", "last"]),
                            base.dyads.drop_columns(["first", "last"]), key=["u", "v"],
                            rtol=1e-12, atol=1e-12)
