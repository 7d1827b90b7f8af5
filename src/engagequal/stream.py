"""Streams: out-of-core analysis, incremental tracking and rolling windows.

Three front ends over one mergeable :class:`~engagequal.state.StreamState`:

* :func:`analyze_stream` reads a Parquet folder, a ``pyarrow.dataset.Dataset``
  or any iterator of record batches in bounded memory and returns the same
  tables as the in-memory path;
* :class:`Tracker` takes batches as they arrive and answers the current tables
  at any time (with optional time decay);
* :func:`rolling` gives one tidy table of metrics per sliding time window.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
from numpy.typing import NDArray

from engagequal.errors import EngagequalError, InputError, MissingExtraError, OptionError
from engagequal.events import Events
from engagequal.ingest.schema import times_to_ns, to_ns_scalar, to_seconds_duration
from engagequal.ingest.sources import dataset_from_path, to_reader
from engagequal.kernels.pages import arrow_pool, release_memory, small_pages
from engagequal.report import Report
from engagequal.spill import ThreadSpill
from engagequal.state import StreamState, _nonneg_duration, columns_of, merge_states, sorted_unique

__all__ = ["BatchError", "Tracker", "analyze_stream", "rolling"]

#: Schema-metadata key that :func:`engagequal.io.write_events` sets on every
#: file of a thread-bucketed dataset.
BUCKET_KEY = b"engagequal.bucketed_by"

_METRICS = ("reciprocity", "responsiveness", "conversations", "layers")


class BatchError(EngagequalError, ValueError):
    """A batch or file of a stream cannot be used.

    Attributes
    ----------
    where : str
        The file path, or ``"batch <i>"`` for an iterator source.
    state : StreamState
        Everything merged before the failing batch, complete: resume with
        ``analyze_stream(rest, state=err.state)`` or ``Tracker(state=err.state)``.
    """

    def __init__(self, message: str, *, where: str, state: StreamState) -> None:
        super().__init__(message)
        self.where = where
        self.state = state


# ------------------------------------------------------------------ threads
def thread_partials(ev: Events, st: StreamState) -> dict[str, pa.Table]:
    """Conversation partials of a group of whole threads (see :func:`finish_threads`)."""
    from engagequal.metrics.conversations import conversation_tables

    tabs = conversation_tables(ev, levels=("thread", "dyad", "user"))
    user = tabs["user"]
    tree = ev.tree
    assert tree is not None
    # distinct repliers are not additive across groups: keep the pairs
    actor = ev.actor.astype(np.int64)
    starter = actor[tree.root]
    other = (tree.depth >= 1) & (actor != starter)
    nu = np.int64(max(ev.n_users, 1))
    pairs, _ = sorted_unique(starter[other] * nu + actor[other], inverse=False)
    n_rep = user.column("replies").to_numpy(zero_copy_only=False).astype(np.float64)
    n_ev = user.column("events").to_numpy(zero_copy_only=False).astype(np.float64)
    n_st = user.column("threads_started").to_numpy(zero_copy_only=False).astype(np.float64)

    def total(col: str, count: NDArray[np.float64]) -> pa.Array:
        mean: NDArray[np.float64] = np.asarray(
            user.column(col).fill_null(0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
        return pa.array(np.round(mean * count).astype(np.int64))

    upart = pa.table({
        "user": user.column("user"), "events": user.column("events"),
        "threads_joined": user.column("threads_joined"), "replies": user.column("replies"),
        "reply_depth_sum": total("mean_reply_depth", n_rep),
        "max_reply_depth": user.column("max_reply_depth"),
        "in_conversation": total("conversation_share", n_ev),
        "threads_started": user.column("threads_started"),
        "replies_received": user.column("replies_received"),
        "depth_reached_sum": total("mean_depth_reached", n_st),
    })
    return {
        "conversations_thread": tabs["thread"],
        "conversations_dyad": tabs["dyad"],
        "_conv_user": upart,
        "_conv_repliers": pa.table({"starter": ev.user_ids(pairs // nu),
                                    "replier": ev.user_ids(pairs % nu)}),
    }


def merge_thread_partials(name: str, parts: Sequence[pa.Table]) -> pa.Table:
    """Combine partial conversation tables of disjoint thread groups."""
    if len(parts) == 1:
        return parts[0]
    t = pa.concat_tables(parts, promote_options="default")
    if name == "conversations_dyad":
        g = t.group_by(["u", "v"]).aggregate([
            ("exchanges", "sum"), ("conversations", "sum"), ("longest_exchange", "max"),
            ("turns", "sum")])
        return g.rename_columns(["u", "v", "exchanges", "conversations", "longest_exchange",
                                 "turns"]).select(t.column_names)
    if name == "_conv_user":
        aggs = [(c, "max" if c == "max_reply_depth" else "sum")
                for c in t.column_names if c != "user"]
        g = t.group_by(["user"]).aggregate(aggs)
        return g.rename_columns(["user", *[c for c, _ in aggs]]).select(t.column_names)
    if name == "_conv_repliers":
        return t.group_by(["starter", "replier"]).aggregate([])
    return t


def finish_threads(threads: dict[str, list[pa.Table]]) -> dict[str, pa.Table]:
    """The final conversation tables (schemas of :func:`engagequal.conversations`)."""
    from engagequal.metrics._tables import ratio

    if not threads:
        return {}
    merged = {k: merge_thread_partials(k, v) for k, v in threads.items()}
    out = {"conversations_dyad": merged["conversations_dyad"].sort_by([("u", "ascending"),
                                                                      ("v", "ascending")])}
    if "conversations_thread" in merged:  # (absent when the rows were spilled)
        out = {"conversations_thread": merged["conversations_thread"].sort_by("thread"), **out}
    u = merged["_conv_user"].sort_by("user")
    rep = merged["_conv_repliers"]
    ids = u.column("user")
    distinct = np.zeros(u.num_rows, dtype=np.int64)
    if rep.num_rows:
        import pyarrow.compute as pc

        pos = pc.index_in(rep.column("starter"), value_set=ids).to_numpy(zero_copy_only=False)
        distinct = np.bincount(pos, minlength=u.num_rows).astype(np.int64)

    def np_(c: str) -> NDArray[Any]:
        return np.asarray(u.column(c).to_numpy(zero_copy_only=False))

    replies, events, started = np_("replies"), np_("events"), np_("threads_started")
    out["conversations_user"] = pa.table({
        "user": ids, "events": u.column("events"),
        "threads_joined": u.column("threads_joined"), "replies": u.column("replies"),
        "mean_reply_depth": ratio(np_("reply_depth_sum"), replies),
        "max_reply_depth": u.column("max_reply_depth"),
        "conversation_share": ratio(np_("in_conversation"), events),
        "threads_started": u.column("threads_started"),
        "replies_received": u.column("replies_received"),
        "distinct_repliers": pa.array(distinct),
        "mean_depth_reached": ratio(np_("depth_reached_sum"), started),
    })
    return out


# ------------------------------------------------------------ accumulation
class _Accumulator:
    """A main state plus recent partials, merged in one go once they are as
    large as the main state (so each dyad is re-sorted ``O(log)`` times)."""

    def __init__(self, state: StreamState, spill: ThreadSpill | None = None) -> None:
        self.main = state
        self.pending: list[StreamState] = []
        self.pending_size = 0
        self.spill = spill

    def spilled(self, part: StreamState) -> StreamState:
        """``part`` without its thread rows, handed to the spill (if any)."""
        rows = part.threads.get("conversations_thread")
        if self.spill is None or not rows:
            return part
        for t in rows:
            self.spill.add(t)
        return replace(part, threads={k: v for k, v in part.threads.items()
                                      if k != "conversations_thread"})

    def add(self, parts: Sequence[StreamState]) -> None:
        parts = [self.spilled(p) for p in parts]
        self.pending.extend(parts)
        self.pending_size += sum(p.n_dyads + p.pt.size for p in parts)
        if self.pending_size >= max(self.main.n_dyads + self.main.pt.size, 1 << 20) or len(
                self.pending) >= 64:
            self.compact()

    def compact(self) -> StreamState:
        if self.pending:
            self.main = merge_states([self.main, *self.pending])
            self.pending = []
            self.pending_size = 0
        return self.main


# ----------------------------------------------------------------- sources
Group = tuple[str, Callable[[], Iterator[pa.RecordBatch]], bool]


def _groups(source: Any, columns: list[str], whole_threads: bool | None) -> tuple[
        Iterator[Group], int | None]:
    """Units of work: one per file of a dataset, one per batch otherwise.

    The bool tells whether the unit holds whole threads.
    """
    if isinstance(source, (str, os.PathLike)):
        source = dataset_from_path(source)
    if isinstance(source, ds.FileSystemDataset):
        frags = list(source.get_fragments())
        return _file_groups(source, frags, columns, whole_threads), len(frags)
    if isinstance(source, ds.Dataset):
        cols = [c for c in columns if c in source.schema.names]
        source = source.scanner(columns=cols).to_reader()
    if isinstance(source, pa.Table):
        source = source.to_batches(max_chunksize=1 << 20) or [
            pa.RecordBatch.from_pylist([], schema=source.schema)]
    if isinstance(source, pa.RecordBatch):
        source = [source]
    if not isinstance(source, (pa.RecordBatchReader, Iterable)) or isinstance(
            source, (dict, str, bytes)):
        source = to_reader(source, columns=columns)
    total = len(source) if isinstance(source, Sequence) else None
    return _batch_groups(source, bool(whole_threads)), total


def _batch_groups(source: Iterable[Any], whole: bool) -> Iterator[Group]:
    it = iter(source)
    i = 0
    while True:
        label = f"batch {i}"
        try:
            b = next(it)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise _ReadFailure(label, exc) from exc
        if isinstance(b, pa.Table):
            batches = b.to_batches()
        elif isinstance(b, pa.RecordBatch):
            batches = [b]
        else:
            batches = to_reader(b).read_all().to_batches()
        yield label, _replay(batches), whole
        i += 1


def _replay(batches: list[pa.RecordBatch]) -> Callable[[], Iterator[pa.RecordBatch]]:
    return lambda: iter(batches)


class _ReadFailure(Exception):
    def __init__(self, where: str, exc: BaseException) -> None:
        super().__init__(f"{where}: {exc}")
        self.where = where
        self.exc = exc


def _file_groups(dataset: ds.FileSystemDataset, frags: list[Any], columns: list[str],
                 whole_threads: bool | None) -> Iterator[Group]:
    ref: dict[str, pa.DataType] = {}
    for frag in frags:
        path = str(frag.path)
        try:
            schema = frag.physical_schema
        except (pa.ArrowException, OSError) as exc:
            raise _ReadFailure(path, exc) from exc
        cols = [c for c in columns if c in schema.names]
        for c in cols:
            t = schema.field(c).type
            if c in ref and ref[c] != t:
                raise _ReadFailure(path, InputError(
                    f"column {c!r} has type {t} here but {ref[c]} in the files before "
                    "(schema drift); cast the files to one schema", column=c))
            ref.setdefault(c, t)
        meta = schema.metadata or {}
        whole = whole_threads if whole_threads is not None else meta.get(BUCKET_KEY) == b"thread"

        def read(frag: Any = frag, schema: pa.Schema = schema,
                 cols: list[str] = cols) -> Iterator[pa.RecordBatch]:
            yield from frag.to_batches(schema=schema, columns=cols, batch_size=1 << 20)

        yield path, read, whole


def _progress(it: Iterable[Any], *, total: int | None, desc: str,
              progress: bool | None) -> Iterable[Any]:
    """Wrap ``it`` in a ``tqdm.auto`` bar (optional extra ``progress``).

    ``progress=None`` shows a bar when tqdm is installed (``TQDM_DISABLE=1``
    silences it); ``False`` never; ``True`` always (an error without tqdm).
    """
    if progress is False or (progress is None and os.environ.get("TQDM_DISABLE", "").lower()
                             not in ("", "0", "false")):
        return it
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        if progress:
            raise MissingExtraError("progress bars need tqdm: pip install "
                                    "'engagequal[progress]'") from exc
        return it
    kw: dict[str, Any] = {"total": total, "desc": desc, "unit": "batch" if total is None
                          else "file", "leave": False}
    if progress:
        kw["disable"] = False
    return tqdm(it, **kw)  # type: ignore[no-any-return]


def _consume(acc: _Accumulator, source: Any, *, whole_threads: bool | None,
             progress: bool | None, desc: str) -> None:
    """Feed every group of ``source`` into ``acc``; a failing group merges nothing."""
    st = acc.main
    groups, total = _groups(source, columns_of(st.read_options), whole_threads)
    where = "the source"
    try:
        for label, read, whole in _progress(_wrap_labels(groups), total=total, desc=desc,
                                            progress=progress):
            where = label
            with arrow_pool():  # the group's read buffers, as read_events does
                batches = list(read())
            parts = _group_parts(st, batches, whole)
            del batches
            acc.add(parts)
            del parts
            release_memory()  # a long stream must not keep each batch's freed scratch
    except _ReadFailure as exc:
        raise BatchError(f"cannot read {exc.where}: {exc.exc}", where=exc.where,
                         state=acc.compact()) from exc.exc
    except (InputError, pa.ArrowException, OSError) as exc:
        raise BatchError(f"{where}: {exc}", where=where, state=acc.compact()) from exc


def _wrap_labels(groups: Iterator[Group]) -> Iterator[Group]:
    """Re-raise read errors of a group's batches with its label."""
    for label, read, whole in groups:
        def safe(read: Callable[[], Iterator[pa.RecordBatch]] = read,
                 label: str = label) -> Iterator[pa.RecordBatch]:
            try:
                yield from read()
            except (pa.ArrowException, OSError) as exc:
                raise _ReadFailure(label, exc) from exc
        yield label, safe, whole


