"""What every loader shares: the event table, error reporting, archives, times.

Every loader builds its rows with :class:`Rows` and reports malformed input
through :class:`Problems`, so that all formats give the same table schema
(:data:`EVENT_SCHEMA`), the same typed error (:class:`engagequal.errors.FormatError`,
naming the file and the line or record) and the same lenient accounting (the
``engagequal.io`` schema metadata, read back with :func:`load_info`).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engagequal.errors import FormatError, SourceError
from engagequal.kernels.trees import root_and_depth

__all__ = [
    "EVENT_SCHEMA",
    "META_INFO",
    "META_OWNER",
    "READ_OPTIONS",
    "Archive",
    "LoadInfo",
    "PathLike",
    "Problems",
    "Rows",
    "add_chat",
    "as_paths",
    "event_table",
    "iso_to_ms",
    "iter_json_lines",
    "load_info",
    "open_maybe_compressed",
    "parse_json",
]

PathLike = str | os.PathLike[str]

#: Schema of every loader's table.  ``target`` null: aimed at the author of
#: ``parent`` (``read_events`` fills it in), or at no one when there is none.
EVENT_SCHEMA = pa.schema([
    pa.field("actor", pa.string(), nullable=False),
    pa.field("target", pa.string()),
    pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("parent", pa.string()),
    pa.field("thread", pa.string(), nullable=False),
    pa.field("record", pa.string(), nullable=False),
])

#: Keywords that make :func:`engagequal.read_events` use the reply tree of a
#: loader's table: ``eq.read_events(table, **READ_OPTIONS)``.
READ_OPTIONS: Mapping[str, str] = {"event_id": "event_id", "parent": "parent",
                                   "thread": "thread"}

#: Schema metadata keys.
META_OWNER = b"engagequal.owner"
META_INFO = b"engagequal.io"


@dataclass(frozen=True)
class LoadInfo:
    """What a loader read, kept in its table's schema metadata.

    Attributes
    ----------
    format : str
        The loader's format name (``"mbox"``, ``"twitter"``, ...).
    paths : list of str
        The files or folders read.
    records : int
        Source records seen (messages, tweets, utterances, ...), set aside or not.
    rows : int
        Rows in the table (a record gives one row per recipient).
    owner : str or None
        The archive's owner, when the format names it (also under the
        ``engagequal.owner`` metadata key).
    set_aside : dict
        Records set aside, by reason (only in lenient mode, except
        ``duplicate_id``: a record whose id was already read, e.g. one message
        stored in two folders, is always skipped and counted).
    notes : dict
        Records kept but worth knowing about, by reason (e.g.
        ``date_from_envelope``, ``no_message_id``, ``deleted_author``).
    examples : list of str
        Up to ten ``"file: location: problem"`` strings for the records set aside.

    Examples
    --------
    Records in = records kept + records set aside:

    >>> from engagequal.io import LoadInfo
    >>> info = LoadInfo(format="mbox", paths=["box.mbox"], records=12, rows=15,
    ...                 set_aside={"no_date": 2})
    >>> info.records - sum(info.set_aside.values())
    10
    """

    format: str
    paths: list[str]
    records: int
    rows: int
    owner: str | None = None
    set_aside: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)


def load_info(table: pa.Table) -> LoadInfo:
    """The :class:`LoadInfo` of a table returned by an ``engagequal.io`` loader.

    Examples
    --------
    >>> from engagequal.io import read_convokit, load_info
    >>> import json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "utterances.jsonl").write_text(json.dumps(
    ...     {"id": "u1", "speaker": "ann", "conversation_id": "u1", "reply_to": None,
    ...      "timestamp": 0}) + "\\n{broken\\n")
    >>> info = load_info(read_convokit(d, strict=False))
    >>> info.records, info.rows, info.set_aside
    (2, 1, {'bad_json': 1})
    """
    meta = table.schema.metadata or {}
    if META_INFO not in meta:
        raise SourceError("the table carries no engagequal.io metadata "
                          "(it did not come from an engagequal.io loader)")
    d = json.loads(meta[META_INFO])
    return LoadInfo(**d)


class Problems:
    """Malformed records: raise :class:`FormatError` (strict) or count them."""

    def __init__(self, fmt: str, strict: bool) -> None:
        self.format = fmt
        self.strict = strict
        self.set_aside: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.examples: list[str] = []

    def bad(self, reason: str, path: PathLike, location: str, detail: str) -> None:
        """One record cannot be used: raise, or count it under ``reason``."""
        text = f"{os.fspath(path)}: {location}: {detail}"
        if self.strict:
            raise FormatError(
                f"{text} (reason {reason!r}); pass strict=False to set such records aside "
                "and count them", path=os.fspath(path), location=location, reason=reason)
        self.set_aside[reason] += 1
        if len(self.examples) < 10:
            self.examples.append(text)

    def skip(self, reason: str, n: int = 1) -> None:
        """Records skipped in either mode (e.g. a duplicate id), counted."""
        self.set_aside[reason] += n

    def note(self, reason: str, n: int = 1) -> None:
        """Records kept that deserve a mention."""
        self.notes[reason] += n


class Rows:
    """Column builder for :data:`EVENT_SCHEMA`.

    One *record* (a message, a tweet, an utterance) gives one row per target.
    The first row carries the record in the reply tree (``event_id`` is the
    record id); each further row gets ``event_id = record + " -> " + target``
    and the same ``parent`` and ``thread``, so it is a sibling of the record in
    the tree and never the parent of anything.  ``record`` names the record on
    every row, so ``event_id == record`` selects one row per record.

    Examples
    --------
    >>> from engagequal.io import Rows
    >>> from engagequal.io._common import Problems
    >>> rows = Rows()
    >>> rows.add("m1", "ann", 1000, [("bob", "message"), ("cy", "message")])
    >>> t = rows.table("mine", ["inbox.json"], Problems("mine", strict=True))
    >>> t.select(["target", "event_id", "record"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'target': 'bob', 'event_id': 'm1', 'record': 'm1'},
     {'target': 'cy', 'event_id': 'm1 -> cy', 'record': 'm1'}]
    """

    def __init__(self) -> None:
        self.actor: list[str] = []
        self.target: list[str | None] = []
        self.ts: list[int] = []
        self.kind: list[str] = []
        self.event_id: list[str] = []
        self.parent: list[str | None] = []
        self.thread: list[str | None] = []
        self.record: list[str] = []
        self.records = 0

    def add(self, record: str, actor: str, ts_ms: int, targets: Sequence[tuple[str | None, str]],
            *, parent: str | None = None, thread: str | None = None) -> None:
        """Add one record aimed at ``targets``, a list of ``(target, kind)``
        (at least one; a ``None`` target only first)."""
        self.records += 1
        for i, (tgt, kind) in enumerate(targets):
            self.actor.append(actor)
            self.target.append(tgt)
            self.ts.append(ts_ms)
            self.kind.append(kind)
            self.event_id.append(record if i == 0 else f"{record} -> {tgt}")
            self.parent.append(parent)
            self.thread.append(thread)
            self.record.append(record)

    def table(self, fmt: str, paths: Sequence[PathLike], problems: Problems,
              owner: str | None = None) -> pa.Table:
        """The event table, threads completed, with the loader's metadata."""
        return event_table(
            fmt, paths, problems, owner, records=self.records,
            actor=pa.array(self.actor, pa.string()),
            target=pa.array(self.target, pa.string()),
            ts_ms=pa.array(np.asarray(self.ts, dtype=np.int64), pa.int64()),
            kind=pa.array(self.kind, pa.string()),
            event_id=pa.array(self.event_id, pa.string()),
            parent=pa.array(self.parent, pa.string()),
            thread=pa.array(self.thread, pa.string()),
            record=pa.array(self.record, pa.string()))


