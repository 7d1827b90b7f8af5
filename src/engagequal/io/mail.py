"""E-mail: mbox files and Maildir folders (standard library ``mailbox`` / ``email``).

Each message gives one ``"email"`` event per recipient, with its reply tree
from ``Message-ID``, ``In-Reply-To`` and ``References``.  Only the header block
of each message is parsed: an mbox is read in 1 MiB blocks and bodies are
skipped by searching for the next envelope line.  What is kept of a message
(ids, sender, time, recipients) goes into Arrow columns every few thousand
messages, so memory grows with the number of messages (a few hundred bytes
each, about the size of the table returned), never with the bodies.
"""

from __future__ import annotations

import email.utils
import functools
import mailbox
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.errors import OptionError, SourceError
from engagequal.io._common import PathLike, Problems, as_paths, event_table
from engagequal.kernels.trees import root_and_depth

__all__ = ["read_maildir", "read_mbox"]

_WANTED = frozenset({b"from", b"to", b"cc", b"bcc", b"date", b"message-id", b"in-reply-to",
                     b"references", b"list-post"})
_MSGID = re.compile(r"<([^<>\s]+)>")
_MAILTO = re.compile(r"<mailto:([^>?]+)", re.IGNORECASE)
ListPolicy = Literal["parent", "keep"]


def _headers(lines: Iterable[bytes]) -> dict[str, str]:
    """The wanted header fields of one header block (first occurrence wins,
    folded lines unfolded)."""
    out: dict[str, str] = {}
    cur: str | None = None
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if cur is not None:
                out[cur] += " " + line.strip().decode("utf-8", "replace")
            continue
        i = line.find(b":")
        name = line[:i].strip().lower() if i > 0 else b""
        if name in _WANTED and name.decode() not in out:
            cur = name.decode()
            out[cur] = line[i + 1:].strip().decode("utf-8", "replace")
        else:
            cur = None
    return out


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    m = _MSGID.search(value)
    if m:
        return m.group(1)
    v = value.strip()
    return v if v and " " not in v else None


def _last_id(value: str | None) -> str | None:
    if not value:
        return None
    ids = _MSGID.findall(value)
    if ids:
        return str(ids[-1])
    parts = value.split()
    return parts[-1] if parts else None


_SIMPLE = re.compile(r"\s*(?:[^<>\"(),:;@]*<([^<>\s\"(),:;]+@[^<>\s\"(),:;]+)>"
                     r"|([^<>\s\"(),:;]+@[^<>\s\"(),:;]+))\s*")


@functools.lru_cache(maxsize=1 << 12)
def _parse_addresses(value: str) -> tuple[str, ...]:
    """Addresses of one header value, lower case (cached: list and frequent
    correspondents' headers repeat).  Plain ``name <addr>`` / ``addr`` lists
    take a fast path; anything else goes through ``email.utils.getaddresses``."""
    out: list[str] = []
    for piece in value.split(","):
        m = _SIMPLE.fullmatch(piece)
        if m is None:
            found = email.utils.getaddresses([value])
            return tuple(a.strip().lower() for _, a in found if a.strip())
        out.append((m.group(1) or m.group(2)).lower())
    return tuple(out)


def _addresses(*values: str | None) -> list[str]:
    """Lower-cased addresses, display names dropped, duplicates removed."""
    found: list[str] = []
    for v in values:
        if v:
            found.extend(_parse_addresses(v))
    return list(dict.fromkeys(found))


@functools.lru_cache(maxsize=1 << 12)
def _author(value: str) -> str:
    name, addr = email.utils.parseaddr(value)
    return (addr or name).strip().lower()


def _date_ms(value: str | None) -> int | None:
    if not value:
        return None
    t = email.utils.parsedate_tz(value)
    if t is None:
        return None
    try:
        return int(email.utils.mktime_tz(t)) * 1000
    except (OverflowError, ValueError):
        return None


