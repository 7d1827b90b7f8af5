"""What every loader shares: the event table, error reporting, archives, times.

Every loader builds its rows with :class:`Rows` and reports malformed input
through :class:`Problems`, so that all formats give the same table schema
(:data:`EVENT_SCHEMA`), the same typed error (:class:`engagequal.errors.FormatError`,
naming the file and the line or record) and the same lenient accounting (the
``engagequal.io`` schema metadata, read back with :func:`load_info`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import io
import json
import os
import struct
import tarfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    "parse_json_array",
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

    Names are ``/``-separated paths relative to the archive's top.  A
    truncated or corrupt archive raises :class:`FormatError` naming it; with
    ``problems`` in lenient mode it is read as far as it goes instead: a zip
    whose end (the central directory) is cut off is listed from its local
    file headers, every complete member reads in full and the member the cut
    runs through reads up to the cut (so the loader sets aside the broken
    tail as it would any malformed record); a cut ``.tar.gz`` is listed up to
    the cut.  Such archives and members are counted in the notes
    (``truncated_archive``, ``truncated_member``).
    """

    def __init__(self, path: PathLike, problems: Problems | None = None) -> None:
        self.path = Path(path)
        self.problems = problems
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, _ZipMember] | None = None  # a recovered zip
        self._tar_stream = False  # a recovered tar: read front to back
        self.truncated = False  # read as far as it goes (lenient)
        p = self.path
        if not p.exists():
            raise SourceError(f"no such file or folder: {str(p)!r}")
        try:
            if p.is_dir():
                self._names = sorted(f.relative_to(p).as_posix() for f in p.rglob("*")
                                     if f.is_file())
            elif zipfile.is_zipfile(p) or p.suffix.lower() == ".zip" or _starts_zip(p):
                self._zip = zipfile.ZipFile(p)
                self._names = sorted(n for n in self._zip.namelist() if not n.endswith("/"))
            elif ".tar" in "".join(p.suffixes).lower() or p.suffix.lower() == ".tgz":
                self._tar = tarfile.open(p)  # noqa: SIM115 (closed with the process)
                self._names = sorted(m.name for m in self._tar.getmembers() if m.isfile())
            else:
                self._names = [p.name]
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            if problems is None or problems.strict:
                hint = "" if problems is None else "; pass strict=False to read what it holds"
                raise FormatError(f"{p}: archive: truncated or not a valid archive ({exc}){hint}",
                                  path=str(p), location="archive",
                                  reason="bad_archive") from exc
            self._recover(exc)

    def _recover(self, exc: BaseException) -> None:
        """Lenient: list what a truncated archive still holds."""
        assert self.problems is not None
        p = self.path
        self.truncated = True
        if self._tar is not None or (".tar" in "".join(p.suffixes).lower()
                                     or p.suffix.lower() == ".tgz"):
            self._tar = None
            self._tar_stream = True
            names: list[str] = []
            try:
                with self._open_tar_stream() as tar:
                    for m in tar:
                        if m.isfile():
                            names.append(m.name)
            except (tarfile.TarError, EOFError, OSError, zlib.error):
                pass
            self._names = sorted(names)
            if not self._names:
                self.problems.bad("bad_archive", p, "archive",
                                  f"truncated or not a valid archive ({exc}); nothing to read")
        else:
            self._zip = None
            self._members = _scan_zip(p)
            self._names = sorted(n for n in self._members if not n.endswith("/"))
            if not self._members:
                self.problems.bad("bad_archive", p, "archive",
                                  f"truncated or not a valid archive ({exc}); nothing to read")
        self.problems.note("truncated_archive")
        if len(self.problems.examples) < 10:
            self.problems.examples.append(f"{p}: archive: truncated or not a valid archive "
                                          f"({exc}): read as far as it goes")

    @contextlib.contextmanager
    def _open_tar_stream(self) -> Iterator[tarfile.TarFile]:
        """The tar read front to back (``r|``), decompressed up to a cut, which
        reads as the end of the data."""
        low = self.path.name.lower()
        make: Any = None
        if low.endswith((".gz", ".tgz")):
            make = functools.partial(zlib.decompressobj, 31)
        elif low.endswith((".bz2", ".tbz")):
            import bz2
            make = bz2.BZ2Decompressor
        elif low.endswith((".xz", ".txz")):
            import lzma
            make = lzma.LZMADecompressor
        raw: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 (closed with the tar)
        try:
            src = (io.BufferedReader(_Decompressing(raw, make, raise_on_cut=False))
                   if make is not None else raw)
            with tarfile.open(fileobj=src, mode="r|") as tar:
                yield tar
        finally:
            raw.close()

    def _read_tar_stream(self, name: str) -> tuple[bytes, bool]:
        """One member of a recovered tar, and whether it was read whole."""
        out = bytearray()
        try:
            with self._open_tar_stream() as tar:
                for m in tar:
                    if m.name != name:
                        continue
                    f = tar.extractfile(m)
                    if f is None:
                        return b"", False
                    while True:  # small reads: a cut loses at most one of them
                        chunk = f.read(512)
                        if not chunk:
                            return bytes(out), len(out) == m.size
                        out += chunk
        except (tarfile.TarError, EOFError, OSError, zlib.error):
            pass
        return bytes(out), False

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
        if (self._zip is None and self._tar is None and self._members is None
                and not self._tar_stream):
            return str(self.path)
        return f"{self.path}!{name}"

    def read(self, name: str) -> bytes:
        """The bytes of one member.

        A truncated or corrupt member raises :class:`FormatError` (strict), or
        (lenient) gives the bytes before the damage, counted as
        ``truncated_member``.
        """
        if self._members is not None or self._tar_stream:
            if self._members is not None:
                data, whole = _read_zip_member(self.path, self._members[name])
            else:
                data, whole = self._read_tar_stream(name)
            if not whole:
                self._cut(name, "cut short by the end of the archive")
            return data
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
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            if self.problems is None or self.problems.strict:
                raise FormatError(f"{self.display(name)}: truncated or corrupt ({exc})",
                                  path=self.display(name), location="archive",
                                  reason="bad_archive") from exc
            data = self._read_partial(name)
            self._cut(name, f"truncated or corrupt ({exc})")
            return data

    def _cut(self, name: str, why: str) -> None:
        assert self.problems is not None
        self.problems.note("truncated_member")
        if len(self.problems.examples) < 10:
            self.problems.examples.append(f"{self.display(name)}: archive: {why}: read up to "
                                          "the damage")

    def _read_partial(self, name: str) -> bytes:
        """The bytes of a damaged zip or tar member before the damage."""
        out = bytearray()
        try:
            f: IO[bytes] | None
            if self._zip is not None:
                f = self._zip.open(name)
            elif self._tar is not None:
                f = self._tar.extractfile(name)
            else:
                return b""
            if f is None:
                return b""
            with f:
                while True:
                    chunk = f.read(1 << 16)
                    if not chunk:
                        break
                    out += chunk
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error):
            pass
        return bytes(out)

    def open_text(self, name: str) -> IO[str]:
        """A text stream of one member, UTF-8 (BOM tolerated)."""
        return io.TextIOWrapper(io.BytesIO(self.read(name)), encoding="utf-8-sig",
                                errors="replace", newline="")