def event_table(fmt: str, paths: Sequence[PathLike], problems: Problems, owner: str | None, *,
                records: int, actor: pa.Array, target: pa.Array, ts_ms: pa.Array,
                kind: pa.Array, event_id: pa.Array, parent: pa.Array, thread: pa.Array,
                record: pa.Array) -> pa.Table:
    """The table of :data:`EVENT_SCHEMA` from its columns (``ts_ms``: int64
    milliseconds), null threads completed (the id of the record's root), with
    the loader's metadata; ``records`` is the number of records kept."""
    t = pa.table({
        "actor": actor, "target": target,
        "ts": ts_ms.cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "kind": kind, "event_id": event_id, "parent": parent,
        "thread": _complete_threads(event_id, parent, thread, record),
        "record": record,
    }, schema=EVENT_SCHEMA)
    info = LoadInfo(format=fmt, paths=[os.fspath(p) for p in paths],
                    records=records + sum(problems.set_aside.values()),
                    rows=t.num_rows, owner=owner, set_aside=dict(problems.set_aside),
                    notes=dict(problems.notes), examples=list(problems.examples))
    meta = {META_INFO: json.dumps(info.__dict__).encode()}
    if owner is not None:
        meta[META_OWNER] = owner.encode()
    return t.replace_schema_metadata(meta)


