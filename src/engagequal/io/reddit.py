"""Reddit comments and submissions: Pushshift dumps or Reddit API JSON, as JSON lines.

A Reddit *fullname* is a type prefix and a base-36 id: ``t1_`` a comment,
``t3_`` a submission.  A comment's ``parent_id`` is the fullname of the comment
or the submission it answers; ``link_id`` is its submission's fullname.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from engagequal.io._common import (
    PathLike,
    Problems,
    Rows,
    as_paths,
    iter_json_lines,
    open_maybe_compressed,
)

__all__ = ["read_reddit"]

_DELETED = frozenset({"", "[deleted]", "[removed]"})


def read_reddit(path: PathLike | Sequence[PathLike], *, strict: bool = True,
                owner: str | None = None) -> pa.Table:
    """Read Reddit comments and submissions (JSON lines, plain or compressed).

    Parameters
    ----------
    path : path or sequence of paths
        JSON-lines file(s) (``.gz``, ``.bz2`` and ``.xz`` are read directly);
        each line is a bare comment / submission object (Pushshift), an API
        *thing* ``{"kind": "t1", "data": {...}}`` or an API ``Listing`` of
        things (``{"kind": "Listing", "data": {"children": [...]}}``; ``more``
        stubs are skipped).  Comments and submissions may be mixed or in
        separate files.
    strict : bool, default True
        Raise :class:`engagequal.errors.FormatError` naming the file and the
        line on a broken JSON line or a record without ``id`` or
        ``created_utc``; when False, set it aside and count it.  A truncated
        compressed file raises naming the line where it breaks off, or
        (lenient) keeps the lines before it and counts ``truncated``.
    owner : str, optional
        The account whose data this is (e.g. one's own comments), stored as
        the table's owner for the ego view; Reddit dumps do not say.

    Returns
    -------
    pyarrow.Table
        :data:`engagequal.io.EVENT_SCHEMA`, one row per record:

        ====================  =====================  ===========  =============
        record                ``event_id``           ``parent``   ``kind``
        ====================  =====================  ===========  =============
        submission            ``t3_<id>``            null         ``"comment"``
        comment on a post     ``t1_<id>``            ``t3_...``   ``"comment"``
        reply to a comment    ``t1_<id>``            ``t1_...``   ``"reply"``
        ====================  =====================  ===========  =============

        ``actor`` = ``author``, ``target`` null (the parent's author when the
        parent is in the data, else no one), ``thread`` = the submission's
        fullname (``link_id``).

    Notes
    -----
    A deleted or removed author (``[deleted]``, ``[removed]``, empty) becomes
    an anonymous user of its own, ``[deleted]:<fullname>``, so the tree keeps
    its shape and no false tie joins unrelated deleted accounts (counted as
    ``deleted_author``).  A repeated fullname is skipped (``duplicate_id``).

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "rc.jsonl"
    >>> recs = [{"id": "p1", "author": "ann", "created_utc": 0, "title": "hi"},
    ...         {"id": "c1", "author": "bob", "created_utc": 60, "parent_id": "t3_p1",
    ...          "link_id": "t3_p1"},
    ...         {"id": "c2", "author": "ann", "created_utc": 90, "parent_id": "t1_c1",
    ...          "link_id": "t3_p1"}]
    >>> _ = p.write_text("\\n".join(map(json.dumps, recs)))
    >>> read_reddit(p).select(["actor", "kind", "event_id", "parent"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'ann', 'kind': 'comment', 'event_id': 't3_p1', 'parent': None},
     {'actor': 'bob', 'kind': 'comment', 'event_id': 't1_c1', 'parent': 't3_p1'},
     {'actor': 'ann', 'kind': 'reply', 'event_id': 't1_c2', 'parent': 't1_c1'}]
    """
    paths = as_paths(path)
    problems = Problems("reddit", strict)
    rows = Rows()
    seen: set[str] = set()
    for p in paths:
        where = str(p)
        with open_maybe_compressed(p) as fh:
            lines = iter_json_lines(fh, where, problems)
            for lineno, obj in lines:
                for thing in _things(obj):
                    _one(thing, f"line {lineno}", where, problems, rows, seen)
    return rows.table("reddit", paths, problems, owner)


def _things(obj: Any) -> list[Any]:
    """The records of one line: itself, or the children of an API Listing."""
    if isinstance(obj, dict) and obj.get("kind") == "Listing":
        data = obj.get("data")
        children = data.get("children") if isinstance(data, dict) else None
        return [c for c in children or [] if not (isinstance(c, dict)
                                                   and c.get("kind") == "more")]
    return [obj]


def _one(obj: Any, loc: str, where: str, problems: Problems, rows: Rows, seen: set[str]) -> None:
    if not isinstance(obj, dict):
        problems.bad("bad_json", where, loc, "a line must hold a JSON object")
        return
    kind_tag = obj.get("kind")
    if kind_tag in ("t1", "t3") and isinstance(obj.get("data"), dict):
        obj = obj["data"]
    else:
        kind_tag = None
    rid = obj.get("id")
    if not rid:
        problems.bad("no_id", where, loc, "record without an id")
        return
    rid = str(rid)
    parent_id = obj.get("parent_id")
    is_comment = kind_tag == "t1" or (kind_tag is None and (parent_id or "body" in obj))
    name = obj.get("name") or (f"t1_{rid}" if is_comment else f"t3_{rid}")
    try:
        ts = round(float(obj["created_utc"]) * 1000)
    except (KeyError, TypeError, ValueError):
        problems.bad("no_timestamp", where, loc,
                     f"record {name} has no usable created_utc ({obj.get('created_utc')!r})")
        return
    if name in seen:
        problems.skip("duplicate_id")
        return
    seen.add(name)
    author = obj.get("author")
    if author is None or str(author) in _DELETED:
        author = f"[deleted]:{name}"
        problems.note("deleted_author")
    if is_comment:
        parent = str(parent_id) if parent_id else None
        thread = obj.get("link_id") or (parent if parent and parent.startswith("t3_") else None)
        kind = "reply" if parent is not None and parent.startswith("t1_") else "comment"
    else:
        parent, thread, kind = None, name, "comment"
    rows.add(name, str(author), ts, [(None, kind)], parent=parent,
             thread=None if thread is None else str(thread))
