"""``read_events``: validate, map columns and encode ids, once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.errors import (
    DuplicateEventError,
    InputError,
    InvalidTimeError,
    InvalidWeightError,
    MissingColumnError,
    NullValueError,
    OptionError,
    ParentCycleError,
    UnknownKindError,
)
from engagequal.events import Accounting, Events, Tree
from engagequal.ingest.encode import encode_ids, encode_kinds, id_type
from engagequal.ingest.schema import (
    DEFAULT_KIND,
    MAX_WEIGHT,
    ColumnMap,
    merge_kind_weights,
    times_to_ns,
)
from engagequal.ingest.sources import to_table
from engagequal.kernels.pages import small_pages
from engagequal.kernels.parallel import aside, both, pmap
from engagequal.kernels.trees import cycle_members, root_and_depth

__all__ = ["events_from_table", "read_events"]


class _Default(str):
    """A column name the user did not choose (absent is fine for optional roles)."""


_KIND = _Default("kind")
_TARGET = _Default("target")

# reason -> error class, in the order rows are checked
_ERRORS: dict[str, type[InputError]] = {
    "null_actor": NullValueError,
    "null_target": NullValueError,
    "null_event_id": NullValueError,
    "bad_ts": InvalidTimeError,
    "unknown_kind": UnknownKindError,
    "bad_weight": InvalidWeightError,
    "duplicate_row": DuplicateEventError,
    "duplicate_event_id": DuplicateEventError,
    "parent_cycle": ParentCycleError,
    "null_thread": NullValueError,
}


def read_events(
    source: Any,
    *,
    actor: str = "actor",
    target: str | None = _TARGET,
    ts: str = "ts",
    kind: str | None = _KIND,
    event_id: str | None = None,
    parent: str | None = None,
    thread: str | None = None,
    weight: str | None = None,
    kind_weights: Mapping[str, float] | None = None,
    strict: bool = True,
) -> Events:
    """Read interaction events from any table-like source into :class:`Events`.

    Parameters
    ----------
    source : table-like or Events
        A ``pyarrow.Table`` / ``RecordBatchReader``, anything with
        ``__arrow_c_stream__`` (pandas, polars, DuckDB), a polars LazyFrame, a
        ``pyarrow.dataset.Dataset``, a Parquet / CSV file or folder, a mapping
        of columns or a list of dicts.  An ``Events`` is returned unchanged.
    actor, target, ts, kind, event_id, parent, thread, weight : str or None
        The source column that plays each role of the event model.  Names are
        never guessed; ``None`` marks an optional role as absent.  ``kind``
        defaults to a column named ``"kind"`` when there is one (else every
        event is an ``"interaction"``); ``target`` may be null on replies when
        ``parent`` is mapped (a reply is aimed at its parent's actor; a root
        with no target is a post aimed at no one).
    kind_weights : mapping of str to float, optional
        Weights per kind, overriding and extending
        :data:`engagequal.ingest.DEFAULT_KIND_WEIGHTS`.
    strict : bool, default True
        Raise on the first kind of bad row; when False, set bad rows aside and
        count them by reason in ``Events.accounting``.

    Returns
    -------
    Events

    Raises
    ------
    MissingColumnError
        A mapped column is absent.
    NullValueError, InvalidTimeError, UnknownKindError, InvalidWeightError,
    DuplicateEventError, ParentCycleError
        In strict mode, with the column, the count and up to three example rows.

    Notes
    -----
    Policies, one per flaw:

    * a null actor, an unusable time (null, NaN, infinite, unparseable), a
      kind without a weight, a negative, non-finite or huge (above
      :data:`~engagequal.ingest.schema.MAX_WEIGHT`, 1e15) weight, a null target on
      a row that is not a reply, a null ``event_id`` -> bad row;
    * rows sharing an ``event_id``: the earliest is kept, the others are bad
      (``duplicate_row`` when every mapped field is equal, else
      ``duplicate_event_id``, e.g. a node with a second parent); in lenient
      mode an event listed under several parents at its kept time keeps the
      nearest present parent (least depth, then smallest parent id: the
      breadth-first distance, independent of row order), counted as
      ``second_parent``;
    * a parent that is not in the data makes the reply a root
      (``orphan_parent``, kept and counted);
    * a parent in another thread (given ``thread`` column) is cut, the reply
      becomes a root of its own thread (``cross_thread_parent``, kept);
    * events on a parent cycle are bad (``parent_cycle``); their children
      become roots (``orphan_parent``);
    * self-interactions are kept (they belong to threads), excluded from tie
      metrics and counted (``self_interaction``);
    * a null ``kind`` is the default kind ``"interaction"``; a null weight is the
      kind's weight.

    Examples
    --------
    >>> import engagequal as eq
    >>> ev = eq.read_events([{"actor": "ann", "target": "bob", "ts": 0, "kind": "message"},
    ...                      {"actor": "bob", "target": "ann", "ts": 60, "kind": "like"}])
    >>> ev.n_events, ev.users.to_pylist(), ev.weight.tolist()
    (2, ['ann', 'bob'], [3.0, 0.1])
    """
    if isinstance(source, Events):
        return source
    if parent is not None and event_id is None:
        raise OptionError("parent= needs event_id= (the ids the parents refer to)")
    cmap = ColumnMap(actor=actor, target=target, ts=ts, kind=kind, event_id=event_id,
                     parent=parent, thread=thread, weight=weight)
    # Parquet string columns of kinds and ids come as dictionaries: only the
    # distinct values get hashed (integer columns are unaffected)
    with small_pages():  # short-lived buffers and scratch arrays, written in order
        table = to_table(source, columns=list(cmap.roles().values()),
                         dictionary=[c for c in (cmap.kind, cmap.actor, cmap.target) if c])
        pa.default_memory_pool().release_unused()  # the reader's scratch buffers
        ev = events_from_table(table, cmap, kind_weights=kind_weights, strict=strict)
        del table
        pa.default_memory_pool().release_unused()  # hand the read buffers back to the system
    return ev


def _mask(col: pa.ChunkedArray | pa.Array) -> NDArray[np.bool_]:
    if col.null_count == 0:
        return np.zeros(len(col), dtype=bool)
    return np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _flat(col: pa.ChunkedArray) -> pa.Array:
    return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)


def _example_rows(part: pa.Table) -> list[dict[str, Any]]:
    """``part`` as dicts; a value Python cannot hold (a timestamp past year 9999,
    a date beyond ``datetime``'s range) is shown as its raw storage integer."""
    try:
        rows: list[dict[str, Any]] = part.to_pylist()
    except (ValueError, OverflowError, pa.ArrowException):
        pass
    else:
        return rows
    cols: dict[str, list[Any]] = {}
    for name in part.column_names:
        col = _flat(part[name])
        try:
            cols[name] = col.to_pylist()
        except (ValueError, OverflowError, pa.ArrowException):
            try:
                raw = col.view(pa.int64() if col.type.bit_width == 64 else pa.int32()).to_pylist()
            except (ValueError, pa.ArrowException):  # not a 32 or 64-bit type
                raw = ["?"] * len(col)
            cols[name] = [None if v is None else f"{v} (raw {col.type})" for v in raw]
    return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


class _Rows:
    """Collects bad rows by reason, raising at once in strict mode."""

    def __init__(self, table: pa.Table, cmap: ColumnMap, strict: bool) -> None:
        self.table = table
        self.cmap = cmap
        self.strict = strict
        self.n = table.num_rows
        self.reason = np.full(self.n, -1, dtype=np.int8)
        self.names: list[str] = []

    @property
    def bad(self) -> NDArray[np.bool_]:
        return self.reason >= 0

    def flag(self, reason: str, mask: NDArray[np.bool_], column: str | None, what: str) -> None:
        if not mask.any():  # the common case, one cheap pass
            return
        new = mask & (self.reason < 0)
        count = int(new.sum())
        if count == 0:
            return
        if self.strict:
            rows = np.flatnonzero(new)[:3]
            cols = list(self.cmap.roles().values())
            examples = _example_rows(self.table.select(cols).take(pa.array(rows)))
            for r, ex in zip(rows.tolist(), examples, strict=True):
                ex["row"] = r
            col_txt = f"column {column!r}: " if column else ""
            raise _ERRORS[reason](
                f"{col_txt}{count:,} row(s) {what} (reason {reason!r}); examples: {examples}. "
                "Fix the data or pass strict=False to set such rows aside and count them.",
                column=column, count=count, examples=examples,
            )
        if reason not in self.names:
            self.names.append(reason)
        self.reason[new] = self.names.index(reason)

    def accounting(self, rows_used: int, notes: dict[str, int]) -> Accounting:
        counts = np.bincount(self.reason[self.reason >= 0], minlength=len(self.names))
        aside = {name: int(c) for name, c in zip(self.names, counts, strict=True) if c}
        rows = np.flatnonzero(self.reason >= 0)
        reasons = pa.DictionaryArray.from_arrays(
            pa.array(self.reason[rows].astype(np.int32)), pa.array(self.names, pa.string())
        ).cast(pa.string()) if rows.size else pa.array([], pa.string())
        table = pa.table({"row": pa.array(rows, pa.int64()), "reason": reasons})
        return Accounting(rows_in=self.n, rows_used=rows_used, set_aside=aside,
                          notes={k: v for k, v in notes.items() if v}, set_aside_rows=table)


def events_from_table(
    table: pa.Table,
    cmap: ColumnMap,
    *,
    kind_weights: Mapping[str, float] | None = None,
    strict: bool = True,
) -> Events:
    """Build :class:`Events` from one Arrow table and a column map (the funnel)."""
    names = set(table.column_names)
    roles = cmap.roles()
    optional_default = {"kind": isinstance(cmap.kind, _Default),
                        "target": isinstance(cmap.target, _Default) and cmap.parent is not None}
    missing = [(role, col) for role, col in roles.items()
               if col not in names and not optional_default.get(role, False)]
    if missing:
        role, col = missing[0]
        raise MissingColumnError(
            f"column {col!r} (role {role!r}) is not in the source; available columns: "
            f"{sorted(names)}. Map it with {role}='<column>'.",
            column=col,
        )
    for role in ("kind", "target"):
        if role in roles and roles[role] not in names:  # an absent default column
            cmap = dataclasses.replace(cmap, **{role: None})  # type: ignore[arg-type]
            roles = cmap.roles()
    if "target" not in roles and cmap.parent is None:
        raise MissingColumnError("events need a target column, or parent= for replies",
                                 column="target")
    table = table.select(list(dict.fromkeys(roles.values())))
    rows = _Rows(table, cmap, strict)
    n = table.num_rows
    weights = merge_kind_weights(kind_weights)

    # --- row-level checks -------------------------------------------------
    actor_col = table[cmap.actor]  # chunked: ids are encoded chunk by chunk, never combined
    rows.flag("null_actor", _mask(actor_col), cmap.actor, "have a null actor")
    if cmap.target is not None:
        target_col = table[cmap.target]
        tnull = _mask(target_col)
    else:
        target_col = pa.chunked_array([pa.nulls(n, actor_col.type)])
        tnull = np.ones(n, dtype=bool)
    if cmap.parent is None:
        rows.flag("null_target", tnull, cmap.target, "have a null target and are not replies")
    ts_col = table[cmap.ts]
    kind_col = table[cmap.kind] if cmap.kind is not None else None

    def kinds() -> tuple[list[str], NDArray[np.int16], NDArray[np.float64]]:
        if kind_col is not None:
            names, code = encode_kinds(kind_col, DEFAULT_KIND)
        else:
            names, code = [DEFAULT_KIND], np.zeros(n, dtype=np.int16)
        kind_w = np.array([weights.get(k, 0.0) for k in names], dtype=np.float64)
        return names, code, kind_w[code] if n else np.zeros(0)

    # times and kinds are independent: converted side by side
    (ts_ns, ts_bad), (kind_names, kind_code, weight) = both(
        lambda: times_to_ns(ts_col, cmap.ts), kinds)
    rows.flag("bad_ts", ts_bad, cmap.ts, "have a null, NaN, infinite or unparseable time")
    unknown = [i for i, k in enumerate(kind_names) if k not in weights]
    if unknown:
        rows.flag("unknown_kind", np.isin(kind_code, unknown), cmap.kind,
                  f"have a kind without a weight ({[kind_names[i] for i in unknown][:5]}; "
                  f"known: {sorted(weights)}; map it with kind_weights=)")
    if cmap.weight is not None:
        wcol = _flat(table[cmap.weight])
        try:
            wv = pc.fill_null(wcol.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidWeightError(f"column {cmap.weight!r} is not numeric: {exc}",
                                     column=cmap.weight) from exc
        wnull = _mask(wcol)
        with np.errstate(invalid="ignore"):
            wbad = ~wnull & (~np.isfinite(wv) | (wv < 0) | (wv > MAX_WEIGHT))
        rows.flag("bad_weight", wbad, cmap.weight,
                  f"have a negative, non-finite or huge (> {MAX_WEIGHT:g}) weight")
        weight = np.where(wnull | wbad, weight, wv)

    eid_col: pa.Array | None = None
    dense: _Dense | None = None
    if cmap.event_id is not None:
        eid_col = _flat(table[cmap.event_id])
        if pa.types.is_dictionary(eid_col.type):
            eid_col = eid_col.dictionary_decode()
        rows.flag("null_event_id", _mask(eid_col), cmap.event_id, "have a null event_id")
        dense = _flag_duplicates(rows, table, eid_col, ts_ns, cmap)

    # --- keep the good rows -------------------------------------------------
    keep = ~rows.bad
    notes: dict[str, int] = {}
    tree: Tree | None = None
    parent_pos: NDArray[np.int64] | None = None
    forest: tuple[NDArray[np.int64], NDArray[np.int32]] | None = None
    typ = id_type([actor_col.type, target_col.type], [cmap.actor, cmap.target or "target"])

    def codes(kidx: NDArray[np.int64] | None) -> tuple[_Users, _Threads | None]:
        return (_encode_users(actor_col, target_col, tnull, kidx, typ),
                _encode_threads(table, cmap, kidx) if eid_col is not None else None)

    early = None
    if eid_col is not None and not rows.bad.any():
        # user and thread ids are encoded beside the tree (on the other core),
        # for every row: used as they are unless the tree sets rows aside (10M
        # events: the encodings 0.45 and 0.15 s, the tree 0.6 s)
        early = aside(lambda: codes(None))
    if eid_col is not None:
        tree_state, forest = _build_tree(rows, table, eid_col, keep, cmap, notes, ts_ns,
                                         dense)
        keep = ~rows.bad
        parent_pos = tree_state
    # the common case, every row kept: no copies of the columns
    kidx = None if bool(keep.all()) else np.flatnonzero(keep)
    n_kept = n if kidx is None else int(kidx.size)
    if early is not None and kidx is None:
        (a_codes, t_codes, users, tnull_k), threads = early()
    else:
        (a_codes, t_codes, users, tnull_k), threads = codes(kidx)
    if parent_pos is not None:
        # replies without a target are aimed at their parent's actor
        fill = tnull_k & (parent_pos >= 0)
        t_codes[fill] = a_codes[parent_pos[fill]]
    notes["self_interaction"] = int(np.count_nonzero(a_codes == t_codes))
    if eid_col is not None and parent_pos is not None:
        tree = _finish_tree(table, eid_col, kidx, parent_pos, cmap, notes, forest, threads)
    acc = rows.accounting(n_kept, notes)
    ev = Events(
        actor=a_codes,
        target=t_codes,
        ts=ts_ns if kidx is None else ts_ns[kidx],
        kind=kind_code if kidx is None else kind_code[kidx],
        weight=np.ascontiguousarray(weight if kidx is None else weight[kidx], dtype=np.float64),
        users=users,
        kinds=tuple(kind_names),
        kind_weights=weights,
        time_type=table.schema.field(cmap.ts).type,
        tree=tree,
        accounting=acc,
    )
    # the dictionary holds only ids of kept rows: every user has an event
    ev.__dict__["active"] = np.ones(ev.n_users, dtype=bool)
    return ev


#: rows per block of the block-wise passes over event ids
_BLOCK = 1 << 20

#: ``(lo, lut, unique)`` of :func:`_dense_index`
_Dense = tuple[int, NDArray[np.int32], bool]


def _flag_duplicates(rows: _Rows, table: pa.Table, eid: pa.Array, ts_ns: NDArray[np.int64],
                     cmap: ColumnMap) -> _Dense | None:
    """Flag every row but the earliest of each repeated event_id.

    Returns the lookup table of :func:`_dense_index` when the ids have one (the
    parent positions reuse it)."""
    ok = ~rows.bad
    dense = _dense_index(eid)
    if dense is not None:  # integer ids in a compact range: a lookup table, no hashing
        lo, lut, unique = dense
        if unique:
            return dense
        first = lut[eid.to_numpy(zero_copy_only=False).astype(np.int64, copy=False) - lo]
        dup_any = ok & (first != np.arange(rows.n, dtype=np.int32))
        del lut, first
    else:
        first = pc.index_in(eid, value_set=eid).to_numpy(zero_copy_only=False)
        dup_any = ok & (first != np.arange(rows.n))
    if not dup_any.any():
        return dense
    # the ids involved, among good rows
    ids = pc.unique(eid.filter(pa.array(dup_any)))
    involved = np.flatnonzero(ok & pc.is_in(eid, value_set=ids).to_numpy(zero_copy_only=False))
    grp = pc.index_in(eid.take(pa.array(involved)), value_set=ids).to_numpy(zero_copy_only=False)
    order = np.lexsort((involved, ts_ns[involved], grp))
    g_sorted = grp[order]
    is_first = np.ones(order.size, dtype=bool)
    is_first[1:] = g_sorted[1:] != g_sorted[:-1]
    losers = involved[order[~is_first]]
    keeper = involved[order[is_first]][np.searchsorted(g_sorted[is_first], g_sorted[~is_first])]
    cols = list(cmap.roles().values())
    same = np.ones(losers.size, dtype=bool)
    for c in cols:
        col = _flat(table[c])
        a = col.take(pa.array(losers))
        b = col.take(pa.array(keeper))
        if pa.types.is_null(a.type):  # all null: equal
            continue
        try:
            eq = pc.equal(a, b)
        except pa.ArrowNotImplementedError:  # a type without a comparison kernel
            eq = pa.array([x == y for x, y in zip(a.to_pylist(), b.to_pylist(), strict=True)])
        both_null = pc.and_(a.is_null(), b.is_null())
        same &= pc.or_(pc.fill_null(eq, False), both_null).to_numpy(zero_copy_only=False)
    exact = np.zeros(rows.n, dtype=bool)
    exact[losers[same]] = True
    other = np.zeros(rows.n, dtype=bool)
    other[losers[~same]] = True
    rows.flag("duplicate_row", exact, cmap.event_id, "repeat an earlier row exactly")
    rows.flag("duplicate_event_id", other, cmap.event_id,
              "reuse the event_id of an earlier, different row (e.g. a second parent)")
    return dense


def _parent_positions(eid: pa.Array, par: pa.Array | pa.ChunkedArray,
                      dense: _Dense | None = None) -> NDArray[np.int64]:
    """Position of each parent id among ``eid`` (-1 null, -2 not found).

    ``par`` may be chunked (it is read block by block, never combined);
    ``dense`` is ``_dense_index(eid)`` when already computed."""
    if len(par) == 0:
        return np.zeros(0, dtype=np.int64)
    pnull = _mask(par) if par.null_count else None
    if pa.types.is_dictionary(par.type):
        par = (pa.chunked_array([c.dictionary_decode() for c in par.chunks],
                                par.type.value_type)
               if isinstance(par, pa.ChunkedArray) else par.dictionary_decode())
    if par.type != eid.type:
        try:
            par = par.cast(eid.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"parent ids of type {par.type} cannot match event ids of type "
                             f"{eid.type}: {exc}", column=None) from exc
    if dense is None:
        dense = _dense_index(eid)
    if dense is not None:
        lo, lut, _ = dense
        out = np.empty(len(par), dtype=np.int64)

        def block(a: int) -> None:  # block by block: no event-sized temporaries
            blk = par.slice(a, _BLOCK)
            off = pc.fill_null(blk, lo).to_numpy(zero_copy_only=False).astype(np.int64)
            off -= lo
            outside = (off < 0) | (off >= lut.size)
            np.clip(off, 0, lut.size - 1, out=off)
            got = out[a:a + len(blk)]
            got[:] = lut[off]
            got[outside | (got == len(eid))] = -2

        pmap(block, range(0, len(par), _BLOCK))
    else:
        pos = pc.index_in(par, value_set=eid)
        out = pc.fill_null(pos, -2).to_numpy(zero_copy_only=False).astype(np.int64)
    if pnull is not None:
        out[pnull] = -1
    return out


def _dense_index(keys: pa.Array) -> _Dense | None:
    """``(lo, lut, unique)`` with ``lut[k - lo]`` the first position of id ``k``
    (``len(keys)`` where absent) and ``unique`` whether no id repeats, for
    integer ids without nulls spanning at most four times their number; else
    None (hash lookups are used instead).  Built block by block, so that no
    event-sized temporary is allocated."""
    n = len(keys)
    if n == 0 or n >= 2**31 - 1 or keys.null_count or not pa.types.is_integer(keys.type):
        return None
    k = keys.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    lo, hi = int(k.min()), int(k.max())
    if hi - lo + 1 > max(4 * n, 1 << 16):
        return None
    lut = np.full(hi - lo + 1, n, dtype=np.int32)
    blocks = range(0, n, _BLOCK)

    def write(a: int) -> None:  # any one writer wins among repeated ids ...
        lut[k[a:a + _BLOCK] - lo] = np.arange(a, min(a + _BLOCK, n), dtype=np.int32)

    def filled(a: int) -> int:
        return int(np.count_nonzero(lut[a:a + _BLOCK] != n))

    pmap(write, blocks)
    # the ids are unique when they fill as many slots as there are rows
    unique = sum(pmap(filled, range(0, lut.size, _BLOCK))) == n
    if not unique:  # ... so repeated ids take the first position
        np.minimum.at(lut, k - lo, np.arange(n, dtype=np.int32))
    return lo, lut, unique


def _build_tree(rows: _Rows, table: pa.Table, eid_col: pa.Array, keep: NDArray[np.bool_],
                cmap: ColumnMap, notes: dict[str, int],
                ts_ns: NDArray[np.int64] | None = None,
                dense: _Dense | None = None
                ) -> tuple[NDArray[np.int64], tuple[NDArray[np.int64], NDArray[np.int32]] | None]:
    """Parent positions among the good rows, after setting aside cycles and
    unnamed threads (strict mode raises on either), and choosing among the
    parents of an event listed under several (lenient mode)."""

    def positions() -> tuple[NDArray[np.int64] | None, NDArray[np.int64], NDArray[np.bool_]]:
        """Kept rows (None: every row, no copies), their parents' positions, orphans."""
        kidx = None if not rows.bad.any() else np.flatnonzero(~rows.bad)
        n_k = rows.n if kidx is None else kidx.size
        if cmap.parent is None:
            return kidx, np.full(n_k, -1, dtype=np.int64), np.zeros(n_k, bool)
        eid = eid_col if kidx is None else eid_col.take(pa.array(kidx))
        par = table[cmap.parent]
        par = par if kidx is None else par.take(pa.array(kidx))
        pos = _parent_positions(eid, par, dense if kidx is None else None)
        orphans = pos == -2
        pos[orphans] = -1
        if root_rows.size:  # an event also listed as a root at its kept time is a root
            assert kidx is not None  # (root_rows come from rows set aside)
            is_root = np.isin(kidx, root_rows)
            pos[is_root] = -1
            orphans[is_root] = False
        if second:
            assert ts_ns is not None and kidx is not None
            pos, orphans = _second_parents(rows, table, eid_col, kidx, pos, orphans, ts_ns,
                                           cmap, notes)
        return kidx, pos, orphans

    second = (ts_ns is not None and cmap.parent is not None
              and "duplicate_event_id" in rows.names)
    root_rows = _root_rows(rows, table, eid_col, ts_ns, cmap)

    # Set aside cycles and unnamed threads until none is left: the rows set aside
    # can change what remains (an event listed under several parents can be left
    # with only itself, closing a new cycle), so each change is checked again.
    # Every round sets at least one row aside; without flaws there is one round.
    while True:
        kidx, pos, orphans = positions()

        def row(x: NDArray[np.int64], kidx: NDArray[np.int64] | None = kidx
                ) -> NDArray[np.int64]:
            return x if kidx is None else kidx[x]

        root_c, depth_c, stuck = root_and_depth(pos)
        if stuck.any():
            members = cycle_members(pos, stuck)
            mask = np.zeros(rows.n, dtype=bool)
            mask[row(members)] = True
            ids = eid_col.take(pa.array(row(members[:10]))).to_pylist()
            more = " ..." if members.size > 10 else ""
            rows.flag("parent_cycle", mask, cmap.parent,
                      f"lie on parent cycles (event ids {ids}{more})")
            continue
        thr = table[cmap.thread] if cmap.thread is not None else None
        if thr is not None and thr.null_count:
            tnull = _mask(thr if kidx is None else thr.take(pa.array(kidx)))
            unnamed = tnull & tnull[root_c]
            if unnamed.any():
                mask = np.zeros(rows.n, dtype=bool)
                mask[row(np.flatnonzero(unnamed))] = True
                rows.flag("null_thread", mask, cmap.thread,
                          "have a null thread and so has the root of their reply tree")
                continue
        break
    notes["orphan_parent"] = int(orphans.sum())
    # the roots and depths of the final forest serve _finish_tree
    return pos, (root_c, depth_c)


def _root_rows(rows: _Rows, table: pa.Table, eid_col: pa.Array,
               ts_ns: NDArray[np.int64] | None, cmap: ColumnMap) -> NDArray[np.int64]:
    """Kept rows whose event is also listed, at the same time, with a null parent."""
    if ts_ns is None or cmap.parent is None or "duplicate_event_id" not in rows.names:
        return np.zeros(0, dtype=np.int64)
    losers = np.flatnonzero(rows.reason == rows.names.index("duplicate_event_id"))
    losers = losers[_mask(_flat(table[cmap.parent]).take(pa.array(losers)))]
    if losers.size == 0:
        return losers.astype(np.int64)
    kidx = np.flatnonzero(~rows.bad)
    at = pc.fill_null(pc.index_in(eid_col.take(pa.array(losers)),
                                  value_set=eid_col.take(pa.array(kidx))), -1)
    at_np = at.to_numpy(zero_copy_only=False).astype(np.int64)
    ok = at_np >= 0
    keepers = kidx[at_np[ok]]
    same = ts_ns[keepers] == ts_ns[losers[ok]]
    return np.unique(keepers[same]).astype(np.int64)


def _second_parents(rows: _Rows, table: pa.Table, eid_col: pa.Array, kidx: NDArray[np.int64],
                    pos: NDArray[np.int64], orphans: NDArray[np.bool_],
                    ts_ns: NDArray[np.int64], cmap: ColumnMap,
                    notes: dict[str, int]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """An event listed under several parents at the same time keeps the nearest.

    The rows set aside as ``duplicate_event_id`` that have the kept row's time
    offer their parent as a candidate.  Each such event (unless it is also
    listed as a root) takes, among its candidates present in the data (the
    kept row's parent included), the one of least depth, ties to the smallest
    parent ``event_id``: the breadth-first (shortest) distance from the root,
    whatever the row order.  Absent parents and the event itself are ignored;
    an event with no present candidate stays an ``orphan_parent`` root.

    Rounds: start from the smallest-id candidate; then every event moves to its
    best candidate among those that reach a root (a candidate caught in a
    parent cycle is never taken).  A move never closes a cycle: a node that
    reaches a root moves to a parent of smaller depth (so not below itself),
    a node caught in a cycle moves below a node that reaches a root.  Depths
    only fall, so the rounds stop; the fixed point is the shortest distance.
    Nodes still caught in a cycle are left for the ``parent_cycle`` policy.
    Counted as ``second_parent`` (events with two or more present parents).
    """
    code = rows.names.index("duplicate_event_id")
    losers = np.flatnonzero(rows.reason == code)
    eid_k = eid_col.take(pa.array(kidx))
    node = pc.index_in(eid_col.take(pa.array(losers)), value_set=eid_k)
    node_np = pc.fill_null(node, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    ok = node_np >= 0
    ok[ok] &= ts_ns[losers[ok]] == ts_ns[kidx[node_np[ok]]]
    losers, node_np = losers[ok], node_np[ok]
    if losers.size == 0:
        notes["second_parent"] = 0
        return pos, orphans
    n = np.int64(pos.shape[0])
    par_l = _parent_positions(eid_k, _flat(table[cmap.parent]).take(pa.array(losers)))
    nodes = np.unique(node_np)
    genuine_root = (pos[nodes] < 0) & ~orphans[nodes]  # also listed as a root: stays one
    cand_node = np.concatenate([node_np, nodes])
    cand_par = np.concatenate([par_l, pos[nodes]])
    keep = (cand_par >= 0) & (cand_par != cand_node) & ~np.isin(cand_node, nodes[genuine_root])
    pairs = np.unique(cand_node[keep] * (n + 1) + cand_par[keep])
    cand_node, cand_par = pairs // (n + 1), pairs % (n + 1)
    multi = np.bincount(cand_node, minlength=int(n))
    notes["second_parent"] = int(np.count_nonzero(multi >= 2))
    # no present candidate (absent parents, or the event itself): an orphan root, also
    # when the kept row is the one under itself (so the row order does not matter)
    alone = nodes[~genuine_root & ~np.isin(nodes, cand_node)]
    if alone.size:
        pos, orphans = pos.copy(), orphans.copy()
        pos[alone] = -1
        orphans[alone] = True
    if cand_node.size == 0:
        return pos, orphans
    upar = np.unique(cand_par)
    prank = np.zeros(int(n), dtype=np.int64)
    order = pc.sort_indices(eid_k.take(pa.array(upar))).to_numpy()
    prank[upar[order]] = np.arange(upar.size)
    big = np.int64(upar.size + 1)
    never = np.iinfo(np.int64).max
    pos = pos.copy()
    orphans = orphans.copy()
    # start: the smallest-id candidate (independent of row order)
    o = np.lexsort((prank[cand_par], cand_node))
    first = np.ones(o.size, dtype=bool)
    first[1:] = cand_node[o][1:] != cand_node[o][:-1]
    pos[cand_node[o][first]] = cand_par[o][first]
    orphans[cand_node[o][first]] = False
    for _ in range(4 * int(np.log2(max(int(n), 2))) + 64):
        _, depth, stuck = root_and_depth(pos)
        key = np.where(stuck[cand_par], never,
                       depth[cand_par].astype(np.int64) * big + prank[cand_par])
        o = np.lexsort((key, cand_node))
        first = np.ones(o.size, dtype=bool)
        first[1:] = cand_node[o][1:] != cand_node[o][:-1]
        best = o[first]
        best = best[key[best] < never]
        change = pos[cand_node[best]] != cand_par[best]
        if not change.any():
            break
        pos[cand_node[best[change]]] = cand_par[best[change]]
    return pos, orphans


#: user codes of actors and targets (-1: no target), the users, and the null-target mask
_Users = tuple[NDArray[np.int32], NDArray[np.int32], pa.Array, NDArray[np.bool_]]
#: thread codes and the thread ids
_Threads = tuple[NDArray[np.int32], pa.Array]


def _encode_users(actor_col: pa.ChunkedArray, target_col: pa.ChunkedArray,
                  tnull: NDArray[np.bool_], kidx: NDArray[np.int64] | None,
                  typ: pa.DataType) -> _Users:
    """Actor and target codes of the kept rows (``kidx`` None: every row)."""
    a_col = actor_col if kidx is None else actor_col.take(pa.array(kidx))
    t_col = target_col if kidx is None else target_col.take(pa.array(kidx))
    tnull_k = tnull if kidx is None else tnull[kidx]
    any_tnull = bool(tnull_k.any())
    t_enc_src = t_col.filter(pa.array(~tnull_k)) if any_tnull else t_col
    (a_codes, t_codes_part), users = encode_ids([a_col, t_enc_src], typ)
    if not any_tnull:
        return a_codes, t_codes_part, users, tnull_k
    t_codes = np.full(tnull_k.shape[0], -1, dtype=np.int32)
    t_codes[~tnull_k] = t_codes_part
    return a_codes, t_codes, users, tnull_k


def _encode_threads(table: pa.Table, cmap: ColumnMap,
                    kidx: NDArray[np.int64] | None) -> _Threads | None:
    """Thread codes of the kept rows, when the thread column is mapped and has
    no null (else None: a null thread is its root's, known once the tree is)."""
    if cmap.thread is None or table[cmap.thread].null_count:
        return None
    thr = table[cmap.thread]  # chunked: encoded chunk by chunk, never combined
    if kidx is not None:
        thr = thr.take(pa.array(kidx))
    typ = thr.type.value_type if pa.types.is_dictionary(thr.type) else thr.type
    (tcode,), threads = encode_ids([thr], id_type([typ], [cmap.thread]))
    return tcode, threads


def _finish_tree(table: pa.Table, eid_col: pa.Array, kidx: NDArray[np.int64] | None,
                 parent: NDArray[np.int64], cmap: ColumnMap, notes: dict[str, int],
                 forest: tuple[NDArray[np.int64], NDArray[np.int32]] | None = None,
                 encoded: _Threads | None = None) -> Tree:
    """Roots, depths and thread codes of the kept rows (``kidx`` None: every row);
    ``encoded`` is :func:`_encode_threads` when already done."""
    eid = eid_col if kidx is None else eid_col.take(pa.array(kidx))
    if cmap.thread is not None:
        if encoded is not None:
            tcode, threads = encoded
        else:
            thr = table[cmap.thread]  # chunked: encoded chunk by chunk, never combined
            if kidx is not None:
                thr = thr.take(pa.array(kidx))
            if thr.null_count:  # a null thread is its root's thread
                thr = _flat(thr)
                if pa.types.is_dictionary(thr.type):
                    thr = thr.dictionary_decode()
                root0, _, _ = root_and_depth(parent)
                thr = pc.coalesce(thr, thr.take(pa.array(root0)))
            typ = thr.type.value_type if pa.types.is_dictionary(thr.type) else thr.type
            (tcode,), threads = encode_ids([thr], id_type([typ], [cmap.thread]))
        # replies whose parent is in another thread (roots cannot cross)
        reply = np.flatnonzero(parent >= 0)
        cross = reply[np.take(tcode, np.take(parent, reply)) != np.take(tcode, reply)]
        notes["cross_thread_parent"] = int(cross.size)
        if cross.size or forest is None:
            parent = parent.copy()
            parent[cross] = -1
            root, depth, _ = root_and_depth(parent)
        else:
            root, depth = forest
    else:
        root, depth = forest if forest is not None else root_and_depth(parent)[:2]
        typ = id_type([eid.type], [cmap.event_id or "event_id"])
        # one thread per root: encode the roots' ids only (each is distinct)
        roots = np.flatnonzero(parent < 0)
        (rcode,), threads = encode_ids([eid.take(pa.array(roots))], typ)
        code_of = np.zeros(parent.shape[0], dtype=np.int32)
        code_of[roots] = rcode
        tcode = code_of[root]
    return Tree(event_ids=eid, parent=parent, root=root, depth=depth, thread=tcode,
                threads=threads)