def _envelope_ms(env: bytes, enabled: bool) -> int | None:
    """Time of an mbox envelope line ``From <sender> <asctime>``, read as UTC."""
    parts = env.split(None, 2)
    if not enabled or len(parts) < 3:
        return None
    return _date_ms(parts[2].decode("ascii", "replace"))


def _delivery_ms(key: str, enabled: bool) -> int | None:
    """Delivery time of a Maildir message: the leading seconds of its name."""
    head = key.split(".", 1)[0]
    return int(head) * 1000 if enabled and head.isdigit() else None


class _Reader:
    """Turns header blocks into messages, then messages into rows.

    Messages are kept in columns: Python lists for the last ``_FLUSH``
    messages, Arrow record batches before them (a few dozen bytes a message
    instead of a few hundred as Python objects).  Duplicates, the reply tree,
    the list policy and the one-row-per-recipient expansion are computed once
    at the end, on the columns (:meth:`table`).
    """

    def __init__(self, problems: Problems, lists: Iterable[str] | None, detect_lists: bool,
                 list_policy: str) -> None:
        if list_policy not in ("parent", "keep"):
            raise OptionError(f"list_policy must be 'parent' or 'keep', not {list_policy!r}")
        self.problems = problems
        self.lists = {a.lower() for a in (lists or ())}
        self.detect = detect_lists
        self.policy = list_policy
        self._mid: list[str] = []
        self._author: list[str] = []
        self._ts: list[int] = []
        self._parent: list[str | None] = []
        self._rcpt: list[list[str]] = []
        self._chunks: dict[str, list[pa.Array]] = {f.name: [] for f in _MESSAGES}

    def add(self, h: dict[str, str], fallback: Callable[[], int | None], path: PathLike,
            where: str, ordinal: int) -> None:
        p = self.problems
        author = _author(h.get("from") or "")
        if not author:
            p.bad("no_from", path, where, "message without a usable From address")
            return
        ts = _date_ms(h.get("date"))
        if ts is None:
            fallback_ms = fallback()
            if fallback_ms is None:
                what = "an unparseable Date" if h.get("date") else "no Date"
                p.bad("no_date", path, where, f"message with {what} header (Message-ID "
                      f"{h.get('message-id', '(none)')}) and no envelope time to fall back on")
                return
            ts = fallback_ms
            p.note("date_from_envelope")
        mid = _first_id(h.get("message-id"))
        if mid is None:
            mid = f"noid:{os.path.basename(os.fspath(path))}#{ordinal}"
            p.note("no_message_id")
        parent = _first_id(h.get("in-reply-to")) or _last_id(h.get("references"))
        if parent == mid:
            parent = None
            p.note("self_parent")
        rcpt = _addresses(h.get("to"), h.get("cc"), h.get("bcc"))
        if len(rcpt) > 1 and author in rcpt:
            rcpt.remove(author)
        if self.detect and "list-post" in h:
            m = _MAILTO.search(h["list-post"])
            if m:
                self.lists.add(m.group(1).strip().lower())
        self._mid.append(mid)
        self._author.append(author)
        self._ts.append(ts)
        self._parent.append(parent)
        self._rcpt.append(rcpt)
        if len(self._mid) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        if not self._mid:
            return
        for f, values in zip(_MESSAGES, (self._mid, self._author, self._ts, self._parent,
                                         self._rcpt)):
            self._chunks[f.name].append(pa.array(values, f.type))
        self._mid, self._author, self._ts, self._parent, self._rcpt = [], [], [], [], []

    def _column(self, name: str) -> pa.Array:
        """One message column as one array; its chunks are dropped as it is built."""
        chunks = self._chunks.pop(name)
        out = pa.concat_arrays(chunks) if chunks else pa.array([], _MESSAGES.field(name).type)
        del chunks
        return out

    def table(self, fmt: str, paths: Sequence[PathLike], owner: str | None) -> pa.Table:
        """The event table of the messages read (see :func:`read_mbox`)."""
        self._flush()
        p = self.problems
        pool = pa.default_memory_pool()
        mid, author, ts, parent, rcpt = (self._column(c) for c in _MESSAGES.names)
        n = len(mid)
        # (the allocator keeps freed blocks: hand them back after each big temporary,
        # so that the peak is what is alive, not what was)
        pool.release_unused()
        # one hash pass over all ids: Message-IDs and parents as codes
        codes = pc.dictionary_encode(pa.concat_arrays([mid, parent])).indices
        mcode = codes.slice(0, n).to_numpy(zero_copy_only=False).astype(np.int64)
        pcode = pc.fill_null(codes.slice(n), -1).to_numpy(zero_copy_only=False).astype(np.int64)
        n_codes = int(max(mcode.max(initial=-1), pcode.max(initial=-1))) + 1
        del codes
        pool.release_unused()
        # a Message-ID already read (one message stored twice): the first one wins
        _, first = np.unique(mcode, return_index=True)
        if first.size < n:
            p.skip("duplicate_id", n - first.size)
            first.sort()
            take_first = pa.array(first)
            mid, author, ts, parent, rcpt = (a.take(take_first)
                                             for a in (mid, author, ts, parent, rcpt))
            mcode, pcode = mcode[first], pcode[first]
            n = len(mid)
        del first
        # the reply tree on the messages: each message's thread is its root's id
        pos_of = np.full(n_codes, -1, dtype=np.int64)
        pos_of[mcode] = np.arange(n)
        pos = np.where(pcode >= 0, pos_of[np.maximum(pcode, 0)], -1)
        del pos_of, mcode, pcode
        root, _, stuck = root_and_depth(pos)
        root = np.where(stuck, np.arange(n), root)
        thread = mid.take(pa.array(root))
        del root, stuck
        # one row per recipient; list recipients stand for the parent's author
        m = pc.list_parent_indices(rcpt).to_numpy(zero_copy_only=False).astype(np.int64)
        tgt = pc.list_flatten(rcpt)
        del rcpt
        if self.lists and self.policy == "parent" and len(tgt):
            is_list = pc.is_in(tgt, value_set=pa.array(sorted(self.lists), pa.string()))
            is_list_np = is_list.to_numpy(zero_copy_only=False)
            if is_list_np.any():
                ppos = pa.array(pos, mask=pos < 0)
                tgt = pc.if_else(is_list, author.take(ppos).take(pa.array(m)), tgt)
                del ppos
                valid = pc.is_valid(tgt).to_numpy(zero_copy_only=False)
                resolved = int((valid & is_list_np).sum())
                unresolved = int(is_list_np.sum()) - resolved
                if resolved:
                    p.note("list_to_parent_author", resolved)
                if unresolved:
                    p.note("list_unresolved", unresolved)
                if unresolved:
                    tgt = tgt.filter(pa.array(valid))
                    m = m[valid]
                if resolved:  # the parent's author may also be a recipient already
                    m, tgt = _first_pairs(m, tgt)
            del is_list, is_list_np
        del pos
        pool.release_unused()
        # a message left with no recipient is aimed at no one (one row, null target)
        lonely = np.flatnonzero(np.bincount(m, minlength=n) == 0)
        if lonely.size:
            m = np.concatenate([m, lonely])
            tgt = pa.concat_arrays([tgt, pa.nulls(lonely.size, pa.string())])
            order = np.argsort(m, kind="stable")
            m = m[order]
            tgt = tgt.take(pa.array(order))
            del order
        # event ids: the Message-ID on a message's first row, "<id> -> <target>" after it
        later = np.flatnonzero(m[1:] == m[:-1]) + 1
        suffixed = pc.binary_join_element_wise(mid.take(pa.array(m[later])),
                                               tgt.take(pa.array(later)), " -> ")
        eid_take = m.copy()
        eid_take[later] = n + np.arange(later.size)
        del later
        take = pa.array(m)
        del m
        pool.release_unused()
        # each message column is dropped as soon as its row column is built
        record = mid.take(take)
        event_id = pa.concat_arrays([mid, suffixed]).take(pa.array(eid_take))
        del suffixed, eid_take, mid
        actor = author.take(take)
        del author
        ts_ms = ts.take(take)
        del ts
        parent_ = parent.take(take)
        del parent
        thread_ = thread.take(take)
        del thread
        kind = pa.repeat(pa.scalar("email"), len(take)).cast(pa.string())
        del take
        pool.release_unused()
        out = event_table(fmt, paths, p, owner, records=n, actor=actor, target=tgt,
                          ts_ms=ts_ms, kind=kind, event_id=event_id, parent=parent_,
                          thread=thread_, record=record)
        del actor, tgt, ts_ms, kind, event_id, parent_, thread_, record
        pool.release_unused()
        return out