# --- zip archives without their central directory (a cut download) -------------

_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # a zip local file header (APPNOTE 4.3.7)


@dataclass(frozen=True)
class _ZipMember:
    name: str
    start: int  # offset of the member's data
    size: int  # compressed size (to the end of the file when cut)
    method: int  # 0 stored, 8 deflate, 12 bzip2, 14 lzma
    whole: bool  # all of its data is in the file


def _starts_zip(path: Path) -> bool:
    """A file starting with a zip local file header (a zip, perhaps cut)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _decompressor(method: int) -> Any:
    """A streaming decompressor of a zip method (deflate, bzip2), else None."""
    if method == 8:
        return zlib.decompressobj(-15)
    if method == 12:
        import bz2
        return bz2.BZ2Decompressor()
    return None


def _scan_zip(path: Path) -> dict[str, _ZipMember]:
    """The members of a zip listed from its local file headers, in order, up to
    the first one that does not end in the file (it is listed, not whole)."""
    out: dict[str, _ZipMember] = {}
    with open(path, "rb") as f:
        end = os.fstat(f.fileno()).st_size
        off = 0
        while off + _LOCAL.size <= end:
            f.seek(off)
            head = f.read(_LOCAL.size)
            sig, _, flags, method, _, _, _, csize, _, nlen, xlen = _LOCAL.unpack(head)
            if sig != b"PK\x03\x04":
                break  # the central directory, or damage
            name_b, extra = f.read(nlen), f.read(xlen)
            if len(name_b) < nlen or len(extra) < xlen:
                break  # the header itself is cut
            name = name_b.decode("utf-8" if flags & 0x800 else "cp437")
            start = off + _LOCAL.size + nlen + xlen
            zip64 = False
            if csize == 0xFFFFFFFF:  # sizes in the zip64 extra field (id 1)
                i = 0
                while i + 4 <= len(extra):
                    hid, hlen = struct.unpack_from("<HH", extra, i)
                    if hid == 1 and hlen >= 16:
                        csize = struct.unpack_from("<Q", extra, i + 12)[0]
                        zip64 = True
                        break
                    i += 4 + hlen
            if flags & 0x01:  # encrypted: cannot be read, but can be skipped when sized
                if flags & 0x08:
                    break
                off = start + csize
                continue
            if flags & 0x08:  # sizes only in a data descriptor after the data
                found = _deflated_length(f, start, method)
                if found is None:  # cut inside, or not findable: read to the end
                    out[name] = _ZipMember(name, start, end - start, method, False)
                    break
                csize = found
                f.seek(start + csize)
                tail = f.read(28)
                skip = 12 + (8 if zip64 else 0)
                if tail[:4] == b"PK\x07\x08":
                    skip += 4
                off = start + csize + skip
            else:
                off = start + csize
            whole = start + csize <= end
            out[name] = _ZipMember(name, start, min(csize, end - start), method, whole)
            if not whole:
                break
    return out


def _deflated_length(f: IO[bytes], start: int, method: int) -> int | None:
    """Length of a member's data whose size is only in the data descriptor after
    it: deflate is decompressed (output discarded) to its end; stored data ends
    at a descriptor naming that length.  None when it is cut or not findable."""
    f.seek(start)
    if method == 0:
        pos, carry = start, b""
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return None
            buf = carry + chunk
            base = pos - len(carry)
            i = buf.find(b"PK\x07\x08")
            while i >= 0:
                length = base + i - start
                if i + 12 <= len(buf) and struct.unpack_from("<I", buf, i + 8)[0] == length:
                    return length
                i = buf.find(b"PK\x07\x08", i + 1)
            pos += len(chunk)
            carry = buf[-11:]
    if method != 8:
        return None
    d = zlib.decompressobj(-15)
    fed = 0
    while not d.eof:
        chunk = f.read(1 << 20)
        if not chunk:
            return None
        fed += len(chunk)
        try:
            while chunk and not d.eof:
                d.decompress(chunk, 1 << 20)
                chunk = d.unconsumed_tail
        except zlib.error:
            return None
    return fed - len(d.unused_data)


def _read_zip_member(path: Path, m: _ZipMember) -> tuple[bytes, bool]:
    """The data of a member of a recovered zip; False when it could not be read
    whole (cut, damaged or an unknown method: the bytes before the damage)."""
    with open(path, "rb") as f:
        f.seek(m.start)
        raw = f.read(m.size)
    if m.method == 0:
        return raw, m.whole
    d = _decompressor(m.method)
    if d is None:
        return b"", False
    try:
        data = d.decompress(raw)
    except (zlib.error, OSError, EOFError):
        return b"", False
    return bytes(data), m.whole and bool(d.eof)


def parse_json(text: str | bytes, where: str, problems: Problems) -> Any:
    """``json.loads`` whose error names the file and the line (strict), or
    ``None`` after counting ``bad_json`` (lenient)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.bad("bad_json", where, f"line {exc.lineno}", f"invalid JSON ({exc.msg}, "
                     f"column {exc.colno})")
        return None


