"""Is a peer's result the same as engagequal's?  Canonical order, then column by column."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: sort keys of each result table.  A layer tie table is checked twice: per
#: (ego, alter) without the layer (strength, active), then as the multiset of
#: (ego, layer, active, strength): two alters whose strengths are equal but for
#: the summation order's last bit may swap across a rank boundary, which changes
#: nothing an ego's layers say
KEYS: dict[str, list[str]] = {
    "dyad": ["u", "v"], "user": ["user"], "event": ["event_id"], "thread": ["thread"],
    "tie": ["ego", "alter"], "tie_layers": ["ego", "layer", "active", "strength"],
    "ego_layers": ["ego"], "global": [], "summary": [],
}


def _canon(t: pa.Table, keys: list[str]) -> pa.Table:
    keys = [k for k in keys if k in t.column_names]
    if not keys:
        return t
    # float keys sort by their value rounded to 1e-6: sums in another order differ
    # in the last bits, and must not reorder rows whose values are equal
    sort_t = t
    sort_keys = []
    for k in keys:
        if pa.types.is_floating(t[k].type):
            sort_t = sort_t.append_column(f"__{k}", pc.round(t[k], 6))
            k = f"__{k}"
        sort_keys.append((k, "ascending", "at_end"))
    idx = pc.sort_indices(sort_t, sort_keys=sort_keys)
    return t.take(idx)


def _values(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
    typ = col.type
    if pa.types.is_boolean(typ) or pa.types.is_integer(typ):
        return pc.fill_null(col.cast(pa.int64()), 0).to_numpy(), valid
    if pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return pc.fill_null(col.cast(pa.float64()), 0.0).to_numpy(), valid
    if pa.types.is_timestamp(typ):
        return pc.fill_null(col.cast(pa.int64()), 0).to_numpy(), valid
    return np.asarray(col.to_pylist(), dtype=object), valid


def tables_equal(mine: pa.Table, peer: pa.Table, name: str, *, subset: bool = False,
                 rtol: float = 1e-9) -> str | None:
    """None when equal on the peer's columns, else the first difference found.

    ``subset``: the peer covers only some keys (networkx drops users without a
    tie); engagequal's rows are restricted to the peer's keys first.
    """
    if name == "tie" and "layer" in peer.column_names:
        per_tie = [c for c in peer.column_names if c != "layer"]
        msg = tables_equal(mine, peer.select(per_tie), "tie", subset=subset, rtol=rtol)
        if msg is not None:
            return msg
        lay = [c for c in peer.column_names if c != "alter"]
        return tables_equal(mine, peer.select(lay), "tie_layers", subset=subset, rtol=rtol)
    cols = [c for c in peer.column_names if c in mine.column_names]
    if not cols:
        return f"{name}: no common column (peer has {peer.column_names})"
    keys = KEYS.get(name, [])
    mine = mine.select(cols)
    peer = peer.select(cols)
    if subset and keys and keys[0] in cols:
        mine = mine.filter(pc.is_in(mine[keys[0]], value_set=peer[keys[0]].combine_chunks()))
    if mine.num_rows != peer.num_rows:
        return f"{name}: {mine.num_rows} rows vs {peer.num_rows}"
    mine, peer = _canon(mine, keys), _canon(peer, keys)
    for c in cols:
        a, va = _values(mine[c].cast(peer[c].type) if _castable(mine[c], peer[c]) else mine[c])
        b, vb = _values(peer[c])
        if not np.array_equal(va, vb):
            bad = int(np.flatnonzero(va != vb)[0])
            return f"{name}.{c}: null mask differs (row {bad}: {mine.slice(bad, 1).to_pylist()})"
        if a.dtype == object or b.dtype == object:
            same = np.array([x == y for x, y in zip(a, b)], dtype=bool)
        elif a.dtype.kind == "i" and b.dtype.kind == "i":
            same = a == b
        else:
            same = np.isclose(a, b, rtol=rtol, atol=1e-9) | ~va
        if not same.all():
            bad = int(np.flatnonzero(~same)[0])
            return (f"{name}.{c}: {int((~same).sum())} values differ, e.g. row {bad}: "
                    f"{mine.slice(bad, 1).to_pylist()} vs {peer.slice(bad, 1).to_pylist()}")
    return None


def _castable(a: pa.ChunkedArray, b: pa.ChunkedArray) -> bool:
    """Cast engagequal's column to the peer's type only between int widths / bool."""
    if a.type == b.type:
        return False
    exact = (pa.types.is_integer, pa.types.is_boolean)
    return any(f(a.type) for f in exact) and any(f(b.type) for f in exact)


def results_equal(mine: dict[str, pa.Table], peer: dict[str, pa.Table], *,
                  subset: bool = False) -> str | None:
    """Compare every table the peer produced with engagequal's table of that name."""
    compared = 0
    for name, t in peer.items():
        if name not in mine:
            continue
        msg = tables_equal(mine[name], t, name, subset=subset)
        if msg is not None:
            return msg
        compared += 1
    if not compared:
        return f"nothing to compare (engagequal {sorted(mine)}, peer {sorted(peer)})"
    return None
