"""Conversation depth: reply trees, exchanges and conversations.

How deep the threads go and whether people talk *with* each other or only
react.  Everything is derived once from the reply forest of the events
(``Events.tree``) by :func:`conversation_tables`; :func:`conversations` returns
one of its four tables.

Definitions (the spec the tests check):

* **depth**: ``depth(root) = 0``, ``depth(e) = depth(parent) + 1``.  A thread
  given by a ``thread`` column may hold several trees (a reply whose parent is
  missing or lies in another thread becomes a root, see
  :func:`engagequal.read_events`); depths are counted from each event's own root.
* **exchange**: a maximal run of consecutive events on one root-to-leaf path
  whose authors alternate between exactly two people ``u, v, u, v, ...`` (the
  root counts); its length is its number of *turns*.  ``>= 3`` turns is a
  **conversation**, fewer a reaction.  Each maximal run is counted once (at
  its last event) however many root-to-leaf paths share it; runs overlap in
  one event where a third person steps in.  See
  :func:`engagequal.kernels.treestats.alternating_runs`.
* **structural virality** (Goel et al. 2016): the mean distance between two
  events of the same tree, :math:`\\nu = W / \\binom{n}{2}` with the Wiener index
  :math:`W = \\sum_{v \\ne root} s_v (n - s_v)` from subtree sizes :math:`s_v`.
* **thread h-index** (Gomez, Kaltenbrunner & Lopez 2008): the largest ``h``
  with at least ``h`` replies at depth ``>= h``.
* **re-entry**: a participant re-enters a thread when they post in it again
  after someone else did (strictly later in time).
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property, partial
from os import PathLike
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from engagequal.errors import InputError, OptionError
from engagequal.events import Events, Tree, take_ids
from engagequal.ingest.read import read_events
from engagequal.kernels.pages import small_pages
from engagequal.kernels.parallel import aside, pmap
from engagequal.kernels.segments import bincount, running_count, scatter_reduce, stable_order
from engagequal.kernels.treestats import AlternatingRuns, alternating_runs, subtree_aggregate
from engagequal.metrics._tables import ratio, ratio_values

__all__ = [
    "DYAD_SCHEMA",
    "EVENT_SCHEMA",
    "THREAD_SCHEMA",
    "USER_SCHEMA",
    "conversation_tables",
    "conversations",
    "propagation_tree_table",
]

_LEVELS = ("thread", "event", "dyad", "user")
_EDGE = re.compile(r"\['([^']*)', '([^']*)', '([^']*)'\]->\['([^']*)', '([^']*)', '([^']*)'\]")

THREAD_SCHEMA = pa.schema([
    ("thread", pa.int64()), ("size", pa.int32()), ("roots", pa.int32()),
    ("replies", pa.int32()), ("participants", pa.int32()), ("max_depth", pa.int32()),
    ("mean_depth", pa.float64()), ("max_width", pa.int32()), ("root_fanout", pa.int32()),
    ("h_index", pa.int32()), ("virality", pa.float64()), ("reentry", pa.float64()),
    ("exchanges", pa.int32()), ("longest_exchange", pa.int32()), ("conversations", pa.int32()),
])
EVENT_SCHEMA = pa.schema([
    ("event_id", pa.int64()), ("thread", pa.int64()), ("parent", pa.int64()),
    ("root", pa.int64()), ("depth", pa.int32()), ("actor", pa.int64()), ("target", pa.int64()),
    ("turn", pa.int32()), ("exchange_length", pa.int32()), ("in_conversation", pa.bool_()),
])
DYAD_SCHEMA = pa.schema([
    ("u", pa.int64()), ("v", pa.int64()), ("exchanges", pa.int64()),
    ("conversations", pa.int64()), ("longest_exchange", pa.int64()), ("turns", pa.int64()),
])
USER_SCHEMA = pa.schema([
    ("user", pa.int64()), ("events", pa.int64()), ("threads_joined", pa.int64()),
    ("replies", pa.int64()), ("mean_reply_depth", pa.float64()),
    ("max_reply_depth", pa.int64()), ("conversation_share", pa.float64()),
    ("threads_started", pa.int64()), ("replies_received", pa.int64()),
    ("distinct_repliers", pa.int64()), ("mean_depth_reached", pa.float64()),
])


@small_pages()
def conversations(source: Any, *, level: str = "thread", columns: Sequence[str] | None = None,
                  **read_options: Any) -> pa.Table:
    r"""Conversation depth per thread, event, dyad or user.

    Parameters
    ----------
    source : Events or table-like
        Events with a reply tree (``event_id=`` and ``parent=`` mapped), or
        anything :func:`engagequal.read_events` accepts, with its keywords in
        ``read_options``.
    level : {"thread", "event", "dyad", "user"}
        Which table to return.
    columns : sequence of str, optional
        The columns wanted besides the id columns (default: all).  The thread
        table computes only the statistics these need (``max_depth`` alone
        skips the exchanges, participants and virality); the other levels
        select them.

    Returns
    -------
    pyarrow.Table
        Id columns (``thread``, ``event_id``, ``parent``, ``root``, ``u``,
        ``v``, ``user``, ``actor``, ``target``) carry the original ids, in
        the input's id type (``int64`` in the empty schemas below).

        ``level="thread"``, one row per thread, in thread id order:

        ================  =======  ===================================================
        column            type     meaning
        ================  =======  ===================================================
        thread            id       the ``thread`` column, or the root's ``event_id``
        size              int32    events :math:`n`
        roots             int32    events at depth 0 (1 unless the thread was cut)
        replies           int32    events at depth >= 1
        participants      int32    distinct authors
        max_depth         int32    :math:`\max_e d_e`
        mean_depth        float64  :math:`\frac{1}{n}\sum_e d_e` (roots count 0)
        max_width         int32    most events at one depth
        root_fanout       int32    events at depth 1 (direct replies to a root)
        h_index           int32    largest ``h`` with >= ``h`` replies at depth >= ``h``
        virality          float64  :math:`\sum_t W_t / \sum_t \binom{n_t}{2}` over the
                                   thread's trees ``t``: mean distance between two
                                   connected events; null without a pair
        reentry           float64  share of participants who post again after
                                   someone else did, in [0, 1]
        exchanges         int32    maximal two-person runs of >= 2 turns
        longest_exchange  int32    turns of the longest run (1 when nobody answers)
        conversations     int32    maximal runs of >= 3 turns
        ================  =======  ===================================================

        The counts are ``int32``, as the event table's depths and turns are
        (one call takes fewer than :math:`2^{31}` events): at 10M events the
        thread table of 7.6M threads takes 58 bytes per event instead of 91.

        ``level="event"``, one row per event, in input row order: ``event_id``,
        ``thread``, ``parent`` (null for a root), ``root`` (``event_id`` of
        its tree's root), ``depth``, ``actor``, ``target`` (null for a root
        aimed at no one), ``turn`` (turns of the alternating run that ends at
        this event: 1 for a root or a self-reply, 2 when it answers someone
        else, ``k + 1`` when it continues a ``k``-turn exchange),
        ``exchange_length`` (turns of the longest maximal exchange the event
        belongs to, 1 if none) and ``in_conversation``
        (``exchange_length >= 3``).

        ``level="dyad"``, one row per unordered pair with an exchange, ``u < v``
        in id order (as :func:`engagequal.reciprocity` ``level="dyad"``, so
        the two join on ``u, v``): ``exchanges`` (maximal runs of >= 2 turns
        between the two), ``conversations`` (>= 3 turns), ``longest_exchange``
        and ``turns`` (distinct events that belong to a conversation between
        the two).

        ``level="user"``, one row per author of at least one event, in id
        order: ``events``, ``threads_joined`` (distinct threads posted in),
        ``replies`` (own events at depth >= 1), ``mean_reply_depth`` and
        ``max_reply_depth`` over those (null without a reply),
        ``conversation_share`` (share of own events that belong to a
        conversation), ``threads_started`` (trees rooted at an own event),
        ``replies_received`` (replies by others in those trees),
        ``distinct_repliers`` and ``mean_depth_reached`` (mean of those
        trees' max depth; null when none was started).

    Raises
    ------
    OptionError
        For an unknown ``level`` or column.

    Notes
    -----
    Without a reply tree (``event_id`` not mapped) every table is empty with
    the schema above.  Undefined ratios are null.  Threads are the ``thread``
    column when given, else one per tree.  Work: root and depth by pointer
    jumping and subtree sizes by doubling (both :math:`O(n \log d)` in the
    depth :math:`d`, a handful of rounds on real threads, 20 on a chain a
    million deep), exchanges by pointer jumping on "continues" links, and a
    few sorts of packed integer keys (:math:`O(n \log n)`); no Python loop
    over events, threads or depth levels.

    References
    ----------
    .. [1] V. Gomez, A. Kaltenbrunner and V. Lopez, "Statistical analysis of the
       social network and discussion threads in Slashdot", WWW 2008.
       doi:10.1145/1367497.1367585
    .. [2] S. Goel, A. Anderson, J. Hofman and D. J. Watts, "The structural
       virality of online diffusion", Management Science 62(1), 180-196 (2016).
       doi:10.1287/mnsc.2015.2158

    Examples
    --------
    Ann posts, Bob answers, Ann answers back, Cid chimes in under Bob.

    >>> import engagequal as eq
    >>> ev = {"id": [1, 2, 3, 4], "parent": [None, 1, 2, 2],
    ...       "actor": ["ann", "bob", "ann", "cid"], "ts": [0, 1, 2, 3]}
    >>> t = eq.conversations(ev, event_id="id", parent="parent", target=None)
    >>> row = t.to_pylist()[0]
    >>> row["max_depth"], row["h_index"], row["longest_exchange"], row["conversations"]
    (2, 2, 3, 1)
    >>> row["virality"]
    1.5
    """
    if level not in _LEVELS:
        raise OptionError(f"level must be one of {_LEVELS}, got {level!r}")
    ev = read_events(source, **read_options)
    return conversation_tables(ev, levels=(level,),
                               columns=None if columns is None else {level: columns})[level]


def _empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def _i64(x: NDArray[Any]) -> pa.Array:
    return pa.array(np.asarray(x, dtype=np.int64), pa.int64())


def _segment_bounds(sorted_keys: NDArray[np.int64]) -> tuple[NDArray[np.int64],
                                                              NDArray[np.int64]]:
    """Starts and ends of the runs of equal values in a sorted array."""
    n = sorted_keys.shape[0]
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    flag = np.empty(n, dtype=bool)
    flag[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=flag[1:])
    starts = np.flatnonzero(flag)
    ends = np.append(starts[1:], n)
    return starts, ends


def _uniq(x: NDArray[np.int64]) -> NDArray[np.int64]:
    """Sorted distinct values (a sort and a mask: faster than hashing here)."""
    if x.size == 0:
        return x.astype(np.int64)
    y = np.sort(x)
    keep = np.empty(y.size, dtype=bool)
    keep[0] = True
    np.not_equal(y[1:], y[:-1], out=keep[1:])
    return y[keep]


def _uniq_inv(x: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.integer[Any]]]:
    """Sorted distinct values and the index of each input value among them
    (``int32`` below 2**31 values)."""
    if x.size == 0:
        return x.astype(np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(x)
    y = x[order]
    new = np.empty(y.size, dtype=bool)
    new[0] = True
    np.not_equal(y[1:], y[:-1], out=new[1:])
    keys = y[new]
    del y
    small = np.int32 if x.size < 2**31 - 1 else np.int64
    code: NDArray[np.integer[Any]] = running_count(new, small)
    del new
    code -= 1
    inv = np.empty_like(code)
    inv[order] = code
    return keys, inv


@small_pages()
def conversation_tables(
    ev: Events, *, levels: tuple[str, ...] = _LEVELS,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, pa.Table]:
    """All conversation tables from one pass over the reply forest.

    Parameters
    ----------
    ev : Events
        Encoded events (see :func:`engagequal.read_events`).
    levels : tuple of str
        The tables to build (default all four: ``"thread"``, ``"event"``,
        ``"dyad"``, ``"user"``); the forest statistics are computed once.
    columns : mapping of str to sequence of str, optional
        Per level, the columns wanted besides the id columns (levels not
        named keep all); see :func:`conversations`.

    Returns
    -------
    dict of str to pyarrow.Table
        The tables described in :func:`conversations`, by level.  Without a
        reply tree each is empty with its schema (:data:`THREAD_SCHEMA`,
        :data:`EVENT_SCHEMA`, :data:`DYAD_SCHEMA`, :data:`USER_SCHEMA`).

    Notes
    -----
    In a mixed log most events are alone in their thread (a like, a message
    with no reply): every such thread has the same row, and such an event
    opens no exchange.  The forest statistics are computed on the events of
    threads with two or more events only, and the one-event threads get the
    row of a one-event forest computed by the same code.

    Examples
    --------
    >>> import engagequal as eq
    >>> ev = eq.read_events({"id": [1, 2], "parent": [None, 1], "actor": [7, 8],
    ...                      "ts": [0, 5]}, event_id="id", parent="parent", target=None)
    >>> {k: t.num_rows for k, t in conversation_tables(ev).items()}
    {'thread': 1, 'event': 2, 'dyad': 1, 'user': 2}
    """
    for lv in levels:
        if lv not in _LEVELS:
            raise OptionError(f"levels must be among {_LEVELS}, got {lv!r}")
    schemas = {"thread": THREAD_SCHEMA, "event": EVENT_SCHEMA, "dyad": DYAD_SCHEMA,
               "user": USER_SCHEMA}
    wanted = _wanted(schemas, levels, columns or {})
    if ev.tree is None:
        return {lv: _empty(schemas[lv]).select(wanted[lv]) for lv in levels}
    if "thread" in levels and ev.n_events > np.iinfo(np.int32).max:
        raise InputError(f"the thread table counts in int32: {ev.n_events:,} events are "
                         "more than one call takes; stream them (engagequal.analyze_stream)")
    # both cores: beside the calling thread's forest part, exchanges and thread
    # statistics run first the event table's id columns (gathers from the tree
    # alone) and the participants, then the dyad and user tables, the latter
    # only when at most half the events are in threads of two or more (their
    # scratch arrays and the thread statistics' are as long as those events:
    # a log that is one reply chain would peak 10% higher).  Each part's
    # columns are gathered before a second thread reads them.
    ids = aside(lambda: _event_ids(ev)) if "event" in levels else None
    groups = _groups(wanted["thread"]) if "thread" in levels else frozenset()
    per_event = set(levels) == {"thread"} and groups <= _PER_EVENT_GROUPS
    f = _whole_part(ev) if per_event else _multi_event_part(ev)
    people = None
    if "people" in groups:
        _ = (f.actor, f.ts)
        people = aside(lambda: _people(f, max(ev.n_users, 1)))
    need_runs = set(levels) != {"thread"} or "runs" in groups
    runs = alternating_runs(f.parent, f.actor) if need_runs else None
    out: dict[str, pa.Table] = {}
    side: Callable[[], dict[str, pa.Table]] | None = None
    if runs is not None and {"dyad", "user"} & set(levels):
        _ = (f.depth, f.root)
        side = partial(_dyad_and_user_tables, ev, f, runs, levels)
        if f.idx is not None and 2 * f.idx.size <= ev.n_events:
            side = aside(side)
    if "thread" in levels:
        out["thread"] = _thread_table(ev, f, runs, wanted["thread"], people)
    if side is not None:
        out |= side()
    if runs is not None and ids is not None:
        turn, longest = _on_all_events(f, runs.turn), _on_all_events(f, runs.longest)
        del runs, f
        out["event"] = _event_table(ev, ids(), turn, longest)
    return {lv: out[lv].select(wanted[lv]) for lv in levels}


def _dyad_and_user_tables(ev: Events, f: _Part, runs: AlternatingRuns,
                          levels: Sequence[str]) -> dict[str, pa.Table]:
    out: dict[str, pa.Table] = {}
    if "dyad" in levels:
        out["dyad"] = _dyad_table(ev, f.parent, f.actor, runs)
    if "user" in levels:
        out["user"] = _user_table(ev, f, runs.longest)
    return out


def _wanted(schemas: Mapping[str, pa.Schema], levels: Sequence[str],
            columns: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Per level, the id columns and the asked-for columns, in schema order."""
    out: dict[str, list[str]] = {}
    for lv in levels:
        names = schemas[lv].names
        if lv not in columns:
            out[lv] = list(names)
            continue
        asked = set(columns[lv])
        unknown = sorted(asked - set(names))
        if unknown:
            raise OptionError(f"{lv} table columns are {names}; unknown: {unknown}")
        ids = _ID_COLUMNS[lv]
        out[lv] = [c for c in names if c in asked or c in ids]
    return out


class _Part:
    """The events of the threads with two or more events, renumbered.

    ``idx`` (their positions among all events) and ``tid`` (their threads'
    codes) are None when every thread has two or more events; positions
    (``parent``, ``root``) and thread codes (``thread``) are within the part.
    The per-event columns are gathered when first used, so a table that needs
    only depths never gathers parents, roots, actors or times.
    """

    def __init__(self, thread: NDArray[np.integer[Any]], n_threads: int, n_events: int, *,
                 idx: NDArray[np.int64] | None = None, tid: NDArray[np.int64] | None = None,
                 ev: Events | None = None, **given: NDArray[Any]) -> None:
        self.thread, self.idx, self.tid = thread, idx, tid
        self.n_threads = n_threads  # threads in the part
        self.n_events = n_events    # events in all (the part's and the others)
        self._ev = ev
        self.__dict__.update(given)  # columns given outright (the one-event forest)

    def _take(self, x: NDArray[Any]) -> NDArray[Any]:
        return x if self.idx is None else x[self.idx]

    @property
    def _tree(self) -> Tree:
        assert self._ev is not None and self._ev.tree is not None
        return self._ev.tree

    @cached_property
    def _pos(self) -> NDArray[Any]:
        """Position within the part of every event (-1 outside)."""
        assert self.idx is not None
        itype = np.int32 if self.idx.size < 2**31 else np.int64
        pos = np.full(self.n_events, -1, dtype=itype)
        pos[self.idx] = np.arange(self.idx.size, dtype=itype)
        return pos

    @cached_property
    def depth(self) -> NDArray[np.int32]:
        return self._take(self._tree.depth)

    @cached_property
    def parent(self) -> NDArray[np.int64]:
        if self.idx is None:
            return self._tree.parent
        par = self._tree.parent[self.idx]  # a parent lies in its child's thread, so in the part
        return np.where(par >= 0, self._pos[np.maximum(par, 0)], -1)

    @cached_property
    def root(self) -> NDArray[np.int64]:
        return self._tree.root if self.idx is None else self._pos[self._tree.root[self.idx]]

    @cached_property
    def actor(self) -> NDArray[np.int32]:
        assert self._ev is not None
        return self._take(self._ev.actor)

    @cached_property
    def ts(self) -> NDArray[np.int64]:
        assert self._ev is not None
        return self._take(self._ev.ts)


def _multi_event_part(ev: Events) -> _Part:
    tree = ev.tree
    assert tree is not None
    n, t = ev.n_events, len(tree.threads)
    thread = tree.thread  # int32 codes; 64-bit only for the part (its keys pack them)
    multi = bincount(thread, minlength=t) >= 2
    if multi.all():
        return _Part(thread.astype(np.int64), t, n, ev=ev)
    tid = np.flatnonzero(multi)
    tcode = np.full(t, -1, dtype=np.int32)
    tcode[tid] = np.arange(tid.size, dtype=np.int32)
    del multi
    sub_thread = tcode[thread]
    idx = np.flatnonzero(sub_thread >= 0)
    return _Part(sub_thread[idx].astype(np.int64), int(tid.size), n, idx=idx, tid=tid, ev=ev)


def _whole_part(ev: Events) -> _Part:
    """Every event as one part (for the per-event statistics: bincounts and
    maxima by thread code, no split and no renumbering)."""
    tree = ev.tree
    assert tree is not None
    return _Part(tree.thread, len(tree.threads), ev.n_events, ev=ev)


def _lone_event_part() -> _Part:
    """A forest of one event: the row every one-event thread has."""
    z = np.zeros(1, dtype=np.int64)
    return _Part(z, 1, 1, parent=np.array([-1]), depth=np.zeros(1, np.int32), root=z,
                 actor=np.zeros(1, np.int32), ts=z)


def _on_all_events(f: _Part, x: NDArray[np.int32]) -> NDArray[np.int32]:
    """A per-event run value of the part on all events (1 elsewhere: no exchange)."""
    if f.idx is None:
        return x
    out = np.ones(f.n_events, dtype=x.dtype)
    out[f.idx] = x
    return out


#: thread table column -> the stat it shows (integers)
_THREAD_INTS = {"size": "size", "roots": "roots", "replies": "replies",
                "participants": "participants", "max_depth": "max_depth",
                "max_width": "max_width", "root_fanout": "fanout", "h_index": "h_index",
                "exchanges": "exchanges", "longest_exchange": "longest",
                "conversations": "conversations"}
#: thread table column -> (numerator, denominator) stats (ratios, null where 0 / 0)
_THREAD_RATIOS = {"mean_depth": ("depth_sum", "size"), "virality": ("w_sum", "pairs"),
                  "reentry": ("reentry_n", "participants")}
_THREAD_ORDER = ["size", "roots", "replies", "participants", "max_depth", "mean_depth",
                 "max_width", "root_fanout", "h_index", "virality", "reentry", "exchanges",
                 "longest_exchange", "conversations"]
#: the key columns of each level, always returned
_ID_COLUMNS = {"thread": ("thread",), "event": ("event_id",), "dyad": ("u", "v"),
               "user": ("user",)}
#: thread table column -> the statistic groups of :func:`_thread_stats` it needs
_THREAD_GROUPS: dict[str, tuple[str, ...]] = {
    "size": ("size",), "roots": ("roots",), "replies": ("size", "roots"),
    "mean_depth": ("size", "depth_sum"), "root_fanout": ("fanout",),
    "participants": ("people",), "reentry": ("people",),
    "max_depth": ("max_depth",), "max_width": ("levels",), "h_index": ("levels",),
    "virality": ("virality",),
    "exchanges": ("runs",), "longest_exchange": ("runs",), "conversations": ("runs",)}
#: groups computed per event from depths and thread codes alone: on all events
#: at once they need no split into one-event and other threads
_PER_EVENT_GROUPS = frozenset({"size", "roots", "depth_sum", "fanout", "max_depth"})


def _thread_table(ev: Events, f: _Part, runs: AlternatingRuns | None,
                  columns: Sequence[str],
                  people: Callable[[], dict[str, NDArray[Any]]] | None = None) -> pa.Table:
    """One row per thread, with the ``columns`` asked for (their statistics only).

    The one-event threads all have the row of a one-event forest: the
    statistics are computed on the other threads only and each column is
    written once, in its final type (the columns on both cores).  ``people``
    gives the participant statistics when they are computed elsewhere."""
    tree = ev.tree
    assert tree is not None
    groups = _groups(columns)
    st = _thread_stats(f, runs, max(ev.n_users, 1), groups, people)
    lone: dict[str, NDArray[Any]] | None = None
    if f.tid is not None:
        lone_part = _lone_event_part()
        lone_runs = alternating_runs(lone_part.parent, lone_part.actor)
        lone = _thread_stats(lone_part, lone_runs, 1, groups)
    t = len(tree.threads)

    def spread(x: NDArray[Any], fill: Any, dtype: Any) -> NDArray[Any]:
        if lone is None or f.tid is None:
            return np.asarray(x, dtype=dtype)
        out = np.full(t, fill, dtype=dtype)
        out[f.tid] = x
        return out

    def column(name: str) -> pa.Array:
        if name in _THREAD_INTS:
            k = _THREAD_INTS[name]
            return pa.array(spread(st[k], lone[k][0] if lone else 0, np.int32), pa.int32())
        num, den = _THREAD_RATIOS[name]
        v, undefined = ratio_values(st[num], st[den])
        if lone is not None:
            lv, lu = ratio_values(lone[num], lone[den])
            v, undefined = spread(v, lv[0], np.float64), spread(undefined, lu[0], bool)
        return pa.array(v, pa.float64(), mask=undefined if undefined.any() else None)

    names = [c for c in _THREAD_ORDER if c in columns]
    cols = pmap(column, names)
    return pa.table({"thread": tree.threads, **dict(zip(names, cols, strict=True))})


def _groups(columns: Sequence[str]) -> frozenset[str]:
    """The statistic groups the thread ``columns`` need."""
    return frozenset(g for c in columns for g in _THREAD_GROUPS.get(c, ()))


def _thread_stats(f: _Part, runs: AlternatingRuns | None, n_users: int,
                  groups: frozenset[str],
                  people: Callable[[], dict[str, NDArray[Any]]] | None = None,
                  ) -> dict[str, NDArray[Any]]:
    """Per-thread sums and extremes of a forest part (ratios are taken later),
    for the statistic ``groups`` asked for (see :data:`_THREAD_GROUPS`);
    ``people`` gives the participant statistics when computed elsewhere."""
    st: dict[str, NDArray[Any]] = _counts(f, groups)
    if "levels" in groups:
        st |= _levels(f, st["size"])
    elif "max_depth" in groups:
        st["max_depth"] = np.zeros(f.n_threads, dtype=np.int32)
        scatter_reduce(np.maximum, st["max_depth"], f.thread, f.depth)
    if "virality" in groups:
        st |= _virality(f)
    if "people" in groups:
        st |= people() if people is not None else _people(f, n_users)
    if "runs" in groups:
        assert runs is not None
        thread, t = f.thread, f.n_threads
        longest = np.zeros(t, dtype=np.int64)
        scatter_reduce(np.maximum, longest, thread, runs.turn)
        st["longest"] = longest
        st["exchanges"] = bincount(thread[runs.end], minlength=t)
        st["conversations"] = bincount(thread[runs.end & (runs.turn >= 3)], minlength=t)
    return st


def _counts(f: _Part, groups: frozenset[str]) -> dict[str, NDArray[Any]]:
    """Events, roots, replies, summed depth and root fan-out per thread, those
    the ``groups`` need (bincounts)."""
    thread, depth, t = f.thread, f.depth, f.n_threads
    st: dict[str, NDArray[Any]] = {}
    if groups & {"size", "levels"}:
        st["size"] = bincount(thread, minlength=t)
    if "roots" in groups:
        st["roots"] = bincount(thread[depth == 0], minlength=t)
        if "size" in st:
            st["replies"] = st["size"] - st["roots"]
    if "depth_sum" in groups:
        st["depth_sum"] = bincount(thread, weights=depth, minlength=t)
    if "fanout" in groups:
        st["fanout"] = bincount(thread[depth == 1], minlength=t)
    return st


def _levels(f: _Part, size: NDArray[np.int64]) -> dict[str, NDArray[Any]]:
    """Max depth, max width and h-index per thread, from one sort of ``(thread, depth)``."""
    thread, depth, t = f.thread, f.depth, f.n_threads
    key = thread.astype(np.int64)
    key <<= 32
    key |= depth
    key.sort()
    tend = np.cumsum(size)  # key is sorted by thread first
    max_depth = key[tend - 1] & 0xFFFFFFFF
    starts, ends = _segment_bounds(key)
    max_width = np.zeros(t, dtype=np.int64)
    scatter_reduce(np.maximum, max_width, key[starts] >> 32, ends - starts)
    del starts, ends
    # h = max_i min(rank_desc(i), depth_i) within each thread
    kt = key >> 32
    h = tend[kt]  # rank_desc = thread end - position
    h -= np.arange(key.size)
    key &= 0xFFFFFFFF  # the depths
    np.minimum(h, key, out=h)
    del key
    h_index = np.zeros(t, dtype=np.int64)
    scatter_reduce(np.maximum, h_index, kt, h)
    return {"max_depth": max_depth, "max_width": max_width, "h_index": h_index}


def _virality(f: _Part) -> dict[str, NDArray[Any]]:
    """Summed pairwise distances and connected pairs per thread, from subtree sizes."""
    parent, root, thread, t = f.parent, f.root, f.thread, f.n_threads
    is_root = f.depth == 0
    s = subtree_aggregate(parent, np.ones(parent.shape[0], dtype=np.int8))
    contrib = s[root]  # the size of the event's tree, then its pairs split by the event
    contrib -= s
    contrib *= s
    contrib[is_root] = 0.0
    w_sum = bincount(thread, weights=contrib, minlength=t)
    del contrib
    n_root = s[is_root]  # a root's subtree is its tree
    pairs = bincount(thread[is_root], weights=n_root * (n_root - 1) / 2, minlength=t)
    return {"w_sum": w_sum, "pairs": pairs}


def _people(f: _Part, n_users: int) -> dict[str, NDArray[Any]]:
    """Participants per thread and how many of them re-enter, from (thread, actor) pairs."""
    thread, actor, t = f.thread, f.actor, f.n_threads
    n = thread.shape[0]
    pair_key = thread * n_users + actor
    pkeys, pinv = _uniq_inv(pair_key)
    del pair_key
    p_thread = pkeys // n_users
    participants = bincount(p_thread, minlength=t)
    ts = f.ts
    small = np.int32 if n < 2**31 - 1 else np.int64  # ranks and positions in 32 bits
    # rank of each time among all times, equal times sharing the rank of the first
    order = stable_order(ts)
    ts_sorted = ts[order]
    gstart = np.ones(n, dtype=bool)
    np.not_equal(ts_sorted[1:], ts_sorted[:-1], out=gstart[1:])
    del ts_sorted
    rank: NDArray[np.integer[Any]] = np.empty(n, dtype=small)
    rank[order] = np.maximum.accumulate(np.where(gstart, np.arange(n, dtype=small), 0))
    del order, gstart
    # in (thread, rank) order: where each event's group of equal (thread, time)
    # starts and ends; both grow with time inside a thread
    skey = (thread << 32) | rank
    order = np.argsort(skey)
    skey = skey[order]
    gs = np.ones(n, dtype=bool)
    np.not_equal(skey[1:], skey[:-1], out=gs[1:])
    del skey
    idx = np.arange(n, dtype=small)
    gpos = np.empty(n, dtype=small)
    gpos[order] = np.maximum.accumulate(np.where(gs, idx, 0))
    ge = np.append(gs[1:], True)
    del gs
    gend = np.empty(n, dtype=small)
    gend[order] = np.minimum.accumulate(np.where(ge, idx + 1, n)[::-1])[::-1]
    del order, ge, idx
    first_r: NDArray[np.integer[Any]] = np.full(pkeys.size, n, dtype=small)
    last_r: NDArray[np.integer[Any]] = np.zeros(pkeys.size, dtype=small)
    scatter_reduce(np.minimum, first_r, pinv, rank)
    scatter_reduce(np.maximum, last_r, pinv, rank)
    own_between = bincount(pinv, weights=(rank > first_r[pinv]) & (rank < last_r[pinv]),
                              minlength=pkeys.size)
    # thread events strictly later than the first own post and strictly
    # earlier than the last: from the end of the first one's group to the
    # start of the last one's group
    lo: NDArray[np.integer[Any]] = np.full(pkeys.size, n, dtype=small)
    hi: NDArray[np.integer[Any]] = np.zeros(pkeys.size, dtype=small)
    scatter_reduce(np.minimum, lo, pinv, gend)
    scatter_reduce(np.maximum, hi, pinv, gpos)
    del gpos, gend, rank, pinv
    between = np.maximum(hi.astype(np.int64) - lo, 0)
    reenters = (between - own_between) > 0
    return {"participants": participants,
            "reentry_n": bincount(p_thread, weights=reenters, minlength=t)}


def _event_ids(ev: Events) -> dict[str, pa.Array]:
    """The event table's id columns besides ``event_id``: thread, parent, root,
    actor and target ids of every event."""
    tree = ev.tree
    assert tree is not None
    eids, parent = tree.event_ids, tree.parent
    builders: dict[str, Callable[[], pa.Array]] = {
        "thread": lambda: take_ids(tree.threads, tree.thread),
        "parent": lambda: take_ids(eids, parent, parent < 0),
        "root": lambda: take_ids(eids, tree.root),
        "actor": lambda: take_ids(ev.users, ev.actor),
        "target": lambda: take_ids(ev.users, ev.target, ev.target < 0),
    }
    return dict(zip(builders, pmap(lambda f: f(), list(builders.values())), strict=True))


def _event_table(ev: Events, taken: Mapping[str, pa.Array], turn: NDArray[np.int32],
                 longest: NDArray[np.int32]) -> pa.Table:
    tree = ev.tree
    assert tree is not None
    return pa.table({
        "event_id": tree.event_ids,
        "thread": taken["thread"],
        "parent": taken["parent"],
        "root": taken["root"],
        "depth": pa.array(tree.depth, pa.int32()),
        "actor": taken["actor"],
        "target": taken["target"],
        "turn": pa.array(turn, pa.int32()),
        "exchange_length": pa.array(longest, pa.int32()),
        "in_conversation": pa.array(longest >= 3),
    })


def _dyad_table(ev: Events, parent: NDArray[np.int64], actor: NDArray[np.int32],
                runs: AlternatingRuns) -> pa.Table:
    nu = max(ev.n_users, 1)
    ends = np.flatnonzero(runs.end)
    a1 = actor[ends].astype(np.int64)
    a2 = actor[parent[ends]].astype(np.int64)
    key = np.minimum(a1, a2) * nu + np.maximum(a1, a2)
    keys, inv = _uniq_inv(key)
    L = runs.turn[ends]
    exchanges = bincount(inv, minlength=keys.size)
    convs = bincount(inv, weights=L >= 3, minlength=keys.size)
    longest = np.zeros(keys.size, dtype=np.int64)
    scatter_reduce(np.maximum, longest, inv, L)
    # turns: distinct events in a conversation of the pair: members of a run
    # segment opened by a head (two-person segments) plus the heads themselves.
    # A segment's pair is the pair of any run that ends inside it.
    rr = runs.run_root
    seg_dyad = np.full(parent.shape[0], -1, dtype=np.int64)
    seg_dyad[rr[ends]] = inv
    member = (runs.head[rr] >= 0) & (runs.segment_longest >= 3)
    turns = bincount(seg_dyad[rr[member]], minlength=keys.size)
    seg_roots = np.flatnonzero((runs.head >= 0) & (runs.segment_longest >= 3))
    nh = np.int64(parent.shape[0])
    uniq = _uniq(seg_dyad[seg_roots] * nh + runs.head[seg_roots])
    turns = turns + bincount(uniq // nh, minlength=keys.size)
    return pa.table({
        "u": ev.user_ids(keys // nu),
        "v": ev.user_ids(keys % nu),
        "exchanges": _i64(exchanges),
        "conversations": _i64(convs),
        "longest_exchange": _i64(longest),
        "turns": _i64(turns),
    })


def _user_table(ev: Events, f: _Part, longest: NDArray[np.int32]) -> pa.Table:
    nu = ev.n_users
    depth, root, thread, actor = f.depth, f.root, f.thread, f.actor
    events = bincount(ev.actor, minlength=nu)
    nt = max(f.n_threads, 1)
    ta = _uniq(actor.astype(np.int64) * nt + thread)
    joined = bincount(ta // nt, minlength=nu)
    is_root = depth == 0
    started = bincount(actor[is_root], minlength=nu)
    if f.idx is not None:  # an event alone in its thread: one more thread joined and started
        lone = events - bincount(actor, minlength=nu)
        joined += lone
        started += lone
    reply = depth >= 1
    replies = bincount(actor[reply], minlength=nu)
    rdepth_sum = bincount(actor[reply], weights=depth[reply], minlength=nu)
    rdepth_max = np.zeros(nu, dtype=np.int64)
    scatter_reduce(np.maximum, rdepth_max, actor[reply], depth[reply])
    in_conv = bincount(actor, weights=longest >= 3, minlength=nu)
    tree_max = np.zeros(depth.shape[0], dtype=np.int64)
    scatter_reduce(np.maximum, tree_max, root, depth)
    reached = bincount(actor[is_root], weights=tree_max[is_root], minlength=nu)
    starter = actor[root]
    other = reply & (actor != starter)
    received = bincount(starter[other], minlength=nu)
    sr = _uniq(starter[other].astype(np.int64) * max(nu, 1) + actor[other])
    distinct = bincount(sr // max(nu, 1), minlength=nu)
    users = np.flatnonzero(events > 0)
    no_reply = replies[users] == 0
    return pa.table({
        "user": ev.user_ids(users),
        "events": _i64(events[users]),
        "threads_joined": _i64(joined[users]),
        "replies": _i64(replies[users]),
        "mean_reply_depth": ratio(rdepth_sum[users], replies[users]),
        "max_reply_depth": pa.array(rdepth_max[users], pa.int64(), mask=no_reply),
        "conversation_share": ratio(in_conv[users], events[users]),
        "threads_started": _i64(started[users]),
        "replies_received": _i64(received[users]),
        "distinct_repliers": _i64(distinct[users]),
        "mean_depth_reached": ratio(reached[users], started[users]),
    })


def propagation_tree_table(path: str | PathLike[str]) -> pa.Table:
    """Event table of the Twitter15/16 propagation trees (Ma, Gao & Wong 2017).

    Parameters
    ----------
    path : path
        The ``twitter16_tree.tar.gz`` archive (``tree/<source id>.txt`` files,
        one ``['uid', 'tweet', 'delay']->['uid', 'tweet', 'delay']`` edge per
        line) or a folder of such files.

    Returns
    -------
    pyarrow.Table
        One row per edge line, self-loop lines left out: ``event_id`` and
        ``parent`` (string ``"<tree>|<uid>|<tweet>|<delay>"``: a node is the
        whole triple within its tree; ``parent`` null for the child of the
        ``ROOT`` line), ``actor`` (uid), ``ts`` (float64 seconds: the delay
        in minutes times 60, relative to the source tweet), ``kind``
        (``"share"`` when the child carries the tree's source tweet id, a
        retweet; else ``"reply"``) and ``thread`` (the file's tree id).  The
        schema metadata holds ``trees``, ``lines`` and ``self_loop_lines``.

    Notes
    -----
    A node listed under several parents appears on several rows with the same
    ``event_id`` (read them with ``strict=False``; the policy for a second
    parent is documented in :func:`engagequal.read_events`).  Parsing is a
    plain loop over the lines of the files (about 0.4 M lines for Twitter16).
    """
    import pathlib

    p = pathlib.Path(path)
    files: list[tuple[str, str]] = []
    if p.is_dir():
        for f in sorted(p.glob("*.txt")):
            files.append((f.stem, f.read_text(encoding="ascii")))
    else:
        with tarfile.open(p, "r:*") as tar:
            for m in sorted(tar.getmembers(), key=lambda m: m.name):
                if not m.isfile() or not m.name.endswith(".txt"):
                    continue
                fh = tar.extractfile(m)
                assert fh is not None
                files.append((m.name.rsplit("/", 1)[-1][:-4],
                              io.TextIOWrapper(fh, encoding="ascii").read()))
    eid: list[str] = []
    par: list[str | None] = []
    act: list[str] = []
    ts: list[float] = []
    kind: list[str] = []
    thr: list[str] = []
    lines = loops = 0
    for tree_id, text in files:
        for ln in text.splitlines():
            if not ln.strip():
                continue
            lines += 1
            mt = _EDGE.fullmatch(ln.strip())
            if mt is None:
                raise InputError(f"tree {tree_id}: cannot parse the edge line {ln!r}")
            pu, pt, pd, cu, ct, cd = mt.groups()
            if (pu, pt, pd) == (cu, ct, cd):
                loops += 1
                continue
            eid.append(f"{tree_id}|{cu}|{ct}|{cd}")
            par.append(None if pu == "ROOT" else f"{tree_id}|{pu}|{pt}|{pd}")
            act.append(cu)
            ts.append(float(cd) * 60.0)
            kind.append("share" if ct == tree_id else "reply")
            thr.append(tree_id)
    meta = {"trees": str(len(files)), "lines": str(lines), "self_loop_lines": str(loops)}
    return pa.table({"event_id": eid, "parent": pa.array(par, pa.string()), "actor": act,
                     "ts": pa.array(ts, pa.float64()), "kind": kind, "thread": thr}
                    ).replace_schema_metadata(meta)