ChatMessage = tuple[str, str, int, Sequence[tuple[str | None, str]]]


def add_chat(rows: Rows, messages: Sequence[ChatMessage], thread: str | None,
             chain: bool = True) -> None:
    """Add the messages ``(record, actor, ts_ms, targets)`` of one chat conversation.

    Chats (direct messages, inboxes) have no reply pointers.  With ``chain``,
    the conversation is read as one line of talk: in time order (ties keep the
    given order), each message's ``parent`` is the message before it, so
    back-and-forth shows as exchanges in the reply tree; without it every
    message is a root of the conversation's ``thread``.

    Parameters
    ----------
    rows : Rows
        The builder to add to.
    messages : sequence of (record, actor, ts_ms, targets)
        The conversation's messages in any order; ``targets`` is a list of
        ``(target, kind)`` as in :meth:`Rows.add`.
    thread : str or None
        The conversation id; None: with ``chain`` the thread is completed from
        the first message's id, without it each message is its own thread.
    chain : bool, default True
        Make each message the reply of the one before it.

    Examples
    --------
    >>> from engagequal.io import Rows, add_chat
    >>> from engagequal.io._common import Problems
    >>> rows = Rows()
    >>> add_chat(rows, [("m2", "bob", 2000, [("ann", "message")]),
    ...                 ("m1", "ann", 1000, [("bob", "message")])], "chat-1")
    >>> t = rows.table("mine", ["chat.json"], Problems("mine", strict=True))
    >>> t.select(["actor", "event_id", "parent"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'ann', 'event_id': 'm1', 'parent': None},
     {'actor': 'bob', 'event_id': 'm2', 'parent': 'm1'}]
    """
    order = sorted(range(len(messages)), key=lambda i: messages[i][2])
    prev: str | None = None
    for i in order:
        record, actor, ts, targets = messages[i]
        rows.add(record, actor, ts, targets, parent=prev if chain else None,
                 thread=thread if thread is not None else (None if chain else record))
        prev = record


def _complete_threads(eid: pa.Array, par: pa.Array, thr: pa.Array, rec: pa.Array) -> pa.Array:
    """Fill missing threads with the id of the record's root in the reply tree
    (parents outside the table end the chain; records on a cycle are their own
    thread, so ``read_events`` reports the cycle)."""
    if thr.null_count == 0:
        return thr
    pos = pc.fill_null(pc.index_in(par, value_set=eid), -1).to_numpy(
        zero_copy_only=False).astype(np.int64)
    root, _, stuck = root_and_depth(pos)
    root = np.where(stuck, np.arange(len(root)), root)
    # the thread of a row is the thread (given, else the id) of its record's root
    own = pc.coalesce(thr, rec)
    root_thr = own.take(pa.array(root))
    filled = pc.coalesce(thr, root_thr)
    # copies follow their record's first row
    first = pc.index_in(rec, value_set=eid).to_numpy(zero_copy_only=False).astype(np.int64)
    out: pa.Array = filled.take(pa.array(first))
    return out


# --- times -------------------------------------------------------------------


def iso_to_ms(value: str) -> int:
    """Milliseconds since the epoch of an ISO 8601 time (``Z`` or an offset;
    a time without an offset is UTC).  Raises ``ValueError``."""
    v = value.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    if v.endswith(" UTC"):
        v = v[:-4] + "+00:00"
    d = _dt.datetime.fromisoformat(v)
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return round(d.timestamp() * 1000)


# --- archives ------------------------------------------------------------------