def _group_parts(st: StreamState, batches: list[pa.RecordBatch],
                 whole: bool) -> list[StreamState]:
    base = replace(st._like())
    if not batches:
        return []
    if st.has_tree:
        tab = pa.Table.from_batches(batches)
        if whole:
            return [base.partial(tab)]
        return [base.update(tab)]
    return [base.partial(pa.Table.from_batches([b])) for b in batches]


# ------------------------------------------------------------------ layers
def _layer_tables(st: StreamState, min_weight: float,
                  layer_options: dict[str, Any]) -> dict[str, pa.Table]:
    """Dunbar layer tables of the merged dyads, by the in-memory orchestration
    (:func:`engagequal.api.analyze`'s layer step) on the state's dyads."""
    from engagequal.api import _layers
    from engagequal.metrics._ties import TieOptions

    opts = dict(layer_options)
    method = opts.pop("layer_method", "natural")
    tt = st.time_type or pa.int64()
    t0, t1 = st.options.bounds(tt)
    tie = TieOptions(t0=t0, t1=t1, half_life=None, reference=None, min_weight=min_weight)
    out: dict[str, pa.Table] = _layers(st.events_shell(), st.dyads(), tie, method, opts)
    return out


def _tables(st: StreamState, *, metrics: Sequence[str] | None, min_weight: float,
            layer_options: dict[str, Any]) -> dict[str, pa.Table]:
    out = st.finalize(min_weight=min_weight, metrics=metrics)
    if metrics is None or "layers" in metrics:
        out.update(_layer_tables(st, min_weight, layer_options))
    return out


