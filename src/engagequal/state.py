"""Mergeable partial state: what a stream of event batches leaves behind.

A :class:`StreamState` holds, in numpy columns that serialise to Arrow, every
partial sum the tie metrics need (DESIGN.md section 3):

* the **user dictionary**: the sorted original ids seen so far.  Codes follow
  the id order, so merging two dictionaries is a sorted union and the code
  re-mapping is monotone (dyads stay sorted by ``(u, v)``);
* **directed dyads** ``(u, v)`` with summed weight, event count, first and last
  contact.  Decayed weights are stored at a reference time ``T`` and rescaled by
  ``2 ** ((T_old - T_new) / h)`` when a later reference arrives;
* per **(user, kind)** event counts and weights, sent and received;
* **responsiveness**: the message-like events whose answer may still arrive
  (all of them unless a ``lateness`` bound is given), the per-user counts of
  resolved ones and the waits of the answered ones (for exact medians);
* **open threads**: raw rows of reply trees that are not known to be complete
  (with a thread-bucketed dataset every file holds whole threads and the
  buffer is flushed per file), and the per-thread tables of completed ones.

``merge`` is associative and commutative (up to float rounding of sums);
``finalize`` reuses the in-memory kernels on the merged state, so streamed
tables equal in-memory ones.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.errors import InputError, OptionError, SourceError
from engagequal.events import Accounting, Events
from engagequal.ingest.read import read_events
from engagequal.ingest.schema import merge_kind_weights, to_ns_scalar, to_seconds_duration
from engagequal.kernels.dyads import Dyads, aggregate_dyads
from engagequal.kernels.segments import (
    running_count,
    segment_starts,
    stable_order,
)
from engagequal.metrics._tables import ratio
from engagequal.metrics._ties import TieOptions, event_weights
from engagequal.metrics.reciprocity import (
    reciprocity_dyad,
    reciprocity_global,
    reciprocity_user,
)
from engagequal.metrics.responsiveness import answer_times, median_waits, message_like

__all__ = ["StateOptions", "StreamState", "columns_of", "merge_states", "sorted_unique"]

FORMAT_VERSION = 1
_I32 = np.int32
_I64 = np.int64


@dataclass(frozen=True)
class StateOptions:
    """Options that shape the partial sums (two states merge only when equal).

    ``window`` is kept as given (numbers or ISO strings) and resolved against
    the time type of the first batch; ``half_life``, ``delta`` and
    ``lateness`` are seconds.
    """

    window: tuple[Any, Any] | None = None
    half_life: float | None = None
    delta: float = 7 * 86_400.0
    lateness: float | None = None
    responses: bool = True

    @classmethod
    def make(cls, *, window: tuple[Any, Any] | None = None, half_life: Any = None,
             delta: Any = "7D", lateness: Any = None, responses: bool = True) -> StateOptions:
        """Check and normalise user-facing options."""
        if window is not None:
            try:
                a, b = window
            except (TypeError, ValueError) as exc:
                raise OptionError(f"window must be a pair (t0, t1), got {window!r}") from exc
            window = (a, b)
        return cls(
            window=window,
            half_life=None if half_life is None else to_seconds_duration(half_life,
                                                                         name="half_life"),
            delta=to_seconds_duration(delta, name="delta"),
            lateness=None if lateness is None else _nonneg_duration(lateness),
            responses=bool(responses),
        )

    def bounds(self, time_type: pa.DataType) -> tuple[int | None, int | None]:
        """The window ``[t0, t1)`` in ns (either end may be None)."""
        if self.window is None:
            return None, None
        a, b = self.window
        t0 = None if a is None else to_ns_scalar(a, time_type, name="window[0]")
        t1 = None if b is None else to_ns_scalar(b, time_type, name="window[1]")
        if t0 is not None and t1 is not None and t1 <= t0:
            raise OptionError(f"window end must come after its start, got {self.window!r}")
        return t0, t1

    def to_json(self) -> dict[str, Any]:
        win = None
        if self.window is not None:
            win = [_jsonable_time(x) for x in self.window]
        return {"window": win, "half_life": self.half_life, "delta": self.delta,
                "lateness": self.lateness, "responses": self.responses}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StateOptions:
        win = d.get("window")
        return cls(window=None if win is None else (win[0], win[1]),
                   half_life=d.get("half_life"), delta=float(d["delta"]),
                   lateness=d.get("lateness"), responses=bool(d.get("responses", True)))


def _nonneg_duration(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return 0.0
    return to_seconds_duration(value, name="lateness")


def _jsonable_time(x: Any) -> Any:
    if x is None or (isinstance(x, (int, float, str)) and not isinstance(x, bool)):
        return x
    import datetime as _dt

    if isinstance(x, _dt.datetime | _dt.date):
        return x.isoformat()
    if isinstance(x, np.datetime64):
        return str(x.astype("datetime64[ns]"))
    raise OptionError(f"cannot save a state whose window bound {x!r} is not a number, "
                      "string or datetime")


def _z(dtype: Any) -> NDArray[Any]:
    return np.zeros(0, dtype=dtype)


@dataclass(eq=False)
class StreamState:
    """Mergeable partial sums of an event stream (see the module docstring).

    Build one with :meth:`empty` (or :meth:`from_events`), feed it with
    :meth:`update`, combine with :meth:`merge`, read the tables with
    :meth:`finalize`, and persist with :meth:`save` / :meth:`load`.

    Examples
    --------
    >>> import engagequal as eq
    >>> from engagequal.state import StreamState
    >>> a = StreamState.empty().update({"actor": [1, 2], "target": [2, 1], "ts": [0, 5]})
    >>> b = StreamState.empty().update({"actor": [2, 3], "target": [3, 1], "ts": [9, 9]})
    >>> a.merge(b).finalize()["reciprocity_global"].column("arc").to_pylist()
    [0.5]
    """

    options: StateOptions = field(default_factory=StateOptions)
    read_options: dict[str, Any] = field(default_factory=dict)
    time_type: pa.DataType | None = None
    users: pa.Array = field(default_factory=lambda: pa.array([], pa.int64()))
    kinds: tuple[str, ...] = ()
    # directed dyads, sorted by (u, v); w at reference time `ref` when decayed
    du: NDArray[np.int32] = field(default_factory=lambda: _z(_I32))
    dv: NDArray[np.int32] = field(default_factory=lambda: _z(_I32))
    dw: NDArray[np.float64] = field(default_factory=lambda: _z(np.float64))
    dn: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    dfirst: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    dlast: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    ref: int | None = None
    max_ts: int | None = None
    # earliest and latest event time inside the window (layer frequencies)
    wmin: int | None = None
    wmax: int | None = None
    self_interactions: int = 0
    # per (user, kind), sorted by (user, kind)
    ku: NDArray[np.int32] = field(default_factory=lambda: _z(_I32))
    kk: NDArray[np.int16] = field(default_factory=lambda: _z(np.int16))
    kn_out: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    kw_out: NDArray[np.float64] = field(default_factory=lambda: _z(np.float64))
    kn_in: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    kw_in: NDArray[np.float64] = field(default_factory=lambda: _z(np.float64))
    # responsiveness
    pa_: NDArray[np.int32] = field(default_factory=lambda: _z(_I32))
    pb: NDArray[np.int32] = field(default_factory=lambda: _z(_I32))
    pt: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    r_received: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    r_answered: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    r_sent: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    r_sent_answered: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    wr: NDArray[np.int32] = field(default_factory=lambda: _z(_I32))
    ww: NDArray[np.int64] = field(default_factory=lambda: _z(_I64))
    # accounting
    rows_in: int = 0
    rows_used: int = 0
    set_aside: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    # threads: raw rows of open threads, and partial tables of completed ones
    buffer: list[pa.Table] = field(default_factory=list)
    threads: dict[str, list[pa.Table]] = field(default_factory=dict)

    # ------------------------------------------------------------------ build
    @classmethod
    def empty(cls, *, window: tuple[Any, Any] | None = None, half_life: Any = None,
              delta: Any = "7D", lateness: Any = None, responses: bool = True,
              **read_options: Any) -> StreamState:
        """A state with nothing in it.

        Parameters
        ----------
        window : (t0, t1), optional
            Only events with ``t0 <= ts < t1`` count.
        half_life : duration, optional
            Exponential decay of the dyad weights towards the window end, else
            the latest event seen.
        delta : duration, default "7D"
            Longest wait that counts as an answer (responsiveness).
        lateness : duration, optional
            How far out of time order batches may arrive.  With a bound, the
            message events older than ``latest - delta - lateness`` are resolved
            and dropped when states are merged; without one (the default) every
            message-like event is kept until :meth:`finalize`, which is exact for
            any batch order.  A bound suits one sequential stream (batches added
            to one state in time order); states built independently and merged
            later need the default, since a state drops events that could answer
            the other one's pending messages.
        responses : bool, default True
            Track responsiveness (False drops message events at once: the
            responsiveness table then counts nothing).
        **read_options
            Column mapping and ``kind_weights`` / ``strict`` for
            :func:`engagequal.read_events`.
        """
        _check_read_options(read_options)
        return cls(options=StateOptions.make(window=window, half_life=half_life, delta=delta,
                                             lateness=lateness, responses=responses),
                   read_options=dict(read_options))

    @property
    def has_tree(self) -> bool:
        """Whether reply trees are mapped (``event_id`` in the read options)."""
        return self.read_options.get("event_id") is not None

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_dyads(self) -> int:
        return int(self.du.shape[0])

    def _like(self) -> StreamState:
        return StreamState(options=self.options, read_options=self.read_options)

    def update(self, batch: Any, *, whole_threads: bool = False) -> StreamState:
        """A new state with ``batch`` added (``self`` is not modified).

        Parameters
        ----------
        batch : table-like
            Anything :func:`engagequal.read_events` accepts, read with the
            state's column mapping.
        whole_threads : bool, default False
            With reply trees mapped, whether ``batch`` holds whole threads (a
            file of a thread-bucketed dataset).  If not, its rows wait in the
            open-thread buffer until :meth:`flush` or :meth:`finalize`.
        """
        if self.has_tree and not whole_threads:
            from engagequal.ingest.sources import to_table

            cols = columns_of(self.read_options)
            tab = to_table(batch)
            tab = tab.select([c for c in cols if c in tab.column_names])
            if tab.num_rows:
                self._check_time_type(tab)
            return replace(self, buffer=[*self.buffer, tab])
        return merge_states([self, self.partial(batch)])

    def _check_time_type(self, tab: pa.Table) -> None:
        ts = self.read_options.get("ts", "ts")
        if self.time_type is not None and ts in tab.column_names:
            t = tab.schema.field(ts).type
            if t != self.time_type:
                raise InputError(f"column {ts!r} has type {t} in this batch but "
                                 f"{self.time_type} before (schema drift)", column=ts)

    def partial(self, batch: Any) -> StreamState:
        """The state of ``batch`` alone (a complete group: whole threads)."""
        ev = read_events(batch, **self.read_options)
        return _events_partial(ev, self._like())

    def flush(self) -> StreamState:
        """A new state whose open-thread buffer is processed as whole threads."""
        if not self.buffer:
            return self
        tab = _concat(self.buffer)
        return merge_states([replace(self, buffer=[]), self.partial(tab)])

    def merge(self, other: StreamState) -> StreamState:
        """The state of both streams (see :func:`merge_states`)."""
        return merge_states([self, other])

    # --------------------------------------------------------------- finalize
    def dyads(self) -> Dyads:
        """The merged directed dyads (weights at :attr:`ref`)."""
        return Dyads(self.du, self.dv, self.dw, self.dn, self.dfirst, self.dlast, self.n_users)

    def events_shell(self) -> Events:
        """An :class:`Events` standing for the state: every user present once
        (as a post aimed at no one), so the in-memory table builders that take
        ``(Events, Dyads)`` apply unchanged."""
        n = self.n_users
        kw = merge_kind_weights(self.read_options.get("kind_weights"))
        ts = np.full(n, self.wmax or 0, dtype=_I64)
        if n:
            ts[0] = self.wmin or 0
        return Events(
            actor=np.arange(n, dtype=_I32), target=np.full(n, -1, dtype=_I32),
            ts=ts, kind=np.zeros(n, dtype=np.int16),
            weight=np.zeros(n), users=self.users, kinds=self.kinds or ("interaction",),
            kind_weights=kw, time_type=self.time_type or pa.int64(), tree=None,
            accounting=self.accounting(),
        )

    def accounting(self) -> Accounting:
        """Rows in, used and set aside, summed over the batches."""
        return Accounting(rows_in=self.rows_in, rows_used=self.rows_used,
                          set_aside=dict(self.set_aside), notes=dict(self.notes))

    def resolved(self) -> StreamState:
        """A state whose pending message events are all resolved (used by
        :meth:`finalize`; ``self`` is unchanged)."""
        return _resolve(self, None)

    def finalize(self, *, min_weight: float = 0.0,
                 metrics: Sequence[str] | None = None) -> dict[str, pa.Table]:
        """The result tables of everything merged so far.

        Returns
        -------
        dict of str to pyarrow.Table
            ``reciprocity_global``, ``reciprocity_user``, ``reciprocity_dyad``
            (the schemas of :func:`engagequal.reciprocity`),
            ``responsiveness_user`` (of :func:`engagequal.responsiveness`),
            ``kind_counts`` (``user``, ``kind``, ``n_out``, ``w_out``, ``n_in``,
            ``w_in``: undecayed event counts and weights per user and kind,
            self-interactions included) and ``accounting``; plus the
            conversation tables when reply trees are mapped.
        """
        st = self.flush().resolved()
        want = set(metrics) if metrics is not None else None
        ev = st.events_shell()
        opts = TieOptions(t0=None, t1=None, half_life=None, reference=None,
                          min_weight=float(min_weight))
        if not np.isfinite(opts.min_weight) or opts.min_weight < 0:
            raise OptionError(f"min_weight must be a finite number >= 0, got {min_weight!r}")
        d = st.dyads()
        out: dict[str, pa.Table] = {}
        if want is None or "reciprocity" in want:
            g = reciprocity_global(ev, d, opts)
            i = g.column_names.index("self_interactions")
            g = g.set_column(i, "self_interactions",
                             pa.array([st.self_interactions], pa.int64()))
            out["reciprocity_global"] = g
            out["reciprocity_user"] = reciprocity_user(ev, d, opts)
            out["reciprocity_dyad"] = reciprocity_dyad(ev, d, opts)
        if want is None or "responsiveness" in want:
            out["responsiveness_user"] = st.responsiveness_table()
        out["kind_counts"] = st.kind_counts_table()
        out["accounting"] = st.accounting().table()
        if st.threads and (want is None or "conversations" in want):
            from engagequal.stream import finish_threads

            out.update(finish_threads(st.threads))
        return out

    def responsiveness_table(self) -> pa.Table:
        """Per-user responsiveness of the resolved messages (schema of
        :func:`engagequal.responsiveness` at ``level="user"``)."""
        med, has = median_waits(self.wr, self.ww, self.n_users)
        rec, got = self.r_received, self.r_answered
        sent, sa = self.r_sent, self.r_sent_answered
        return pa.table({
            "user": self.users,
            "received": pa.array(rec),
            "answered": pa.array(got),
            "response_rate": ratio(got, rec),
            "median_response_s": pa.array(med, pa.float64(), mask=~has),
            "sent": pa.array(sent),
            "sent_answered": pa.array(sa),
            "answered_share": ratio(sa, sent),
        })

    def kind_counts_table(self) -> pa.Table:
        kinds = pa.array(list(self.kinds), pa.string())
        return pa.table({
            "user": self.users.take(pa.array(self.ku.astype(_I64))),
            "kind": kinds.take(pa.array(self.kk.astype(_I64))),
            "n_out": pa.array(self.kn_out), "w_out": pa.array(self.kw_out),
            "n_in": pa.array(self.kn_in), "w_in": pa.array(self.kw_in),
        })

    # ------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the state to folder ``path`` as Arrow IPC files (atomically:
        a half-written checkpoint never replaces a good one)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".eqstate-", dir=target.parent))
        try:
            meta = {
                "format": "engagequal.state", "version": FORMAT_VERSION,
                "options": self.options.to_json(), "read_options": self.read_options,
                "kinds": list(self.kinds), "ref": self.ref, "max_ts": self.max_ts,
                "wmin": self.wmin, "wmax": self.wmax,
                "self_interactions": self.self_interactions, "rows_in": self.rows_in,
                "rows_used": self.rows_used, "set_aside": self.set_aside, "notes": self.notes,
                "threads": {k: len(v) for k, v in self.threads.items()},
            }
            tt = self.time_type if self.time_type is not None else pa.null()
            meta_tab = pa.table({"time_probe": pa.nulls(0, tt)}).replace_schema_metadata(
                {"engagequal": json.dumps(meta)})
            _write(tmp / "meta.arrow", meta_tab)
            _write(tmp / "users.arrow", pa.table({"id": self.users}))
            _write(tmp / "dyads.arrow", pa.table({
                "u": self.du, "v": self.dv, "w": self.dw, "n": self.dn,
                "first": self.dfirst, "last": self.dlast}))
            _write(tmp / "kind_counts.arrow", pa.table({
                "user": self.ku, "kind": self.kk, "n_out": self.kn_out, "w_out": self.kw_out,
                "n_in": self.kn_in, "w_in": self.kw_in}))
            _write(tmp / "pending.arrow", pa.table({"a": self.pa_, "b": self.pb, "t": self.pt}))
            _write(tmp / "resp_users.arrow", pa.table({
                "received": self.r_received, "answered": self.r_answered,
                "sent": self.r_sent, "sent_answered": self.r_sent_answered}))
            _write(tmp / "waits.arrow", pa.table({"responder": self.wr, "wait": self.ww}))
            if self.buffer:
                _write(tmp / "buffer.arrow", _concat(self.buffer))
            for name, parts in self.threads.items():
                _write(tmp / f"threads-{name}.arrow", _concat(parts))
            if target.exists():
                old = target.with_name(target.name + ".old")
                if old.exists():
                    shutil.rmtree(old)
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old)
            else:
                tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> StreamState:
        """Read a state written by :meth:`save`."""
        p = Path(path)
        if not (p / "meta.arrow").exists():
            raise SourceError(f"{str(p)!r} is not a saved engagequal state (no meta.arrow)")
        meta_tab = _read(p / "meta.arrow")
        raw = (meta_tab.schema.metadata or {}).get(b"engagequal")
        if raw is None:
            raise SourceError(f"{str(p)!r}: meta.arrow carries no engagequal metadata")
        meta = json.loads(raw)
        if meta.get("format") != "engagequal.state" or meta.get("version") != FORMAT_VERSION:
            raise SourceError(f"{str(p)!r}: unsupported state format {meta.get('format')!r} "
                              f"version {meta.get('version')!r}")
        tt = meta_tab.schema.field("time_probe").type
        users = _read(p / "users.arrow").column("id").combine_chunks()
        dy = _cols(_read(p / "dyads.arrow"))
        kc = _cols(_read(p / "kind_counts.arrow"))
        pend = _cols(_read(p / "pending.arrow"))
        ru = _cols(_read(p / "resp_users.arrow"))
        wt = _cols(_read(p / "waits.arrow"))
        buf = [_read(p / "buffer.arrow")] if (p / "buffer.arrow").exists() else []
        threads = {k: [_read(p / f"threads-{k}.arrow")] for k in meta["threads"]}
        return cls(
            options=StateOptions.from_json(meta["options"]), read_options=meta["read_options"],
            time_type=None if pa.types.is_null(tt) else tt, users=users,
            kinds=tuple(meta["kinds"]),
            du=dy["u"], dv=dy["v"], dw=dy["w"], dn=dy["n"], dfirst=dy["first"],
            dlast=dy["last"], ref=meta["ref"], max_ts=meta["max_ts"],
            wmin=meta.get("wmin"), wmax=meta.get("wmax"),
            self_interactions=meta["self_interactions"],
            ku=kc["user"], kk=kc["kind"], kn_out=kc["n_out"], kw_out=kc["w_out"],
            kn_in=kc["n_in"], kw_in=kc["w_in"],
            pa_=pend["a"], pb=pend["b"], pt=pend["t"],
            r_received=ru["received"], r_answered=ru["answered"], r_sent=ru["sent"],
            r_sent_answered=ru["sent_answered"], wr=wt["responder"], ww=wt["wait"],
            rows_in=meta["rows_in"], rows_used=meta["rows_used"],
            set_aside=dict(meta["set_aside"]), notes=dict(meta["notes"]),
            buffer=buf, threads=threads,
        )

    def __repr__(self) -> str:
        return (f"<engagequal.StreamState: {self.rows_used:,} events, {self.n_users:,} users, "
                f"{self.n_dyads:,} dyads, {self.pt.size:,} pending messages, "
                f"{sum(t.num_rows for t in self.buffer):,} buffered thread rows>")


# ---------------------------------------------------------------------- helpers
def sorted_unique(keys: NDArray[Any], *, inverse: bool = True
                  ) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Distinct values in ascending order and, optionally, each key's position
    among them (one sort; cheaper than hashing on large int64 keys)."""
    s = np.sort(keys) if not inverse else None
    if inverse:
        order = stable_order(keys)
        s = keys[order]
    assert s is not None
    flag = np.empty(s.size, dtype=bool)
    if s.size:
        flag[0] = True
        np.not_equal(s[1:], s[:-1], out=flag[1:])
    uniq = s[flag]
    if not inverse:
        return uniq, np.zeros(0, dtype=_I64)
    inv = np.empty(s.size, dtype=_I64)
    inv[order] = running_count(flag) - 1
    return uniq, inv


