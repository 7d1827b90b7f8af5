"""``Events``: the one internal currency every metric takes.

:func:`engagequal.read_events` builds it; kernels and metrics read its numpy
columns and never re-validate.  User ids are dense ``int32`` codes whose order
is the sorted order of the original ids, so codes, and every result, do not
depend on the row order of the input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

__all__ = ["Accounting", "Events", "Tree", "take_ids"]


def take_ids(ids: pa.Array, codes: NDArray[Any],
             missing: NDArray[np.bool_] | None = None) -> pa.Array:
    """``ids[codes]`` as Arrow, null where ``missing`` (integer ids by a numpy gather).

    Examples
    --------
    >>> import numpy as np, pyarrow as pa
    >>> take_ids(pa.array([10, 20]), np.array([1, -1]), np.array([False, True])).to_pylist()
    [20, None]
    """
    codes = np.asarray(codes)
    mask = missing if missing is not None and missing.any() else None
    if pa.types.is_integer(ids.type) and ids.null_count == 0:
        safe = codes if mask is None else np.where(mask, 0, codes)
        return pa.array(ids.to_numpy()[safe], ids.type, mask=mask)
    return ids.take(pa.array(codes.astype(np.int64, copy=False), mask=mask))


@dataclass(frozen=True)
class Accounting:
    """Where every input row went: ``rows_in == rows_used + sum(set_aside)``.

    Attributes
    ----------
    rows_in : int
        Rows read from the source.
    rows_used : int
        Rows kept in the :class:`Events`.
    set_aside : dict
        Rows set aside in lenient mode, by reason (``null_actor``,
        ``null_target``, ``bad_ts``, ``bad_weight``, ``unknown_kind``,
        ``duplicate_event_id``, ``duplicate_row``, ``parent_cycle``).
    notes : dict
        Kept rows worth knowing about, by reason (``self_interaction``,
        ``orphan_parent``, ``cross_thread_parent``).
    set_aside_rows : pyarrow.Table
        ``row`` (int64, position in the input) and ``reason`` (string) of every
        row set aside.

    Examples
    --------
    >>> import engagequal as eq
    >>> rows = {"actor": ["a", "b", None], "target": ["b", "a", "a"], "ts": [0, 1, 2]}
    >>> acc = eq.read_events(rows, strict=False).accounting
    >>> acc.rows_in, acc.rows_used, acc.set_aside
    (3, 2, {'null_actor': 1})
    >>> acc.set_aside_rows.to_pylist()
    [{'row': 2, 'reason': 'null_actor'}]
    """

    rows_in: int
    rows_used: int
    set_aside: Mapping[str, int] = field(default_factory=dict)
    notes: Mapping[str, int] = field(default_factory=dict)
    set_aside_rows: pa.Table = field(
        default_factory=lambda: pa.table({"row": pa.array([], pa.int64()),
                                          "reason": pa.array([], pa.string())})
    )

    def table(self) -> pa.Table:
        """One row per reason: ``reason``, ``rows``, ``action`` (set_aside / kept)."""
        reasons = list(self.set_aside) + list(self.notes)
        rows = [int(v) for v in self.set_aside.values()] + [int(v) for v in self.notes.values()]
        action = ["set_aside"] * len(self.set_aside) + ["kept"] * len(self.notes)
        return pa.table({"reason": pa.array(reasons, pa.string()),
                         "rows": pa.array(rows, pa.int64()),
                         "action": pa.array(action, pa.string())})


@dataclass(frozen=True, eq=False)
class Tree:
    """Reply structure of the events (present when ``event_id`` was mapped).

    Attributes
    ----------
    event_ids : pyarrow.Array
        The original ``event_id`` of each event (positional).
    parent : ndarray of int64
        Position of each event's parent, ``-1`` for a root (including a reply
        whose parent is not in the data, counted as ``orphan_parent``).
    root : ndarray of int64
        Position of the root of each event's tree.
    depth : ndarray of int32
        Replies between the event and its root (``0`` for a root).
    thread : ndarray of int32
        Thread code of each event: the ``thread`` column when given, else the
        tree's root.
    threads : pyarrow.Array
        Thread code -> original thread id (a given thread id, or the root's
        ``event_id``).

    Examples
    --------
    A chain of three events: ``a`` posts, ``b`` replies, ``a`` answers.

    >>> import engagequal as eq
    >>> ev = eq.read_events({"actor": ["a", "b", "a"], "target": [None, None, None],
    ...                      "ts": [0, 60, 120], "id": [1, 2, 3], "re": [None, 1, 2]},
    ...                     event_id="id", parent="re")
    >>> ev.tree.parent.tolist(), ev.tree.root.tolist(), ev.tree.depth.tolist()
    ([-1, 0, 1], [0, 0, 0], [0, 1, 2])
    >>> ev.tree.threads.to_pylist()
    [1]
    """

    event_ids: pa.Array
    parent: NDArray[np.int64]
    root: NDArray[np.int64]
    depth: NDArray[np.int32]
    thread: NDArray[np.int32]
    threads: pa.Array


@dataclass(frozen=True, eq=False)
class Events:
    """Validated, encoded interaction events (one entry per kept row).

    Attributes
    ----------
    actor, target : ndarray of int32
        User codes (``users[code]`` is the original id).  ``target`` is always
        filled: a reply without a target is aimed at its parent's actor.
    ts : ndarray of int64
        Nanoseconds since the Unix epoch, UTC.
    kind : ndarray of int16
        Kind codes (``kinds[code]`` is the name).
    weight : ndarray of float64
        Weight of each event (its kind's weight unless the ``weight`` column
        overrides it).
    users : pyarrow.Array
        Sorted original user ids, so that codes follow the id order.
    kinds : tuple of str
        Kind names by code.
    kind_weights : dict
        The weight of every known kind (defaults overridden by the user).
    time_type : pyarrow.DataType
        Type of the original time column; results give times back in it.
    tree : Tree or None
        Reply structure, when ``event_id`` was mapped.
    accounting : Accounting
        Rows in, used and set aside.

    Examples
    --------
    >>> import engagequal as eq
    >>> ev = eq.read_events({"actor": ["bob", "ann"], "target": ["ann", "bob"],
    ...                      "ts": [0, 60], "kind": ["message", "like"]})
    >>> ev.n_events, ev.n_users, ev.users.to_pylist()
    (2, 2, ['ann', 'bob'])
    >>> ev.actor.tolist(), ev.weight.tolist(), ev.code_of("bob")
    ([1, 0], [3.0, 0.1], 1)
    """

    actor: NDArray[np.int32]
    target: NDArray[np.int32]
    ts: NDArray[np.int64]
    kind: NDArray[np.int16]
    weight: NDArray[np.float64]
    users: pa.Array
    kinds: tuple[str, ...]
    kind_weights: Mapping[str, float]
    time_type: pa.DataType
    tree: Tree | None
    accounting: Accounting

    @property
    def n_events(self) -> int:
        """Number of events kept."""
        return int(self.actor.shape[0])

    @property
    def n_users(self) -> int:
        """Number of distinct users (actors and targets)."""
        return len(self.users)

    def __len__(self) -> int:
        return self.n_events

    @cached_property
    def time_range(self) -> tuple[int, int]:
        """Earliest and latest time in nanoseconds (``(0, 0)`` without events).

        Computed once per :class:`Events`, block by block (each block read
        once for both ends), and kept: every metric that needs the span of
        the data asks here.
        """
        n = self.n_events
        if n == 0:
            return 0, 0
        step = 1 << 20
        lo, hi = int(self.ts[0]), int(self.ts[0])
        for a in range(0, n, step):
            block = self.ts[a:a + step]
            lo, hi = min(lo, int(block.min())), max(hi, int(block.max()))
        return lo, hi

    @cached_property
    def active(self) -> NDArray[np.bool_]:
        """Whether each user (by code) has at least one event, as actor or target.

        Computed once and kept.  :func:`~engagequal.read_events` knows the
        answer without a pass (its dictionary holds only ids of kept rows:
        every user is active) and sets it; a subset or a hand-built
        ``Events`` marks its codes block by block, on every core.
        """
        from engagequal.kernels.parallel import pmap

        out = np.zeros(self.n_users, dtype=bool)
        step = 1 << 20
        blocks = [col[a:a + step] for col in (self.actor, self.target)
                  for a in range(0, self.n_events, step)]

        def mark(codes: NDArray[np.int32]) -> None:  # every writer writes True
            out[codes[codes >= 0] if codes.min() < 0 else codes] = True

        pmap(mark, blocks)
        return out

    def user_ids(self, codes: NDArray[Any]) -> pa.Array:
        """Original ids of user ``codes``."""
        return take_ids(self.users, codes)

    def code_of(self, user: Any) -> int:
        """The code of one original user id (``KeyError`` if absent)."""
        import pyarrow.compute as pc

        idx = pc.index(self.users, pa.scalar(user, self.users.type)).as_py()
        if idx < 0:
            raise KeyError(f"user {user!r} is not in the events")
        return int(idx)

    def kind_mask(self, names: frozenset[str] | set[str]) -> NDArray[np.bool_]:
        """Boolean mask of events whose kind is in ``names``."""
        codes = [i for i, k in enumerate(self.kinds) if k in names]
        return np.isin(self.kind, np.asarray(codes, dtype=np.int16))

    def times(self, ns: NDArray[np.int64], *, inplace: bool = False) -> pa.Array:
        """Nanosecond times back in the original time type (numeric seconds
        stay numbers; timestamps keep their unit and zone).

        With ``inplace`` an ``int64`` array ``ns`` is overwritten by the
        converted values where the type allows, and shared with the result.
        """
        ns = np.asarray(ns, dtype=np.int64)
        t = self.time_type
        if pa.types.is_timestamp(t):
            scale = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}[t.unit]
            if scale == 1:
                return pa.array(ns, t)
            out = ns if inplace else np.empty_like(ns)
            np.floor_divide(ns, scale, out=out)
            return pa.array(out, t)
        if pa.types.is_integer(t):
            out = ns if inplace else np.empty_like(ns)
            np.floor_divide(ns, 1_000_000_000, out=out)
            return pa.array(out, pa.int64())
        if pa.types.is_floating(t) or pa.types.is_decimal(t):
            return pa.array(ns / 1e9, pa.float64())
        return pa.array(ns, pa.timestamp("ns", tz="UTC"))

    def subset(self, mask: NDArray[np.bool_]) -> Events:
        """Events where ``mask`` holds (the tree is dropped; users stay)."""
        from dataclasses import replace

        return replace(self, actor=self.actor[mask], target=self.target[mask], ts=self.ts[mask],
                       kind=self.kind[mask], weight=self.weight[mask], tree=None)

    def __repr__(self) -> str:
        acc = self.accounting
        aside = sum(acc.set_aside.values())
        tree = "no reply tree" if self.tree is None else f"{len(self.tree.threads):,} threads"
        return (f"<engagequal.Events: {self.n_events:,} events, {self.n_users:,} users, "
                f"{len(self.kinds)} kinds, {tree}; {acc.rows_in:,} rows in, {aside:,} set aside>")