# -------------------------------------------------------------- public API
@small_pages()
def analyze_stream(
    source: Any,
    *,
    metrics: Sequence[str] | None = None,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    delta: Any = "7D",
    lateness: Any = None,
    whole_threads: bool | None = None,
    state: StreamState | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    spill: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    layer_method: str = "natural",
    layer_options: dict[str, Any] | None = None,
    **read_options: Any,
) -> Report:
    """Analyse a stream of events in bounded memory: the same
    :class:`~engagequal.report.Report` as :func:`engagequal.analyze`.

    Parameters
    ----------
    source : path, Dataset or iterable of batches
        A Parquet / CSV / Arrow folder or file, a ``pyarrow.dataset.Dataset``,
        a ``RecordBatchReader``, a table, or any iterable of record batches or
        tables (each item is one batch).
    metrics : sequence of str, optional
        Subset of ``"reciprocity"``, ``"responsiveness"``, ``"conversations"``,
        ``"layers"`` (default all).
    window, half_life, min_weight
        As for :func:`engagequal.reciprocity`.
    delta : duration, default "7D"
        Responsiveness: longest wait that counts as an answer.
    lateness : duration, optional
        Bound on how far out of time order batches arrive; lets responsiveness
        drop resolved messages (see :meth:`StreamState.empty`).
    whole_threads : bool, optional
        With reply trees mapped (``event_id=``): whether every file (or every
        batch of an iterator) holds whole threads.  Default: true for files
        written by :func:`engagequal.io.write_events` with ``buckets=``, false
        otherwise (rows of open threads are then buffered until the end).
    state : StreamState, optional
        Resume from this state (e.g. ``BatchError.state`` or a loaded checkpoint).
    checkpoint : path, optional
        Save the state there after the stream is consumed (Arrow IPC).
    spill : path, optional
        A folder for the thread table, the one table that grows with the
        stream (a row per thread): the rows of completed threads are written
        there in sorted runs as the stream goes and merged at the end into
        ``threads.arrow``, which ``report.threads`` maps from disk (see
        :mod:`engagequal.spill`).  Not with ``checkpoint`` or ``state``,
        whose saved state holds every thread row (so a :class:`BatchError`'s
        ``state`` then lacks the rows already written to the folder).
    progress : bool, optional
        A ``tqdm.auto`` bar over files / batches (None: when tqdm is installed
        and ``TQDM_DISABLE`` is not set).
    **read_options
        Column mapping for :func:`engagequal.read_events`.

    layer_method, layer_options
        As for :func:`engagequal.analyze`.

    Returns
    -------
    Report
        As :func:`engagequal.analyze` (without the quality score, which needs
        per-event detail).  ``report.details`` holds the per-family tables
        (``reciprocity_global``, ``reciprocity_user``, ``reciprocity_dyad``,
        ``responsiveness_user``, ``conversations_thread``,
        ``conversations_dyad``, ``conversations_user``, ``layers_tie``,
        ``layers_ego``, ``layers_global``, ``kind_counts``, ``accounting``);
        each equals its in-memory counterpart.

    Raises
    ------
    BatchError
        A file or batch cannot be read or does not match the earlier ones; the
        message names it and ``err.state`` holds everything merged before it.

    Notes
    -----
    Memory grows with the number of users, dyads and open threads, plus the
    pending message events of responsiveness (all of them without a
    ``lateness`` bound, so leave ``"responsiveness"`` out of ``metrics`` or set
    ``lateness`` for unbounded streams).  Work: one read of every batch through
    :func:`engagequal.read_events` and one sort per batch; the state is merged
    lazily so each dyad is re-sorted a logarithmic number of times.

    Examples
    --------
    >>> import pyarrow as pa
    >>> import engagequal as eq
    >>> batches = [pa.record_batch({"actor": [1, 2], "target": [2, 1], "ts": [0, 5]}),
    ...            pa.record_batch({"actor": [2, 3], "target": [3, 1], "ts": [9, 9]})]
    >>> r = eq.analyze_stream(batches, metrics=["reciprocity"], progress=False)
    >>> r.summary.column("arc").to_pylist()
    [0.5]
    """
    mets = _check_metrics(metrics)
    if spill is not None and (checkpoint is not None or state is not None):
        raise OptionError("spill= keeps the thread rows in its folder, out of the state; it "
                          "cannot be combined with checkpoint= or state=")
    st = state if state is not None else StreamState.empty(
        window=window, half_life=half_life, delta=delta, lateness=lateness, **read_options)
    if "responsiveness" not in mets and state is None:
        st = _without_responsiveness(st)
    sink = ThreadSpill(spill) if spill is not None and "conversations" in mets else None
    acc = _Accumulator(st, sink)
    _consume(acc, source, whole_threads=whole_threads, progress=progress,
             desc="engagequal stream")
    final = acc.compact()
    if checkpoint is not None:
        final.save(checkpoint)
    if sink is not None:  # the open threads' rows too, then the merged table
        final = acc.spilled(final.flush())
    lo = {**(layer_options or {}), "layer_method": layer_method}
    parts = _tables(final, metrics=mets, min_weight=min_weight, layer_options=lo)
    if sink is not None and final.has_tree:
        parts = {"conversations_thread": sink.table(), **parts}
    return report_of(parts, final, options={
        "metrics": mets, "layer_method": layer_method, "window": window,
        "half_life": half_life, "min_weight": min_weight, "delta": delta, "streamed": True})