class Archive:
    """Files of an export given as a folder, a ``.zip`` or a ``.tar(.gz)``.

    Names are ``/``-separated paths relative to the archive's top; a truncated
    or corrupt archive raises :class:`FormatError` naming it.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        p = self.path
        if not p.exists():
            raise SourceError(f"no such file or folder: {str(p)!r}")
        try:
            if p.is_dir():
                self._names = sorted(f.relative_to(p).as_posix() for f in p.rglob("*")
                                     if f.is_file())
            elif zipfile.is_zipfile(p) or p.suffix.lower() == ".zip":
                self._zip = zipfile.ZipFile(p)
                self._names = sorted(n for n in self._zip.namelist() if not n.endswith("/"))
            elif ".tar" in "".join(p.suffixes).lower() or p.suffix.lower() == ".tgz":
                self._tar = tarfile.open(p)  # noqa: SIM115 (closed with the process)
                self._names = sorted(m.name for m in self._tar.getmembers() if m.isfile())
            else:
                self._names = [p.name]
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise FormatError(f"{p}: archive: truncated or not a valid archive ({exc})",
                              path=str(p), location="archive", reason="bad_archive") from exc

    def names(self) -> list[str]:
        """All file names in the archive."""
        return list(self._names)

    def find(self, *suffixes: str) -> list[str]:
        """Names ending with any of ``suffixes`` (compared case-insensitively)."""
        low = tuple(s.lower() for s in suffixes)
        return [n for n in self._names if n.lower().endswith(low)]

    def display(self, name: str) -> str:
        """How a member is named in messages (``archive.zip!data/tweets.js``)."""
        if self.path.is_dir():
            return str(self.path / name)
        if self._zip is None and self._tar is None:
            return str(self.path)
        return f"{self.path}!{name}"

    def read(self, name: str) -> bytes:
        """The bytes of one member (a truncated member raises FormatError)."""
        try:
            if self._zip is not None:
                return self._zip.read(name)
            if self._tar is not None:
                f = self._tar.extractfile(name)
                if f is None:
                    raise FormatError(f"{self.display(name)}: not a regular file",
                                      path=self.display(name), reason="bad_archive")
                return f.read()
            if self.path.is_dir():
                return (self.path / name).read_bytes()
            return self.path.read_bytes()
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise FormatError(f"{self.display(name)}: truncated or corrupt ({exc})",
                              path=self.display(name), location="archive",
                              reason="bad_archive") from exc

    def open_text(self, name: str) -> IO[str]:
        """A text stream of one member, UTF-8 (BOM tolerated)."""
        return io.TextIOWrapper(io.BytesIO(self.read(name)), encoding="utf-8-sig",
                                errors="replace", newline="")


def parse_json(text: str | bytes, where: str, problems: Problems) -> Any:
    """``json.loads`` whose error names the file and the line (strict), or
    ``None`` after counting ``bad_json`` (lenient)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.bad("bad_json", where, f"line {exc.lineno}", f"invalid JSON ({exc.msg}, "
                     f"column {exc.colno})")
        return None


def iter_json_lines(data: IO[str], where: str, problems: Problems) -> Iterator[tuple[int, Any]]:
    """``(line number, object)`` of each non-blank JSON line; a broken line
    raises (strict) or is counted as ``bad_json`` and skipped."""
    for lineno, line in enumerate(data, start=1):
        s = line.strip()
        if not s:
            continue
        try:
            yield lineno, json.loads(s)
        except json.JSONDecodeError as exc:
            problems.bad("bad_json", where, f"line {lineno}",
                         f"invalid JSON ({exc.msg}, column {exc.colno})")


def open_maybe_compressed(path: PathLike) -> IO[str]:
    """A UTF-8 text stream of a plain, ``.gz``, ``.bz2`` or ``.xz`` file."""
    p = os.fspath(path)
    low = p.lower()
    try:
        if low.endswith(".gz"):
            import gzip
            return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8-sig", errors="replace")
        if low.endswith(".bz2"):
            import bz2
            return io.TextIOWrapper(bz2.open(p, "rb"), encoding="utf-8-sig", errors="replace")
        if low.endswith(".xz"):
            import lzma
            return io.TextIOWrapper(lzma.open(p, "rb"), encoding="utf-8-sig", errors="replace")
        return open(p, encoding="utf-8-sig", errors="replace")
    except FileNotFoundError as exc:
        raise SourceError(f"no such file: {p!r}") from exc


def as_paths(path: PathLike | Sequence[PathLike]) -> list[PathLike]:
    """One path or a sequence of paths, as a list."""
    if isinstance(path, (str, os.PathLike)):
        return [path]
    return list(path)