_MESSAGES = pa.schema([("mid", pa.string()), ("author", pa.string()), ("ts", pa.int64()),
                       ("parent", pa.string()), ("rcpt", pa.list_(pa.string()))])
_FLUSH = 1 << 12


def _first_pairs(m: NDArray[np.int64], tgt: pa.Array) -> tuple[NDArray[np.int64], pa.Array]:
    """The rows whose (message, target) pair was not seen before, in order
    (targets as dictionary codes: the hash table holds the distinct addresses only)."""
    code = pc.dictionary_encode(tgt).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    key = m * (int(code.max(initial=0)) + 1) + code
    _, idx = np.unique(key, return_index=True)
    if idx.size == len(m):
        return m, tgt
    idx.sort()
    return m[idx], tgt.take(pa.array(idx))


_CHUNK = 1 << 20


def _iter_mbox(path: PathLike) -> Iterator[tuple[int, bytes, list[bytes]]]:
    """``(line number, envelope line, header lines)`` of each message.

    A line starting with ``From `` opens a message (as :class:`mailbox.mbox`
    reads it).  The file is read in 1 MiB blocks; only header blocks are
    copied out, bodies are skipped by a search for the next ``\\nFrom ``, and
    the buffer holds at most one header block plus one block.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError as exc:
        raise SourceError(f"no such file: {os.fspath(path)!r}") from exc
    with f:
        buf = f.read(_CHUNK)
        eof = not buf
        pos, line_no = 0, 1  # line_no: the line that starts at buf[pos]

        def more(keep: int) -> int:
            """Drop buf[:keep] (counting its lines from pos), read a block;
            returns how far indices shifted."""
            nonlocal buf, eof, line_no, pos
            if keep > pos:
                line_no += buf.count(b"\n", pos, keep)
                pos = keep
            chunk = f.read(_CHUNK)
            eof = not chunk
            buf = buf[keep:] + chunk
            pos -= keep
            return keep

        # text before the first envelope: blank lines only
        while not buf.startswith(b"From ", pos):
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if eof:
                    if buf[pos:].strip():
                        yield line_no, b"", []
                    return
                more(pos)
                continue
            if buf[pos:nl].strip():
                yield line_no, b"", []
                return
            line_no += 1
            pos = nl + 1
        while True:
            # the envelope line and the header block (up to the first empty line
            # or the next envelope), one header line at a time
            i = pos
            first = True
            while True:
                if not first and (buf.startswith((b"\n", b"\r\n", b"From "), i)):
                    break
                nl = buf.find(b"\n", i)
                if nl < 0:
                    if eof:
                        i = len(buf)
                        break
                    rel = i - pos
                    more(pos)
                    i = pos + rel
                    continue
                i, first = nl + 1, False
                if i == len(buf) and not eof:
                    rel = i - pos
                    more(pos)
                    i = pos + rel
            eol = buf.find(b"\n", pos, i)
            eol = i if eol < 0 else eol + 1
            yield line_no, buf[pos:eol], buf[eol:i].splitlines(keepends=True)
            hend = max(i - 1, pos)
            # skip the body: find the next envelope line
            search = hend
            nxt = buf.find(b"\nFrom ", search)
            while nxt < 0 and not eof:
                keep = max(search, len(buf) - 6, pos)
                search -= more(keep)
                search = max(search, 0)
                nxt = buf.find(b"\nFrom ", search)
            if nxt < 0:
                return
            line_no += buf.count(b"\n", pos, nxt + 1)
            pos = nxt + 1


def read_mbox(
    path: PathLike | Sequence[PathLike],
    *,
    strict: bool = True,
    lists: Iterable[str] | None = None,
    detect_lists: bool = True,
    list_policy: ListPolicy = "parent",
    date_fallback: bool = True,
    owner: str | None = None,
) -> pa.Table:
    """Read one or more mbox files into an event table.

    Parameters
    ----------
    path : path or sequence of paths
        mbox file(s); several files are read as one archive (a reply whose
        parent is in another file keeps its parent).
    strict : bool, default True
        Raise :class:`engagequal.errors.FormatError` (naming the file, the line
        of the message's envelope and its Message-ID) on a message without a
        usable From or time; when False, set it aside and count it.
    lists : iterable of str, optional
        Mailing-list addresses (see Notes).
    detect_lists : bool, default True
        Also treat every address named by a ``List-Post: <mailto:...>`` header
        as a list.
    list_policy : {"parent", "keep"}
        ``"parent"``: a list recipient stands for the author of the message
        replied to (when it is in the archive) and is dropped otherwise;
        ``"keep"``: the list is a recipient like any other.
    date_fallback : bool, default True
        A message without a parseable ``Date`` takes the time of its envelope
        ``From `` line (read as UTC), counted as ``date_from_envelope``.
    owner : str, optional
        The mailbox owner's address, stored as the table's owner.

    Returns
    -------
    pyarrow.Table
        :data:`engagequal.io.EVENT_SCHEMA`: ``actor`` (sender address),
        ``target`` (recipient address; null: aimed at the parent's author, or
        at no one), ``ts``, ``kind`` (``"email"``), ``event_id``, ``parent``,
        ``thread`` (the Message-ID of the root of the reply chain in the
        archive), ``record`` (the Message-ID); :func:`engagequal.io.load_info`
        gives the counts.

    Notes
    -----
    * Addresses are lower-cased with display names dropped; recipients are
      ``To``, ``Cc`` and ``Bcc`` in that order, duplicates removed, and the
      sender is removed from their own recipients (unless the only one).
    * Ids are the first ``<...>`` token of ``Message-ID``; the parent is the
      first token of ``In-Reply-To``, else the last of ``References``.  A
      message without ``Message-ID`` gets ``noid:<file>#<n>`` (``n`` its
      position in the file) and a Message-ID already read is skipped
      (``duplicate_id``).
    * One message with several recipients gives one row per recipient; the
      first row carries the message in the reply tree (see
      :class:`engagequal.io.Rows`).
    * Mailing lists: a post "to the list" is aimed at the person it answers,
      the author of its parent; a new thread posted to a list is aimed at no
      one (a null target with no parent in the archive).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from engagequal.io import read_mbox
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "box.mbox"
    >>> _ = p.write_text(
    ...     "From ann@x.org Mon Jan  1 00:00:00 2024\\nFrom: Ann <Ann@X.org>\\n"
    ...     "To: bob@y.org\\nDate: Mon, 1 Jan 2024 10:00:00 +0000\\nMessage-ID: <1@x>\\n\\nHi\\n\\n"
    ...     "From bob@y.org Mon Jan  1 00:00:00 2024\\nFrom: bob@y.org\\nTo: ann@x.org, cy@z.org\\n"
    ...     "Date: Mon, 1 Jan 2024 11:00:00 +0000\\nMessage-ID: <2@y>\\n"
    ...     "In-Reply-To: <1@x>\\n\\nHo\\n")
    >>> t = read_mbox(p)
    >>> t.select(["actor", "target", "event_id", "parent"]).to_pylist()[1:]
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'bob@y.org', 'target': 'ann@x.org', 'event_id': '2@y', 'parent': '1@x'},
     {'actor': 'bob@y.org', 'target': 'cy@z.org', 'event_id': '2@y -> cy@z.org',
      'parent': '1@x'}]
    """
    paths = as_paths(path)
    problems = Problems("mbox", strict)
    reader = _Reader(problems, lists, detect_lists, list_policy)
    for p in paths:
        for n, (lineno, env, hdr) in enumerate(_iter_mbox(p), start=1):
            if not env:
                problems.bad("not_mbox", p, f"line {lineno}",
                             "text before the first 'From ' envelope line: not an mbox file")
                break
            reader.add(_headers(hdr), functools.partial(_envelope_ms, env, date_fallback), p,
                       f"line {lineno} (message {n})", n)
    return reader.table("mbox", paths, owner)


def read_maildir(
    path: PathLike | Sequence[PathLike],
    *,
    strict: bool = True,
    lists: Iterable[str] | None = None,
    detect_lists: bool = True,
    list_policy: ListPolicy = "parent",
    date_fallback: bool = True,
    folders: bool = True,
    owner: str | None = None,
) -> pa.Table:
    """Read one or more Maildir folders into an event table.

    The same rows, policies and options as :func:`read_mbox`; the fallback
    time of a message without ``Date`` is its delivery time, the leading
    seconds of its Maildir file name.  With ``folders=True`` the Maildir++
    sub-folders (``.Sent``, ``.Archive``, ...) are read too.  Error locations
    are ``folder/key`` of the message.

    Parameters
    ----------
    path : path or sequence of paths
        Maildir folder(s), read as one archive.
    strict, lists, detect_lists, list_policy, owner
        As in :func:`read_mbox`.
    date_fallback : bool, default True
        A message without a parseable ``Date`` takes its delivery time,
        counted as ``date_from_envelope``.
    folders : bool, default True
        Also read the Maildir++ sub-folders.

    Returns
    -------
    pyarrow.Table
        :data:`engagequal.io.EVENT_SCHEMA`, as :func:`read_mbox`.

    Examples
    --------
    >>> import mailbox, pathlib, tempfile
    >>> from engagequal.io import read_maildir
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "Mail"
    >>> box = mailbox.Maildir(d)
    >>> _ = box.add(b"From: a@x.org\\nTo: b@x.org\\nDate: Mon, 1 Jan 2024 10:00:00 +0000\\n"
    ...             b"Message-ID: <m1@x>\\n\\nbody\\n")
    >>> read_maildir(d).select(["actor", "target", "event_id"]).to_pylist()
    [{'actor': 'a@x.org', 'target': 'b@x.org', 'event_id': 'm1@x'}]
    """
    paths = as_paths(path)
    problems = Problems("maildir", strict)
    reader = _Reader(problems, lists, detect_lists, list_policy)
    for p in paths:
        if not os.path.isdir(p):
            raise SourceError(f"no such Maildir folder: {os.fspath(p)!r}")
        box = mailbox.Maildir(p, factory=None, create=False)
        boxes: list[tuple[str, mailbox.Maildir]] = [("", box)]
        if folders:
            boxes += [(name, box.get_folder(name)) for name in sorted(box.list_folders())]
        n = 0
        for fname, b in boxes:
            for key in sorted(b.iterkeys()):
                n += 1
                with b.get_file(key) as f:
                    hdr: list[bytes] = []
                    for line in f:
                        if line in (b"\n", b"\r\n"):
                            break
                        hdr.append(line)
                where = f"message {fname + '/' if fname else ''}{key}"
                reader.add(_headers(hdr), functools.partial(_delivery_ms, key, date_fallback),
                           p, where, n)
    return reader.table("maildir", paths, owner)