def report_of(parts: dict[str, pa.Table], st: StreamState, *,
              options: dict[str, Any]) -> Report:
    """A :class:`~engagequal.report.Report` of streamed tables, with the event
    counts first in the summary as :func:`engagequal.analyze` puts them."""
    from engagequal.report import Report

    known = {k: v for k, v in parts.items() if k != "kind_counts"}
    rep = Report.from_tables(known, options={**options, "events": st.rows_used,
                                             "rows_in": st.rows_in})
    s = rep.summary
    row = {"events": st.rows_used, "rows_in": st.rows_in} | (
        s.to_pylist()[0] if s.num_rows else {})
    return replace(rep, summary=pa.Table.from_pylist([row]),
                   details={**rep.details, "kind_counts": parts["kind_counts"]})


def _without_responsiveness(st: StreamState) -> StreamState:
    """A state that keeps no message events (responsiveness not wanted)."""
    return replace(st, options=replace(st.options, responses=False))


def _check_metrics(metrics: Sequence[str] | None) -> tuple[str, ...]:
    if metrics is None:
        return _METRICS
    if isinstance(metrics, str):
        metrics = (metrics,)
    bad = [m for m in metrics if m not in _METRICS]
    if bad:
        raise OptionError(f"unknown metric(s) {bad}; choose among {_METRICS}")
    return tuple(metrics)