def parse_json_array(text: str, where: str, problems: Problems) -> Any:
    """:func:`parse_json` of a document that should be a JSON array; in lenient
    mode a broken array (a cut file) gives the items before the damage, and the
    rest is counted once as ``bad_json`` (at the line where it breaks)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if problems.strict or not text.lstrip().startswith("["):
            problems.bad("bad_json", where, f"line {exc.lineno}", f"invalid JSON ({exc.msg}, "
                         f"column {exc.colno})")
            return None
    dec = json.JSONDecoder()
    items: list[Any] = []
    i = text.index("[") + 1
    n = len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i < n and text[i] == "]":
            return items
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            problems.bad("bad_json", where, f"line {exc.lineno}",
                         f"invalid JSON ({exc.msg}, column {exc.colno}); the "
                         f"{len(items)} item(s) before it are kept")
            return items
        items.append(obj)
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i < n and text[i] == ",":
            i += 1
        elif not (i < n and text[i] == "]"):
            line = text.count("\n", 0, i) + 1
            problems.bad("bad_json", where, f"line {line}",
                         f"invalid JSON (expected ',' or ']'); the {len(items)} item(s) "
                         "before it are kept")
            return items


def iter_json_lines(data: IO[str], where: str, problems: Problems) -> Iterator[tuple[int, Any]]:
    """``(line number, object)`` of each non-blank JSON line; a broken line
    raises (strict) or is counted as ``bad_json`` and skipped.  A compressed
    file that breaks off (a cut download) raises naming the line it breaks
    off at (strict), or ends the file there, counted as ``truncated``; the
    partial last line is that one record."""
    lineno = 0
    lines = iter(data)
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except (EOFError, OSError, zlib.error) as exc:
            problems.bad("truncated", where, f"line {lineno + 1}",
                         f"the file breaks off here: truncated or corrupt ({exc}); the "
                         f"{lineno} line(s) before are read")
            return
        lineno += 1
        s = line.strip()
        if not s:
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            problems.bad("bad_json", where, f"line {lineno}",
                         f"invalid JSON ({exc.msg}, column {exc.colno})")
            continue
        yield lineno, obj


def open_maybe_compressed(path: PathLike) -> IO[str]:
    """A UTF-8 text stream of a plain, ``.gz``, ``.bz2`` or ``.xz`` file.

    A compressed file that breaks off (a cut download) gives every byte before
    the cut, then raises ``EOFError`` (the partial last line is not returned).
    """
    p = os.fspath(path)
    low = p.lower()
    make: Any = None
    if low.endswith(".gz"):
        make = functools.partial(zlib.decompressobj, 31)
    elif low.endswith(".bz2"):
        import bz2
        make = bz2.BZ2Decompressor
    elif low.endswith(".xz"):
        import lzma
        make = lzma.LZMADecompressor
    try:
        if make is None:
            return open(p, encoding="utf-8-sig", errors="replace")
        raw = open(p, "rb")  # noqa: SIM115 (closed with the text stream)
    except FileNotFoundError as exc:
        raise SourceError(f"no such file: {p!r}") from exc
    return io.TextIOWrapper(io.BufferedReader(_Decompressing(raw, make)), encoding="utf-8-sig",
                            errors="replace")


class _Decompressing(io.RawIOBase):
    """A raw stream of a compressed file (several concatenated members read
    as one), giving all the data before a cut before it raises ``EOFError``."""

    def __init__(self, f: IO[bytes], make: Callable[[], Any], raise_on_cut: bool = True) -> None:
        self._f, self._make, self._raise = f, make, raise_on_cut
        self._d = make()
        self._fed = False  # the current member has had input
        self._buf = b""
        self._state = "open"  # "open", "cut", "done"

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._f.close()
        super().close()

    def readinto(self, b: Any) -> int:
        while not self._buf:
            if self._state == "done":
                return 0
            if self._state == "cut":
                if not self._raise:
                    return 0
                raise EOFError("compressed file ended before the end-of-stream marker was "
                               "reached")
            raw = self._f.read(1 << 16)
            if not raw:
                self._state = "done" if (self._d.eof or not self._fed) else "cut"
                continue
            out = [self._d.decompress(raw)]
            self._fed = True
            while self._d.eof and self._d.unused_data:  # the next member
                rest = self._d.unused_data
                self._d = self._make()
                out.append(self._d.decompress(rest))
            if self._d.eof:
                self._d, self._fed = self._make(), False
            self._buf = b"".join(out)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def as_paths(path: PathLike | Sequence[PathLike]) -> list[PathLike]:
    """One path or a sequence of paths, as a list."""
    if isinstance(path, (str, os.PathLike)):
        return [path]
    return list(path)
