"""Naive pure-Python reference implementations, for testing the fast kernels.

Slow on purpose: dictionaries and loops over events, written straight from
the definitions in DESIGN.md section 2, with no numpy and no engagequal
kernel.  Use them on small inputs as oracles.

Examples
--------
>>> rows = [Row(1, 2, 0, 1.0), Row(2, 1, 5, 1.0), Row(2, 3, 9, 1.0)]
>>> reference_reciprocity(rows)["global"]["arc"]
0.6666666666666666
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

__all__ = ["Row", "reference_reciprocity", "reference_responsiveness", "rows_of"]


@dataclass(frozen=True)
class Row:
    """One event: original ids, time in ns, weight and kind."""

    actor: Any
    target: Any
    ts: int
    weight: float
    kind: str = "interaction"


_SCALE = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def _ns(values: pa.Array) -> list[int]:
    t = values.type
    if pa.types.is_timestamp(t):
        return [int(v) * _SCALE[t.unit] for v in values.cast(pa.int64()).to_pylist()]
    if pa.types.is_integer(t):
        return [int(v) * 1_000_000_000 for v in values.to_pylist()]
    return [round(float(v) * 1e9) for v in values.to_pylist()]


def rows_of(table: pa.Table, kind_weights: Mapping[str, float], *, actor: str = "actor",
            target: str = "target", ts: str = "ts", kind: str | None = "kind",
            weight: str | None = None) -> list[Row]:
    """Rows of a clean events table (no nulls but in ``weight``)."""
    names = table.column_names
    kinds = (table[kind].to_pylist() if kind and kind in names
             else ["interaction"] * table.num_rows)
    ws = table[weight].to_pylist() if weight else [None] * table.num_rows
    times = _ns(table[ts].combine_chunks())
    return [Row(a, b, t, float(kind_weights[k]) if w is None else float(w), k)
            for a, b, t, k, w in zip(table[actor].to_pylist(), table[target].to_pylist(),
                                     times, kinds, ws, strict=True)]


def _select(rows: Iterable[Row], window: tuple[int | None, int | None] | None) -> list[Row]:
    t0, t1 = window if window is not None else (None, None)
    return [r for r in rows
            if (t0 is None or r.ts >= t0) and (t1 is None or r.ts < t1)]


def _div(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


def reference_reciprocity(
    rows: Sequence[Row], *, min_weight: float = 0.0,
    window: tuple[int | None, int | None] | None = None,
    half_life_s: float | None = None, reference_ns: int | None = None,
) -> dict[str, Any]:
    """Every reciprocity figure, from the definitions.

    Returns ``{"global": dict, "user": {user: dict}, "dyad": {(u, v): dict}}``
    with the column names of :func:`engagequal.reciprocity` (times in ns).
    """
    sel = _select(rows, window)
    if half_life_s is not None and reference_ns is None:
        reference_ns = max((r.ts for r in sel), default=0)
    w: dict[tuple[Any, Any], float] = {}
    n: dict[tuple[Any, Any], int] = {}
    first: dict[tuple[Any, Any], int] = {}
    last: dict[tuple[Any, Any], int] = {}
    users: set[Any] = set()
    selfs = 0
    for r in sel:
        users.add(r.actor)
        if r.target is not None:
            users.add(r.target)
        if r.target is None:
            continue
        if r.actor == r.target:
            selfs += 1
            continue
        x = r.weight
        if half_life_s is not None:
            assert reference_ns is not None
            x *= 2.0 ** (-((reference_ns - r.ts) / 1e9) / half_life_s)
        k = (r.actor, r.target)
        w[k] = w.get(k, 0.0) + x
        n[k] = n.get(k, 0) + 1
        first[k] = min(first.get(k, r.ts), r.ts)
        last[k] = max(last.get(k, r.ts), r.ts)
    ties = {k for k, x in w.items() if x > min_weight}
    mutual = {k for k in ties if (k[1], k[0]) in ties}

    def tw(k: tuple[Any, Any]) -> float:
        return w[k] if k in ties else 0.0

    nn = len(users)
    arc = _div(len(mutual), len(ties))
    pairs_mutual = len(mutual) // 2
    connected = len(ties) - pairs_mutual
    dens = len(ties) / (nn * (nn - 1)) if nn > 1 else 0.0
    rho = None if arc is None or nn < 2 or dens >= 1 else (arc - dens) / (1 - dens)
    rec = sum(min(tw(k), tw((k[1], k[0]))) for k in ties)
    glob = {"arc": arc, "pair_ratio": _div(pairs_mutual, connected), "rho": rho,
            "weighted": _div(rec, sum(tw(k) for k in ties)), "users": nn, "ties": len(ties),
            "mutual_pairs": pairs_mutual, "connected_pairs": connected,
            "self_interactions": selfs}
    per_user: dict[Any, dict[str, Any]] = {}
    for u in users:
        out_t = {k for k in ties if k[0] == u}
        in_t = {k for k in ties if k[1] == u}
        m = {k for k in out_t if k in mutual}
        so = sum(tw(k) for k in out_t)
        si = sum(tw(k) for k in in_t)
        sr = sum(min(tw(k), tw((k[1], k[0]))) for k in out_t)
        per_user[u] = {
            "node_reciprocity": _div(2 * len(m), len(out_t) + len(in_t)),
            "out_share": _div(len(m), len(out_t)), "connections": len(m),
            "contacts": len(out_t) - len(m), "audience": len(in_t) - len(m),
            "out_ties": len(out_t), "in_ties": len(in_t), "out_strength": so,
            "in_strength": si, "reciprocated_strength": sr,
            "nonreciprocated_out": max(so - sr, 0.0), "nonreciprocated_in": max(si - sr, 0.0),
            "weighted_reciprocity": _div(sr, so), "balance": _div(min(so, si), max(so, si)),
        }
    dyads: dict[tuple[Any, Any], dict[str, Any]] = {}
    for a, b in w:
        u, v = (a, b) if a < b else (b, a)
        if (u, v) in dyads:
            continue
        fw, bw = (u, v), (v, u)
        wu, wv = w.get(fw, 0.0), w.get(bw, 0.0)
        dyads[(u, v)] = {
            "w_uv": wu, "w_vu": wv, "n_uv": n.get(fw, 0), "n_vu": n.get(bw, 0),
            "first": min(first.get(fw, math.inf), first.get(bw, math.inf)),
            "last": max(last.get(fw, -math.inf), last.get(bw, -math.inf)),
            "balance": _div(min(wu, wv), max(wu, wv)), "mutual": fw in mutual,
        }
    return {"global": glob, "user": per_user, "dyad": dyads}


def reference_responsiveness(
    rows: Sequence[Row], *, delta_ns: int, message_kinds: set[str],
    window: tuple[int | None, int | None] | None = None,
) -> dict[Any, dict[str, Any]]:
    """Per user: received, answered, response_rate, median_response_s, sent,
    sent_answered, answered_share (see :func:`engagequal.responsiveness`).

    An event ``u -> v`` at ``t`` of a message kind is answered when ``v`` sent
    a message-kind event to ``u`` at a time in ``(t, t + delta]``; the wait is
    to the first one.
    """
    sel = _select(rows, window)
    msgs = [r for r in sel if r.kind in message_kinds and r.target is not None
            and r.actor != r.target]
    users: set[Any] = set()
    for r in sel:
        users.add(r.actor)
        if r.target is not None:
            users.add(r.target)
    out: dict[Any, dict[str, Any]] = {
        u: {"received": 0, "answered": 0, "waits": [], "sent": 0, "sent_answered": 0}
        for u in users}
    for r in msgs:
        later = [s.ts - r.ts for s in msgs
                 if s.actor == r.target and s.target == r.actor and s.ts > r.ts]
        wait = min(later) if later else None
        ok = wait is not None and wait <= delta_ns
        out[r.target]["received"] += 1
        out[r.actor]["sent"] += 1
        if ok:
            assert wait is not None
            out[r.target]["answered"] += 1
            out[r.target]["waits"].append(wait / 1e9)
            out[r.actor]["sent_answered"] += 1
    res: dict[Any, dict[str, Any]] = {}
    for u, d in out.items():
        res[u] = {"received": d["received"], "answered": d["answered"],
                  "response_rate": _div(d["answered"], d["received"]),
                  "median_response_s": statistics.median(d["waits"]) if d["waits"] else None,
                  "sent": d["sent"], "sent_answered": d["sent_answered"],
                  "answered_share": _div(d["sent_answered"], d["sent"])}
    return res
