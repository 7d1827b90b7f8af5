"""Hypothesis strategies for event streams (needs ``hypothesis``, extra ``test``).

Composite strategies other tests reuse: ids that are integers anywhere in the
int64 range or unicode strings, times as Arrow timestamps of any unit with or
without a time zone or as numeric epoch seconds, kinds from the default
weights, optional explicit weights and optional reply trees.

Examples
--------
>>> from hypothesis import given, settings
>>> from engagequal.testing.strategies import event_tables
>>> @settings(max_examples=5, deadline=None)
... @given(event_tables())
... def test_reads(t):
...     import engagequal as eq
...     assert eq.read_events(t, kind="kind").n_events == t.num_rows
>>> test_reads()
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import strategies as st

__all__ = [
    "KINDS",
    "TIME_UNITS",
    "TIME_ZONES",
    "event_tables",
    "id_pools",
    "time_columns",
]

#: Kinds drawn by :func:`event_tables` (all have default weights).
KINDS = ("like", "comment", "reply", "message", "mention", "share", "call", "meeting", "follow")
#: Time representations: Arrow timestamp units, or numeric epoch seconds.
TIME_UNITS = ("s", "ms", "us", "ns", "int_seconds", "float_seconds")
#: Zones for timestamp columns (None: a naive timestamp, read as UTC).
TIME_ZONES = (None, "UTC", "Asia/Kolkata", "America/New_York")

_I64 = np.iinfo(np.int64)


@st.composite
def id_pools(draw: st.DrawFn, *, min_size: int = 1, max_size: int = 8,
             kind: str | None = None) -> list[Any]:
    """A list of distinct user ids: ints anywhere in int64, or unicode strings.

    ``kind`` is ``"int"``, ``"str"`` or None (either).  Integer pools mix
    extreme values (``-2**63``, ``2**63 - 1``) with small ones, so both the
    dense and the hashed encodings get exercised.
    """
    kind = kind or draw(st.sampled_from(["int", "str"]))
    if kind == "int":
        small = st.integers(-5, 40)
        wide = st.integers(int(_I64.min), int(_I64.max))
        elems: st.SearchStrategy[Any] = st.one_of(small, small, wide)
    else:
        elems = st.text(min_size=0, max_size=6)
    return draw(st.lists(elems, min_size=min_size, max_size=max_size, unique=True))


@st.composite
def time_columns(draw: st.DrawFn, seconds: list[int], *, unit: str | None = None,
                 tz: str | bool | None = False) -> pa.Array:
    """An Arrow time column for the given epoch ``seconds``, in a drawn
    representation (``unit`` from :data:`TIME_UNITS`, ``tz`` from
    :data:`TIME_ZONES`; pass them to fix one)."""
    unit = unit or draw(st.sampled_from(TIME_UNITS))
    if tz is False:
        tz = draw(st.sampled_from(TIME_ZONES))
    if unit == "int_seconds":
        return pa.array(seconds, pa.int64())
    if unit == "float_seconds":
        return pa.array([float(s) for s in seconds], pa.float64())
    scale = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    return pa.array([s * scale for s in seconds], pa.int64()).cast(
        pa.timestamp(unit, tz=tz if isinstance(tz, str) else None))


@st.composite
def event_tables(
    draw: st.DrawFn,
    *,
    min_events: int = 0,
    max_events: int = 40,
    max_users: int = 8,
    id_kind: str | None = None,
    unit: str | None = None,
    tz: str | bool | None = False,
    kinds: bool = True,
    weights: bool = False,
    self_loops: bool = True,
    reply_trees: bool = False,
) -> pa.Table:
    """A table of interaction events.

    Columns ``actor``, ``target``, ``ts``, plus ``kind`` (when ``kinds``),
    ``weight`` (when ``weights``; some nulls, meaning "the kind's weight") and
    ``event_id`` / ``parent`` (when ``reply_trees``: parents always point to
    earlier-drawn events, so the forest has no cycle; some replies have a
    null target, aimed at their parent's actor).  Users repeat, so pairs get
    several events and both directions.  Times are whole seconds within about
    a year, in a drawn representation (see :func:`time_columns`).
    """
    pool = draw(id_pools(min_size=1 if min_events == 0 else 2, max_size=max_users,
                         kind=id_kind))
    n = draw(st.integers(min_events, max_events))
    idx = st.integers(0, len(pool) - 1)
    actor_i = draw(st.lists(idx, min_size=n, max_size=n))
    target_i = draw(st.lists(idx, min_size=n, max_size=n))
    if not self_loops and len(pool) > 1:
        target_i = [t if t != a else (a + 1) % len(pool) for a, t in zip(actor_i, target_i)]
    secs = draw(st.lists(st.integers(1_500_000_000, 1_530_000_000), min_size=n, max_size=n))
    cols: dict[str, Any] = {
        "actor": [pool[i] for i in actor_i],
        "target": [pool[i] for i in target_i],
    }
    id_typ = pa.string() if pool and isinstance(pool[0], str) else pa.int64()
    out = {
        "actor": pa.array(cols["actor"], id_typ),
        "target": pa.array(cols["target"], id_typ),
        "ts": draw(time_columns(secs, unit=unit, tz=tz)),
    }
    if kinds:
        out["kind"] = pa.array(draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n)),
                               pa.string())
    if weights:
        w = st.one_of(st.none(), st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False))
        out["weight"] = pa.array(draw(st.lists(w, min_size=n, max_size=n)), pa.float64())
    if reply_trees:
        parents: list[int | None] = []
        for i in range(n):
            parents.append(None if i == 0 else draw(st.one_of(st.none(), st.integers(0, i - 1))))
        targets = list(out["target"].to_pylist())
        for i, p in enumerate(parents):
            if p is not None and draw(st.booleans()):
                targets[i] = None
        out["target"] = pa.array(targets, id_typ)
        out["event_id"] = pa.array([1000 + i for i in range(n)], pa.int64())
        out["parent"] = pa.array([None if p is None else 1000 + p for p in parents], pa.int64())
    return pa.table(out)