def columns_of(read_options: Mapping[str, Any]) -> list[str]:
    """The source columns that the read options map (defaults included)."""
    roles: dict[str, Any] = {"actor": "actor", "target": "target", "ts": "ts", "kind": "kind"}
    for k, v in read_options.items():
        if k not in ("kind_weights", "strict"):
            roles[k] = v
    return [v for v in dict.fromkeys(roles.values()) if v is not None]


def _check_read_options(ro: Mapping[str, Any]) -> None:
    allowed = {"actor", "target", "ts", "kind", "event_id", "parent", "thread", "weight",
               "kind_weights", "strict"}
    bad = sorted(set(ro) - allowed)
    if bad:
        raise OptionError(f"unknown option(s) {bad}; read options are {sorted(allowed)}")


def _write(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)


def _read(path: Path) -> pa.Table:
    try:
        with pa.memory_map(str(path), "r") as src:
            return pa.ipc.open_file(src).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"cannot read state file {str(path)!r}: {exc}") from exc


def _cols(t: pa.Table) -> dict[str, NDArray[Any]]:
    return {n: t.column(n).to_numpy() for n in t.column_names}


def _concat(tables: Sequence[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"batches do not share one schema (schema drift): {exc}") from exc


def _events_partial(ev: Events, base: StreamState) -> StreamState:
    """The partial state of one group of events (whole threads)."""
    o = base.options
    if ev.n_events == 0 and ev.accounting.rows_in == 0:
        return replace(base, time_type=ev.time_type, users=ev.users)
    t0, t1 = o.bounds(ev.time_type)
    max_ts = ev.time_range[1] if ev.n_events else None
    m = np.ones(ev.n_events, dtype=bool)
    if t0 is not None:
        m &= ev.ts >= t0
    if t1 is not None:
        m &= ev.ts < t1
    actor, target, ts, kind = ev.actor[m], ev.target[m], ev.ts[m], ev.kind[m]
    # users present in the window, recoded densely (order kept)
    present = np.zeros(ev.n_users, dtype=bool)
    present[actor] = True
    present[target[target >= 0]] = True
    if not present.all():
        lut = running_count(present) - 1
        actor = lut[actor].astype(_I32)
        target = np.where(target >= 0, lut[np.maximum(target, 0)], -1).astype(_I32)
        users = ev.users.filter(pa.array(present))
    else:
        users = ev.users
    nu = len(users)
    sub = Events(actor=actor, target=target, ts=ts, kind=kind, weight=ev.weight[m],
                 users=users, kinds=ev.kinds, kind_weights=ev.kind_weights,
                 time_type=ev.time_type, tree=None, accounting=ev.accounting)
    ref = None
    if o.half_life is not None:
        ref = t1 if t1 is not None else max_ts
    w = event_weights(sub, TieOptions(t0, t1, o.half_life, ref, 0.0))
    d = aggregate_dyads(actor, target, w, ts, nu)
    # per (user, kind)
    nk = max(len(ev.kinds), 1)
    kmat_out = actor.astype(_I64) * nk + kind
    has_t = target >= 0
    kmat_in = target[has_t].astype(_I64) * nk + kind[has_t]
    ku, kn_out, kn_in, kw_out, kw_in = _kind_counts(kmat_out, kmat_in, sub.weight,
                                                    sub.weight[has_t], nu * nk)
    # responsiveness: message-like events wait for their answers
    mm = message_like(sub) if o.responses else np.zeros(sub.n_events, dtype=bool)
    acc = ev.accounting
    notes = dict(acc.notes)
    st = replace(
        base, time_type=ev.time_type, users=users, kinds=tuple(ev.kinds),
        du=d.u, dv=d.v, dw=d.w, dn=d.n, dfirst=d.first, dlast=d.last, ref=ref, max_ts=max_ts,
        wmin=int(ts.min()) if ts.size else None, wmax=int(ts.max()) if ts.size else None,
        self_interactions=int(np.count_nonzero(actor == target)),
        ku=(ku // nk).astype(_I32), kk=(ku % nk).astype(np.int16),
        kn_out=kn_out, kw_out=kw_out, kn_in=kn_in, kw_in=kw_in,
        pa_=actor[mm], pb=target[mm], pt=ts[mm],
        r_received=np.zeros(nu, _I64), r_answered=np.zeros(nu, _I64),
        r_sent=np.zeros(nu, _I64), r_sent_answered=np.zeros(nu, _I64),
        rows_in=acc.rows_in, rows_used=acc.rows_used, set_aside=dict(acc.set_aside),
        notes=notes, buffer=[], threads={},
    )
    if base.has_tree and ev.tree is not None:
        from engagequal.stream import thread_partials

        st = replace(st, threads={k: [v] for k, v in thread_partials(ev, st).items()})
    return st


def _kind_counts(sent: NDArray[np.int64], received: NDArray[np.int64],
                 w_sent: NDArray[np.float64], w_received: NDArray[np.float64], grid: int,
                 ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                            NDArray[np.float64], NDArray[np.float64]]:
    """The (user, kind) keys that occur, in order, with their events and weights
    sent and received: counted over the whole grid of keys when it is not much
    larger than the events, else over the keys' sorted distinct values."""
    if grid <= 4 * (sent.size + received.size) + 1024:
        n_out, n_in = np.bincount(sent, minlength=grid), np.bincount(received, minlength=grid)
        keys = np.flatnonzero(n_out + n_in).astype(_I64)
        w_out = np.bincount(sent, weights=w_sent, minlength=grid)[keys].astype(np.float64)
        w_in = np.bincount(received, weights=w_received, minlength=grid)[keys].astype(np.float64)
        return keys, n_out[keys].astype(_I64), n_in[keys].astype(_I64), w_out, w_in
    keys, inv = sorted_unique(np.concatenate([sent, received]))
    s_out, s_in = inv[:sent.size], inv[sent.size:]
    return (keys, np.bincount(s_out, minlength=keys.size).astype(_I64),
            np.bincount(s_in, minlength=keys.size).astype(_I64),
            np.bincount(s_out, weights=w_sent, minlength=keys.size).astype(np.float64),
            np.bincount(s_in, weights=w_received, minlength=keys.size).astype(np.float64))


def _union_users(dicts: Sequence[pa.Array]) -> tuple[pa.Array, list[NDArray[np.int64]]]:
    """Sorted union of sorted id dictionaries and each one's code map into it."""
    live = [d for d in dicts if len(d)]
    types = {d.type for d in live}
    if len(types) > 1:
        raise InputError(f"user ids change type between batches ({sorted(map(str, types))}); "
                         "cast them to one type (schema drift)")
    typ = types.pop() if types else (dicts[0].type if dicts else pa.int64())
    if len(live) <= 1 or all(len(d) == len(live[0]) and d.equals(live[0]) for d in live):
        u = live[0] if live else pa.array([], typ)
        return u, [np.arange(len(d), dtype=_I64) for d in dicts]
    if pa.types.is_integer(typ):
        arrs = [d.to_numpy() for d in dicts]
        un, _ = sorted_unique(np.concatenate(arrs), inverse=False)
        return pa.array(un, typ), [np.searchsorted(un, a).astype(_I64) for a in arrs]
    allv = pc.unique(pa.concat_arrays([d.cast(typ) for d in live]))
    allv = allv.take(pc.sort_indices(allv))
    maps = [pc.index_in(d, value_set=allv).to_numpy(zero_copy_only=False).astype(_I64)
            for d in dicts]
    return allv, maps


def _reduce_sorted(key: NDArray[np.int64], *cols: tuple[NDArray[Any], str]
                   ) -> tuple[NDArray[np.int64], list[NDArray[Any]]]:
    """Group equal keys (stable), reduce each column by ``add``, ``min`` or ``max``."""
    order = stable_order(key)
    ks = key[order]
    starts = segment_starts(ks)
    out: list[NDArray[Any]] = []
    ops = {"add": np.add, "min": np.minimum, "max": np.maximum}
    for arr, op in cols:
        if starts.size == 0:
            out.append(arr[:0])
        else:
            out.append(ops[op].reduceat(arr[order], starts))
    return ks[starts], out


def merge_states(states: Sequence[StreamState]) -> StreamState:
    """Merge partial states into one (associative and commutative).

    Dyad weights, counts and the per-user counts add; first and last contacts
    take min and max; decayed weights are first rescaled to the latest
    reference time ``T``: ``w * 2 ** ((T_i - T) / h)``.  User dictionaries are
    unioned in id order and every code column re-mapped (a monotone map, so
    sorted columns stay sorted).  All pieces are merged at once (one sort per
    key), which is cheaper than merging them pairwise.

    Raises
    ------
    OptionError
        When the states were built with different options.
    InputError
        When their user ids or time columns changed type (schema drift).
    """
    if not states:
        raise OptionError("merge_states needs at least one state")
    first = states[0]
    for s in states[1:]:
        if s.options != first.options or s.read_options != first.read_options:
            raise OptionError("cannot merge states built with different options: "
                              f"{s.options} / {s.read_options} vs {first.options} / "
                              f"{first.read_options}")
    types = {s.time_type for s in states if s.time_type is not None}
    if len(types) > 1:
        raise InputError(f"the time column changes type between batches "
                         f"({sorted(map(str, types))}) (schema drift)")
    live = [s for s in states if s.rows_in or s.buffer or s.n_users or s.time_type is not None]
    if len(live) == 1:
        return live[0]
    if not live:
        return first
    users, maps = _union_users([s.users for s in live])
    nu = len(users)
    kinds = tuple(sorted(set().union(*[s.kinds for s in live])))
    kpos = {k: i for i, k in enumerate(kinds)}
    kmaps = [np.array([kpos[k] for k in s.kinds] or [0], dtype=_I64) for s in live]
    # decay: rescale to the latest reference
    refs = [s.ref for s in live if s.ref is not None]
    ref = max(refs) if refs else None
    hl = first.options.half_life
    ws = []
    for s in live:
        if hl is not None and s.ref is not None and ref is not None and s.ref != ref:
            ws.append(s.dw * np.exp2(-((ref - s.ref) / 1e9) / hl))
        else:
            ws.append(s.dw)
    n64 = np.int64(max(nu, 1))
    key = np.concatenate([mp[s.du] * n64 + mp[s.dv] for s, mp in zip(live, maps)])
    k, (w, n, f, last) = _reduce_sorted(
        key, (np.concatenate(ws), "add"), (np.concatenate([s.dn for s in live]), "add"),
        (np.concatenate([s.dfirst for s in live]), "min"),
        (np.concatenate([s.dlast for s in live]), "max"))
    du, dv = (k // n64).astype(_I32), (k % n64).astype(_I32)
    nk = np.int64(max(len(kinds), 1))
    kkey = np.concatenate([mp[s.ku] * nk + km[s.kk] for s, mp, km in zip(live, maps, kmaps)])
    kk_, (kno, kwo, kni, kwi) = _reduce_sorted(
        kkey, *[(np.concatenate([getattr(s, a) for s in live]), "add")
                for a in ("kn_out", "kw_out", "kn_in", "kw_in")])

    def dense(attr: str) -> NDArray[np.int64]:
        out = np.zeros(nu, dtype=_I64)
        for s, mp in zip(live, maps):
            arr = getattr(s, attr)
            if arr.size:
                out[mp[: arr.size]] += arr
        return out

    set_aside: dict[str, int] = {}
    notes: dict[str, int] = {}
    threads: dict[str, list[pa.Table]] = {}
    for s in live:
        for dst, src in ((set_aside, s.set_aside), (notes, s.notes)):
            for key_, v in src.items():
                dst[key_] = dst.get(key_, 0) + int(v)
        for name, parts in s.threads.items():
            threads.setdefault(name, []).extend(parts)
    from engagequal.stream import merge_thread_partials

    threads = {name: parts if len(parts) <= 4 else [merge_thread_partials(name, parts)]
               for name, parts in threads.items()}
    maxes = [s.max_ts for s in live if s.max_ts is not None]
    wmins = [s.wmin for s in live if s.wmin is not None]
    wmaxs = [s.wmax for s in live if s.wmax is not None]
    out = StreamState(
        options=first.options, read_options=first.read_options,
        time_type=types.pop() if types else None, users=users, kinds=kinds,
        du=du, dv=dv, dw=w, dn=n, dfirst=f, dlast=last, ref=ref,
        max_ts=max(maxes) if maxes else None,
        wmin=min(wmins) if wmins else None, wmax=max(wmaxs) if wmaxs else None,
        self_interactions=sum(s.self_interactions for s in live),
        ku=(kk_ // nk).astype(_I32), kk=(kk_ % nk).astype(np.int16),
        kn_out=kno, kw_out=kwo, kn_in=kni, kw_in=kwi,
        pa_=np.concatenate([mp[s.pa_] for s, mp in zip(live, maps)]).astype(_I32),
        pb=np.concatenate([mp[s.pb] for s, mp in zip(live, maps)]).astype(_I32),
        pt=np.concatenate([s.pt for s in live]),
        r_received=dense("r_received"), r_answered=dense("r_answered"),
        r_sent=dense("r_sent"), r_sent_answered=dense("r_sent_answered"),
        wr=np.concatenate([mp[s.wr] for s, mp in zip(live, maps)]).astype(_I32),
        ww=np.concatenate([s.ww for s in live]),
        rows_in=sum(s.rows_in for s in live), rows_used=sum(s.rows_used for s in live),
        set_aside=set_aside, notes=notes,
        buffer=[t for s in live for t in s.buffer], threads=threads,
    )
    if first.options.lateness is not None and out.max_ts is not None:
        out = _resolve(out, out.max_ts)
    return out


def _resolve(s: StreamState, watermark: int | None) -> StreamState:
    """Resolve the pending message events that can get no further answer.

    With ``watermark`` None every pending event is resolved; else those older
    than ``watermark - delta - lateness``.  Events that stay pending keep
    serving as possible answers to later messages.
    """
    if s.pt.size == 0:
        return s
    delta_ns = np.int64(round(s.options.delta * 1e9))
    if watermark is None:
        done = np.ones(s.pt.size, dtype=bool)
    else:
        late = np.int64(round((s.options.lateness or 0.0) * 1e9))
        done = s.pt < np.int64(watermark) - delta_ns - late
        if not done.any():
            return s
    wait = answer_times(s.pa_, s.pb, s.pt, max(s.n_users, 1))
    a, b, w = s.pa_[done], s.pb[done], wait[done]
    ok = (w >= 0) & (w <= delta_ns)
    nu = s.n_users
    keep = ~done
    return replace(
        s,
        pa_=s.pa_[keep], pb=s.pb[keep], pt=s.pt[keep],
        r_received=s.r_received + np.bincount(b, minlength=nu),
        r_answered=s.r_answered + np.bincount(b, weights=ok, minlength=nu).astype(_I64),
        r_sent=s.r_sent + np.bincount(a, minlength=nu),
        r_sent_answered=s.r_sent_answered + np.bincount(a, weights=ok,
                                                        minlength=nu).astype(_I64),
        wr=np.concatenate([s.wr, b[ok]]).astype(_I32), ww=np.concatenate([s.ww, w[ok]]),
    )
