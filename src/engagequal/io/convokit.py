"""ConvoKit corpora, both ways (``utterances.jsonl`` and its companion files).

ConvoKit (Chang et al. 2020) stores a corpus as a folder: ``utterances.jsonl``
(one utterance per line: ``id``, ``speaker``, ``conversation_id``,
``reply_to``, ``timestamp``, ``text``, ``meta``), ``speakers.json``,
``conversations.json``, ``corpus.json`` and ``index.json``.  Older corpora
name the speaker ``user`` and the conversation ``root``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from engagequal.errors import FormatError, OptionError, SourceError
from engagequal.io._common import (
    PathLike,
    Problems,
    Rows,
    iso_to_ms,
    iter_json_lines,
    open_maybe_compressed,
)

__all__ = ["read_convokit", "write_convokit"]

#: utterance meta key under which :func:`write_convokit` keeps what ConvoKit
#: has no field for (every ``[target, kind]`` of the utterance).
META_KEY = "engagequal"


def _utterances_file(path: PathLike) -> Path:
    p = Path(path)
    if p.is_dir():
        for name in ("utterances.jsonl", "utterances.jsonl.gz", "utterances.json"):
            if (p / name).exists():
                return p / name
        raise SourceError(f"{str(p)!r} holds no utterances.jsonl (not a ConvoKit corpus)")
    if not p.exists():
        raise SourceError(f"no such file or folder: {str(p)!r}")
    return p


def _ts_ms(v: Any) -> int | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return round(float(v) * 1000) if v == v and abs(v) < 1e13 else None
    if isinstance(v, str):
        try:
            return round(float(v) * 1000)
        except ValueError:
            try:
                return iso_to_ms(v)
            except ValueError:
                return None
    return None


def read_convokit(path: PathLike, *, strict: bool = True, owner: str | None = None) -> pa.Table:
    """Read a ConvoKit corpus (folder or ``utterances.jsonl[.gz]``) into an event table.

    Parameters
    ----------
    path : path
        The corpus folder or its utterances file.
    strict : bool, default True
        Raise :class:`engagequal.errors.FormatError` naming the file and the
        line on a broken JSON line or an utterance without ``id``, speaker or
        usable ``timestamp`` (epoch seconds or ISO 8601); when False, set it
        aside and count it (``bad_json``, ``no_id``, ``no_speaker``,
        ``no_timestamp``, ``truncated``).
    owner : str, optional
        A speaker to store as the table's owner (the ego view opens on it).

    Returns
    -------
    pyarrow.Table
        :data:`engagequal.io.EVENT_SCHEMA`.  One row per utterance:
        ``actor`` = speaker, ``target`` null (the author of ``reply_to``, or
        no one for a conversation's first utterance), ``kind`` ``"reply"``
        when the utterance replies, else ``"comment"``, ``event_id`` = ``id``,
        ``parent`` = ``reply_to`` (``reply-to`` in corpora written by
        ConvoKit's ``Corpus.dump``), ``thread`` = ``conversation_id``.  An
        utterance written by :func:`write_convokit` gets back its targets and
        kinds from its ``meta["engagequal"]``.  A repeated ``id`` is skipped
        (``duplicate_id``).

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> lines = [{"id": "a", "speaker": "ann", "conversation_id": "a", "reply_to": None,
    ...           "timestamp": 0, "text": "hi"},
    ...          {"id": "b", "speaker": "bob", "conversation_id": "a", "reply_to": "a",
    ...           "timestamp": 60, "text": "ho"}]
    >>> _ = (d / "utterances.jsonl").write_text("\\n".join(map(json.dumps, lines)))
    >>> read_convokit(d).select(["actor", "kind", "parent", "thread"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'ann', 'kind': 'comment', 'parent': None, 'thread': 'a'},
     {'actor': 'bob', 'kind': 'reply', 'parent': 'a', 'thread': 'a'}]
    """
    f = _utterances_file(path)
    problems = Problems("convokit", strict)
    rows = Rows()
    seen: set[str] = set()
    where = str(f)
    with open_maybe_compressed(f) as fh:
        for lineno, u in iter_json_lines(fh, where, problems):
            _one(u, lineno, where, problems, rows, seen)
    return rows.table("convokit", [path], problems, owner)


def _one(u: Any, lineno: int, where: str, problems: Problems, rows: Rows,
         seen: set[str]) -> None:
    loc = f"line {lineno}"
    if not isinstance(u, dict):
        problems.bad("bad_json", where, loc, "an utterance line must hold a JSON object")
        return
    uid = u.get("id")
    if uid is None or uid == "":
        problems.bad("no_id", where, loc, "utterance without an id")
        return
    uid = str(uid)
    speaker = u.get("speaker", u.get("user"))
    if isinstance(speaker, dict):  # some dumps nest the speaker object
        speaker = speaker.get("id")
    if speaker is None or speaker == "":
        problems.bad("no_speaker", where, loc, f"utterance {uid!r} without a speaker")
        return
    ts = _ts_ms(u.get("timestamp"))
    if ts is None:
        problems.bad("no_timestamp", where, loc,
                     f"utterance {uid!r} has no usable timestamp ({u.get('timestamp')!r})")
        return
    if uid in seen:
        problems.skip("duplicate_id")
        return
    seen.add(uid)
    # "reply_to" in the format's documentation and the distributed corpora;
    # "reply-to" in what ConvoKit's own Corpus.dump writes
    reply_to = u["reply_to"] if "reply_to" in u else u.get("reply-to")
    parent = None if reply_to in (None, "") else str(reply_to)
    conv = u.get("conversation_id", u.get("root"))
    thread = None if conv in (None, "") else str(conv)
    meta = u.get("meta") or {}
    saved = meta.get(META_KEY) if isinstance(meta, dict) else None
    targets: list[tuple[str | None, str]]
    if isinstance(saved, dict) and saved.get("targets"):
        targets = [(None if t is None else str(t), str(k)) for t, k in saved["targets"]]
    else:
        targets = [(None, "reply" if parent is not None else "comment")]
    rows.add(uid, str(speaker), ts, targets, parent=parent, thread=thread)


def write_convokit(
    source: Any,
    path: PathLike,
    *,
    text: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an event table as a ConvoKit corpus folder.

    Parameters
    ----------
    source : table-like
        A table with the columns of :data:`engagequal.io.EVENT_SCHEMA` (any
        loader's output, or anything ``engagequal.ingest.to_table`` reads with
        at least ``actor``, ``ts`` and ``event_id``; ``target``, ``kind``,
        ``parent``, ``thread`` and ``record`` are used when present).
    path : path
        The corpus folder to create.
    text : str, optional
        A column holding the utterance text (``""`` otherwise).
    overwrite : bool, default False
        Replace the corpus files of a non-empty folder.

    Returns
    -------
    pathlib.Path
        The corpus folder, loadable with ``convokit.Corpus(filename=...)``.

    Notes
    -----
    One utterance per record (rows sharing ``record`` are one message sent to
    several people): ``id`` = the record, ``speaker`` = ``actor``,
    ``reply_to`` = ``parent``, ``conversation_id`` = ``thread`` (else the id),
    ``timestamp`` = epoch seconds (an integer when whole).  The parent is
    written under both ``reply_to`` (the documented name, which ConvoKit 3
    and later read first) and ``reply-to`` (what ``Corpus.dump`` writes and
    every ConvoKit version reads).  ConvoKit has no field for targets and
    kinds, so they are kept in ``meta["engagequal"]["targets"]`` and
    :func:`read_convokit` gives back the same rows.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from engagequal.io import read_convokit, write_convokit
    >>> t = {"actor": ["ann", "bob"], "target": ["bob", None], "ts": [0, 60],
    ...      "kind": ["message", "reply"], "event_id": ["a", "b"], "parent": [None, "a"]}
    >>> d = write_convokit(t, pathlib.Path(tempfile.mkdtemp()) / "corpus")
    >>> read_convokit(d).select(["actor", "target", "kind", "parent", "thread"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'ann', 'target': 'bob', 'kind': 'message', 'parent': None, 'thread': 'a'},
     {'actor': 'bob', 'target': None, 'kind': 'reply', 'parent': 'a', 'thread': 'a'}]
    """
    from engagequal.ingest.schema import times_to_ns
    from engagequal.ingest.sources import to_table

    table = to_table(source)
    cols = set(table.column_names)
    for need in ("actor", "ts", "event_id"):
        if need not in cols:
            raise OptionError(f"write_convokit needs a {need!r} column; the source has "
                              f"{sorted(cols)}")
    out = Path(path)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OptionError(f"{str(out)!r} is not empty; pass overwrite=True to replace it")
    out.mkdir(parents=True, exist_ok=True)
    ns, bad = times_to_ns(table["ts"], "ts")
    if bad.any():
        raise FormatError(f"column 'ts': {int(bad.sum())} row(s) without a usable time",
                          path=str(out), location="ts", reason="bad_ts")

    def col(name: str) -> list[Any]:
        return table[name].to_pylist() if name in cols else [None] * table.num_rows

    actor, target, kind = col("actor"), col("target"), col("kind")
    eid, parent, thread, record = col("event_id"), col("parent"), col("thread"), col("record")
    texts = col(text) if text is not None else [None] * table.num_rows
    utts: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for i in range(table.num_rows):
        rid = str(record[i] if record[i] is not None else eid[i])
        k = kind[i] if kind[i] is not None else "interaction"
        u = utts.get(rid)
        if u is None:
            s = int(ns[i]) / 1e9
            utts[rid] = u = {
                "id": rid, "speaker": str(actor[i]),
                "conversation_id": str(thread[i]) if thread[i] is not None else None,
                "reply_to": None if parent[i] is None else str(parent[i]),
                "reply-to": None if parent[i] is None else str(parent[i]),
                "timestamp": int(s) if s == int(s) else s,
                "text": "" if texts[i] is None else str(texts[i]),
                "meta": {META_KEY: {"targets": []}},
            }
            order.append(rid)
        u["meta"][META_KEY]["targets"].append(
            [None if target[i] is None else str(target[i]), str(k)])
    _fill_conversations(utts)
    speakers = sorted({u["speaker"] for u in utts.values()})
    convs = sorted({u["conversation_id"] for u in utts.values()})
    with open(out / "utterances.jsonl", "w", encoding="utf-8") as fh:
        for rid in order:
            fh.write(json.dumps(utts[rid], ensure_ascii=False) + "\n")
    _dump(out / "speakers.json", {s: {} for s in speakers})
    _dump(out / "conversations.json", {c: {} for c in convs})
    _dump(out / "corpus.json", {})
    _dump(out / "index.json", {"utterances-index": {META_KEY: ["<class 'dict'>"]},
                               "speakers-index": {}, "conversations-index": {},
                               "overall-index": {}, "version": 1, "vectors": []})
    return out


def _fill_conversations(utts: dict[str, dict[str, Any]]) -> None:
    """``conversation_id`` of utterances without one: the first utterance of
    their reply chain (parents outside the corpus end the chain)."""
    for u in utts.values():
        if u["conversation_id"] is not None:
            continue
        chain, cur, seen = [u], u, {u["id"]}
        while cur["conversation_id"] is None and cur["reply_to"] in utts:
            if cur["reply_to"] in seen:  # a cycle: leave it to read_events to report
                break
            cur = utts[cur["reply_to"]]
            chain.append(cur)
            seen.add(cur["id"])
        conv = cur["conversation_id"] or cur["id"]
        for c in chain:
            c["conversation_id"] = conv


def _dump(path: Path, obj: object) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False)