class Tracker:
    """Incremental analysis: add batches as they arrive, ask for tables any time.

    Parameters
    ----------
    half_life : duration, optional
        Exponential decay of tie weights towards the latest event seen: an
        event of weight ``w`` at ``t`` counts ``w * 2 ** (-(T - t) / h)``.
    window, min_weight, delta, lateness
        As for :func:`analyze_stream`.
    state : StreamState, optional
        Start from a saved or partial state.
    **read_options
        Column mapping for :func:`engagequal.read_events`.

    Examples
    --------
    >>> import engagequal as eq
    >>> tr = eq.Tracker(half_life="30D")
    >>> _ = tr.update({"actor": ["a"], "target": ["b"], "ts": [0]})
    >>> tr.reciprocity().column("arc").to_pylist()
    [0.0]
    >>> _ = tr.update({"actor": ["b"], "target": ["a"], "ts": [86_400]})
    >>> tr.reciprocity().column("arc").to_pylist()
    [1.0]
    """

    def __init__(self, *, half_life: Any = None, window: tuple[Any, Any] | None = None,
                 min_weight: float = 0.0, delta: Any = "7D", lateness: Any = None,
                 state: StreamState | None = None, **read_options: Any) -> None:
        st = state if state is not None else StreamState.empty(
            window=window, half_life=half_life, delta=delta, lateness=lateness,
            **read_options)
        self._acc = _Accumulator(st)
        self.min_weight = float(min_weight)

    @property
    def state(self) -> StreamState:
        """The merged state of every batch added so far."""
        return self._acc.compact()

    @small_pages()
    def update(self, batch: Any, *, whole_threads: bool = False) -> Tracker:
        """Add a batch (any table-like, or an iterable of batches).

        Atomic: when the batch is bad nothing of it is merged and a
        :class:`BatchError` names it.
        """
        _consume(self._acc, [batch] if not isinstance(batch, list) else batch,
                 whole_threads=whole_threads, progress=False, desc="update")
        return self

    @small_pages()
    def tables(self, metrics: Sequence[str] | None = None) -> dict[str, pa.Table]:
        """The current tables (see :func:`analyze_stream`)."""
        return _tables(self.state, metrics=_check_metrics(metrics),
                       min_weight=self.min_weight, layer_options={})

    def reciprocity(self, level: str = "global") -> pa.Table:
        """The current reciprocity table at ``level`` (global, user or dyad)."""
        if level not in ("global", "user", "dyad"):
            raise OptionError(f"level must be one of ('global', 'user', 'dyad'), got {level!r}")
        return self.tables(("reciprocity",))[f"reciprocity_{level}"]

    @small_pages()
    def report(self, metrics: Sequence[str] | None = None, *,
               layer_method: str = "natural") -> Report:
        """The current :class:`~engagequal.report.Report` (see :func:`analyze_stream`)."""
        mets = _check_metrics(metrics)
        parts = _tables(self.state, metrics=mets, min_weight=self.min_weight,
                        layer_options={"layer_method": layer_method})
        return report_of(parts, self.state, options={"metrics": mets, "streamed": True})

    def responsiveness(self) -> pa.Table:
        """The current per-user responsiveness table."""
        return self.tables(("responsiveness",))["responsiveness_user"]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Checkpoint the state (Arrow IPC folder)."""
        return self.state.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, min_weight: float = 0.0) -> Tracker:
        """Resume from a checkpoint written by :meth:`save`."""
        return cls(state=StreamState.load(path), min_weight=min_weight)

    def __repr__(self) -> str:
        return f"<engagequal.Tracker {self.state!r}>"


# ----------------------------------------------------------------- rolling
@small_pages()
def rolling(
    source: Any,
    *,
    window: Any = "30D",
    step: Any = "7D",
    origin: Any = 0,
    metrics: Sequence[str] | None = ("reciprocity", "conversations", "layers"),
    min_weight: float = 0.0,
    lateness: Any = None,
    progress: bool | None = None,
    **read_options: Any,
) -> pa.Table:
    """Metrics on sliding time windows, as one tidy table.

    Windows are ``[origin + k * step, origin + k * step + window)`` for every
    integer ``k`` whose window holds an event; each window is analysed as if
    its events were the whole data (replies whose parent falls outside the
    window become roots).

    Parameters
    ----------
    source : path, Dataset or iterable of batches
        As for :func:`analyze_stream`.
    window, step : duration
        Window length and the step between window starts.
    origin : time, default 0 (the epoch)
        Anchor of the window grid.
    metrics : sequence of str
        Among ``"reciprocity"``, ``"responsiveness"``, ``"conversations"``,
        ``"layers"``.
    lateness : duration, optional
        When given, batches are taken to be in time order up to ``lateness``:
        a window is finished (and its memory freed) once an event later than
        its end plus ``lateness`` has been seen.  Without it every window is
        kept until the end.

    Returns
    -------
    pyarrow.Table
        ``window_start``, ``window_end`` (the input's time type),
        ``entity_kind`` (``"global"`` or ``"user"``), ``entity`` (user id, null
        for global rows), ``metric`` (string), ``value`` (float64, null when
        undefined); sorted by window, entity kind, metric, entity.  Global
        metrics: the reciprocity variants and counts, ``threads``,
        ``mean_max_depth``, ``conversations``; user metrics:
        ``node_reciprocity``, ``out_share``, ``connections``, ``contacts``,
        ``audience``, ``weighted_reciprocity``, ``conversation_share``,
        ``threads_joined``; with layers, per ego the layer sizes and
        ``stability_layer_<i>`` (Jaccard of the layer with the previous window).

    Examples
    --------
    >>> import engagequal as eq
    >>> ev = {"actor": [1, 2, 1], "target": [2, 1, 2], "ts": [0, 86_400, 40 * 86_400]}
    >>> t = eq.rolling(ev, window="30D", step="30D", metrics=["reciprocity"], progress=False)
    >>> import pyarrow.compute as pc
    >>> t.filter(pc.equal(t["metric"], "arc")).column("value").to_pylist()
    [1.0, 0.0]
    """
    mets = _check_metrics(metrics)
    w_ns = round(to_seconds_duration(window, name="window") * 1e9)
    s_ns = round(to_seconds_duration(step, name="step") * 1e9)
    late_ns = None if lateness is None else round(_nonneg_duration(lateness) * 1e9)
    base = StreamState.empty(**read_options)
    if "responsiveness" not in mets:
        base = _without_responsiveness(base)
    cols = columns_of(base.read_options)
    ts_col = base.read_options.get("ts", "ts")
    groups, total = _groups(source, cols, True)
    wins: dict[int, _Accumulator] = {}
    done: set[int] = set()
    rows: list[pa.Table] = []
    prev_layers: dict[int, pa.Table] = {}
    time_type: list[pa.DataType] = []
    org = [0]
    watermark: int | None = None

    def emit(k: int) -> None:
        acc = wins.pop(k)
        st = acc.compact()
        rows.append(_tidy(st, k, org[0], w_ns, s_ns, mets, min_weight, prev_layers))
        done.add(k)

    where = "the source"
    try:
        for label, read, _whole in _progress(_wrap_labels(groups), total=total,
                                             desc="engagequal rolling", progress=progress):
            where = label
            batches = [b for b in read() if b.num_rows]
            if not batches:
                continue
            tab = pa.Table.from_batches(batches)
            if ts_col not in tab.column_names:
                raise InputError(f"column {ts_col!r} is not in the batch", column=ts_col)
            if not time_type:
                time_type.append(tab.schema.field(ts_col).type)
                org[0] = to_ns_scalar(origin, time_type[0], name="origin")
            ns, bad = times_to_ns(tab.column(ts_col), ts_col)
            if bad.any() and base.read_options.get("strict", True):
                base.partial(tab)  # raises the funnel's InvalidTimeError
            rel = ns - org[0]
            last_k = np.floor_divide(rel, s_ns)
            n_back = -(-w_ns // s_ns)
            ks = np.unique(np.concatenate([last_k - j for j in range(n_back)]))
            for k in ks.tolist():
                lo = k * s_ns
                m = np.asarray((rel >= lo) & (rel < lo + w_ns) & ~bad, dtype=bool)
                if not m.any():
                    continue
                if k in done:
                    raise InputError(f"events of window {k} arrive after it was finished; "
                                     "raise lateness= or leave it unset")
                part = _group_parts(base, tab.filter(pa.array(m)).to_batches(), True)
                wins.setdefault(k, _Accumulator(base)).add(part)
            mx = int(ns[~bad].max()) if (~bad).any() else None
            if mx is not None:
                watermark = mx if watermark is None else max(watermark, mx)
            if late_ns is not None and watermark is not None:
                for k in sorted(wins):
                    if org[0] + k * s_ns + w_ns + late_ns <= watermark:
                        emit(k)
    except _ReadFailure as exc:
        raise BatchError(f"cannot read {exc.where}: {exc.exc}", where=exc.where,
                         state=base) from exc.exc
    except (InputError, pa.ArrowException, OSError) as exc:
        raise BatchError(f"{where}: {exc}", where=where, state=base) from exc
    for k in _progress(sorted(wins), total=len(wins), desc="windows", progress=progress):
        emit(k)
    tt = time_type[0] if time_type else pa.int64()
    return _finish_tidy(rows, tt, base)


_GLOBAL_METRICS = ("arc", "pair_ratio", "rho", "weighted", "users", "ties", "mutual_pairs")
_USER_METRICS = ("node_reciprocity", "out_share", "connections", "contacts", "audience",
                 "weighted_reciprocity")


def _tidy(st: StreamState, k: int, origin: int, w_ns: int, s_ns: int, mets: Sequence[str],
          min_weight: float, prev_layers: dict[int, pa.Table]) -> pa.Table:
    """Long rows of one window (``window_start`` in ns for now)."""
    tabs = _tables(st, metrics=mets, min_weight=min_weight,
                   layer_options={"layer_method": "rank"})
    parts: list[tuple[str, pa.Array | None, str, pa.Array]] = []
    if "reciprocity_global" in tabs:
        g = tabs["reciprocity_global"]
        for c in _GLOBAL_METRICS:
            parts.append(("global", None, c, g.column(c).combine_chunks()))
        u = tabs["reciprocity_user"]
        for c in _USER_METRICS:
            parts.append(("user", u.column("user").combine_chunks(), c,
                          u.column(c).combine_chunks()))
    if "responsiveness_user" in tabs:
        r = tabs["responsiveness_user"]
        for c in ("response_rate", "median_response_s"):
            parts.append(("user", r.column("user").combine_chunks(), c,
                          r.column(c).combine_chunks()))
    if "conversations_thread" in tabs:
        import pyarrow.compute as pc

        t = tabs["conversations_thread"]
        parts.append(("global", None, "threads", pa.array([t.num_rows], pa.int64())))
        parts.append(("global", None, "mean_max_depth",
                      pa.array([pc.mean(t.column("max_depth")).as_py()], pa.float64())))
        parts.append(("global", None, "conversations",
                      pa.array([pc.sum(t.column("conversations")).as_py() or 0], pa.int64())))
        cu = tabs["conversations_user"]
        for c in ("conversation_share", "threads_joined"):
            parts.append(("user", cu.column("user").combine_chunks(), c,
                          cu.column(c).combine_chunks()))
    for name, tab in tabs.items():
        if name == "layers_ego":
            _layer_rows(tab, k, prev_layers, parts)
    start = origin + k * s_ns
    out = []
    for kind, ent, metric, val in parts:
        n = len(val)
        out.append(pa.table({
            "window_start": pa.array(np.full(n, start, np.int64)),
            "window_end": pa.array(np.full(n, start + w_ns, np.int64)),
            "entity_kind": pa.array([kind] * n, pa.string()),
            "entity": ent if ent is not None else pa.nulls(n, st.users.type),
            "metric": pa.array([metric] * n, pa.string()),
            "value": val.cast(pa.float64()),
        }))
    if not out:
        return pa.table({"window_start": pa.array([], pa.int64())})
    return pa.concat_tables(out, promote_options="default")


def _layer_rows(tab: pa.Table, k: int, prev_layers: dict[int, pa.Table],
                parts: list[tuple[str, pa.Array | None, str, pa.Array]]) -> None:
    ego = tab.column("ego").combine_chunks()
    for c in tab.column_names:
        if c.startswith("layer_") or c == "active_size":
            parts.append(("user", ego, c, tab.column(c).combine_chunks()))


def _finish_tidy(rows: list[pa.Table], time_type: pa.DataType, base: StreamState) -> pa.Table:
    rows = [r for r in rows if r.num_rows]
    if not rows:
        return pa.table({
            "window_start": pa.array([], pa.int64()), "window_end": pa.array([], pa.int64()),
            "entity_kind": pa.array([], pa.string()), "entity": pa.array([], pa.int64()),
            "metric": pa.array([], pa.string()), "value": pa.array([], pa.float64())})
    t = pa.concat_tables(rows, promote_options="default")
    shell = replace(base.events_shell(), time_type=time_type)
    ws = shell.times(t.column("window_start").to_numpy())
    we = shell.times(t.column("window_end").to_numpy())
    t = t.set_column(0, "window_start", ws).set_column(1, "window_end", we)
    return t.sort_by([("window_start", "ascending"), ("entity_kind", "ascending"),
                      ("metric", "ascending"), ("entity", "ascending")])
