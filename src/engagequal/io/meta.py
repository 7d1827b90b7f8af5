"""Instagram and Facebook exports ("Download your information", JSON format).

Read here: the message threads (``messages/<folder>/<thread>/message_N.json``
under ``inbox``, ``archived_threads``, ``message_requests``, ...), comments
(Instagram ``post_comments_N.json`` / ``reels_comments.json``, Facebook
``comments.json``) and likes / reactions (Instagram ``liked_posts.json`` /
``liked_comments.json``, Facebook ``likes_and_reactions_N.json`` /
``posts_and_comments.json``), and the owner's name from the profile file.

The exports write text as UTF-8 bytes escaped one by one as ``\\u00XX``
(``"Jos\\u00c3\\u00a9"`` for ``José``); :func:`fix_text` repairs it.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pyarrow as pa

from engagequal.io._common import (
    Archive,
    ChatMessage,
    PathLike,
    Problems,
    Rows,
    add_chat,
    parse_json,
)

__all__ = ["fix_text", "read_facebook_export", "read_instagram_export"]

_THREAD = re.compile(r"(^|/)messages/[^/]+/([^/]+)/message_\d+\.json$")
_TITLE_TARGET = re.compile(r" (?:on|to|liked|likes|reacted to) (.+?)'s ")


def fix_text(s: str) -> str:
    """Undo the exports' mojibake: code points below 256 that spell UTF-8.

    Instagram and Facebook exports write each byte of a UTF-8 character as
    its own code point; this turns them back into the character.  A string
    that is not such a spelling comes back unchanged.

    Parameters
    ----------
    s : str
        A name or text from the export.

    Returns
    -------
    str
        The repaired text.

    Examples
    --------
    >>> fix_text("Jos\\u00c3\\u00a9")
    'José'
    >>> fix_text("José")
    'José'
    """
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def _txt(v: Any) -> str | None:
    return fix_text(v).strip() or None if isinstance(v, str) else None


def read_instagram_export(path: PathLike, *, strict: bool = True, owner: str | None = None,
                          chain: bool = True) -> pa.Table:
    """Read an Instagram export (zip or folder, JSON format) into an event table.

    See :func:`read_facebook_export` for the rows; the owner is the ``Name``
    of ``personal_information.json`` (message threads name people by display
    name); likes and comments name accounts by username (``Media Owner``, the
    like's ``title``), so one person can appear under both.

    Parameters
    ----------
    path : path
        The export ``.zip`` or its unpacked folder.
    strict : bool, default True
        Raise :class:`engagequal.errors.FormatError` on a broken file or item;
        when False, set it aside and count it.
    owner : str, optional
        The owner's name; by default the profile's ``Name``, else the person
        taking part in the most threads.
    chain : bool, default True
        Read each thread as one line of talk (:func:`engagequal.io.add_chat`).

    Returns
    -------
    pyarrow.Table
        :data:`engagequal.io.EVENT_SCHEMA`, as :func:`read_facebook_export`.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "messages" / "inbox" / "bob_1"
    >>> d.mkdir(parents=True)
    >>> th = {"participants": [{"name": "Bob"}, {"name": "Ann"}],
    ...       "messages": [{"sender_name": "Bob", "timestamp_ms": 2000, "content": "ok",
    ...                     "reactions": [{"reaction": "\\u00e2\\u009d\\u00a4", "actor": "Ann"}]},
    ...                    {"sender_name": "Ann", "timestamp_ms": 1000, "content": "hi"}]}
    >>> _ = (d / "message_1.json").write_text(json.dumps(th))
    >>> t = read_instagram_export(d.parents[2])
    >>> t.select(["actor", "target", "kind", "parent"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'Ann', 'target': 'Bob', 'kind': 'message', 'parent': None},
     {'actor': 'Bob', 'target': 'Ann', 'kind': 'message', 'parent': 'inbox/bob_1#0'},
     {'actor': 'Ann', 'target': 'Bob', 'kind': 'reaction', 'parent': None}]
    """
    return _read_meta(path, "instagram", strict, owner, chain)


def read_facebook_export(path: PathLike, *, strict: bool = True, owner: str | None = None,
                         chain: bool = True) -> pa.Table:
    """Read a Facebook / Messenger export (zip or folder, JSON format) into an event table.

    Parameters
    ----------
    path : path
        The export ``.zip`` or its unpacked folder.
    strict : bool, default True
        Raise :class:`engagequal.errors.FormatError` naming the file and the
        line (broken JSON) or the item (``messages[3]``: no sender or time);
        when False, set such items aside and count them.
    owner : str, optional
        The owner's name; by default the profile file's name, else the person
        taking part in the most threads.
    chain : bool, default True
        Read each thread as one line of talk (:func:`engagequal.io.add_chat`).

    Returns
    -------
    pyarrow.Table
        :data:`engagequal.io.EVENT_SCHEMA`; people are names, text repaired
        with :func:`fix_text`.

    Notes
    -----
    * A message: one ``"message"`` row per other participant of the thread,
      ``thread`` = the thread folder (``inbox/<name>``), ``event_id`` =
      ``<thread>#<n>`` with ``n`` its rank in time in the thread.
    * A reaction to a message: a ``"reaction"`` row from its actor to the
      message's sender, at the reaction's ``timestamp`` when given, else the
      message's, in the same thread (no parent: a reaction is no reply).
    * A comment or like of the owner: ``"comment"`` / ``"like"`` aimed at the
      post's owner (Instagram ``Media Owner`` or the like's ``title``; Facebook:
      the name in the title, "... on Bob's post"), or at no one when the export
      does not say.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> from engagequal.io import owner_of, read_facebook_export
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "messages" / "inbox" / "bob_1"
    >>> d.mkdir(parents=True)
    >>> th = {"participants": [{"name": "Bob"}, {"name": "Ann"}],
    ...       "messages": [{"sender_name": "Bob", "timestamp_ms": 2000, "content": "ok"},
    ...                    {"sender_name": "Ann", "timestamp_ms": 1000, "content": "hi"}]}
    >>> _ = (d / "message_1.json").write_text(json.dumps(th))
    >>> t = read_facebook_export(d.parents[2], owner="Ann")
    >>> t.select(["actor", "target", "event_id", "parent"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'Ann', 'target': 'Bob', 'event_id': 'inbox/bob_1#0', 'parent': None},
     {'actor': 'Bob', 'target': 'Ann', 'event_id': 'inbox/bob_1#1', 'parent': 'inbox/bob_1#0'}]
    >>> owner_of(t)
    'Ann'
    """
    return _read_meta(path, "facebook", strict, owner, chain)


def _read_meta(path: PathLike, platform: str, strict: bool, owner: str | None,
               chain: bool) -> pa.Table:
    problems = Problems(platform, strict)
    arch = Archive(path, problems)
    rows = Rows()
    if owner is None:
        owner = _profile_owner(arch, problems)
    threads: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name in arch.names():
        m = _THREAD.search(name)
        if m:
            folder = name.rsplit("/", 1)[0]
            threads.setdefault(folder, []).append((name, {}))
    seen_in: Counter[str] = Counter()
    chats: list[tuple[str, list[ChatMessage], list[tuple[str, str, int, str]]]] = []
    for folder, files in sorted(threads.items()):
        parts = folder.split("/")
        thread = "/".join(parts[-2:])
        msgs: list[tuple[int, int, str, list[str], list[dict[str, Any]]]] = []
        participants: list[str] = []
        for fname, _ in sorted(files):
            doc = parse_json(arch.read(fname), arch.display(fname), problems)
            if not isinstance(doc, dict):
                continue
            for p in doc.get("participants") or []:
                n = _txt(p.get("name")) if isinstance(p, dict) else _txt(p)
                if n:
                    participants.append(n)
            for i, mm in enumerate(doc.get("messages") or []):
                sender = _txt(mm.get("sender_name")) if isinstance(mm, dict) else None
                ts = mm.get("timestamp_ms") if isinstance(mm, dict) else None
                if sender is None or not isinstance(ts, (int, float)):
                    problems.bad("bad_message", arch.display(fname), f"messages[{i}]",
                                 "message without sender_name or timestamp_ms")
                    continue
                msgs.append((int(ts), len(msgs), sender, [], mm.get("reactions") or []))
        people = list(dict.fromkeys(participants + [m[2] for m in msgs]))
        seen_in.update(people)
        msgs.sort()
        chat: list[ChatMessage] = []
        reactions: list[tuple[str, str, int, str]] = []
        for k, (ts, _, sender, _, reacts) in enumerate(msgs):
            rec = f"{thread}#{k}"
            others = [p for p in people if p != sender]
            chat.append((rec, sender, ts, [(o, "message") for o in others] or [(None, "message")]))
            for r in reacts:
                actor = _txt(r.get("actor")) if isinstance(r, dict) else None
                if actor is None:
                    continue
                rts = r.get("timestamp")
                rts_ms = int(rts) * 1000 if isinstance(rts, (int, float)) else ts
                reactions.append((f"{rec}:reaction:{actor}", actor, rts_ms, sender))
        chats.append((thread, chat, reactions))
    for thread, chat, reactions in chats:
        add_chat(rows, chat, thread, chain)
        for rec, actor, ts, sender in reactions:
            rows.add(rec, actor, ts, [(sender, "reaction")], thread=thread)
    if owner is None and seen_in:
        owner = seen_in.most_common(1)[0][0]
    _activity(arch, owner or "owner", problems, rows)
    return rows.table(platform, [path], problems, owner)


def _profile_owner(arch: Archive, problems: Problems) -> str | None:
    for name in arch.find("personal_information.json", "profile_information.json"):
        doc = parse_json(arch.read(name), arch.display(name), problems)
        if not isinstance(doc, dict):
            continue
        for pu in doc.get("profile_user") or []:  # Instagram
            smd = pu.get("string_map_data", {}) if isinstance(pu, dict) else {}
            v = _txt((smd.get("Name") or {}).get("value"))
            if v:
                return v
        prof = doc.get("profile_v2") or doc.get("profile") or {}  # Facebook
        v = _txt(((prof.get("name") or {}) if isinstance(prof, dict) else {}).get("full_name"))
        if v:
            return v
    return None


def _activity(arch: Archive, owner: str, problems: Problems, rows: Rows) -> None:
    """Comments and likes of the owner."""
    n = 0
    for name in arch.names():
        low = name.lower()
        base = low.rsplit("/", 1)[-1]
        if "/messages/" in f"/{low}":
            continue
        if not (base.startswith(("post_comments", "reels_comments", "comments", "liked_",
                                 "likes_and_reactions", "posts_and_comments"))
                and base.endswith(".json")):
            continue
        kind = "comment" if "comment" in base and not base.startswith("liked_") else "like"
        if base.startswith(("likes_and_reactions", "posts_and_comments")):
            kind = "like"
        doc = parse_json(arch.read(name), arch.display(name), problems)
        items: list[Any] = []
        if isinstance(doc, list):
            items = doc
        elif isinstance(doc, dict):
            for v in doc.values():
                if isinstance(v, list):
                    items.extend(v)
        for i, it in enumerate(items):
            if not isinstance(it, dict):
                continue
            ts, target = _item_time_target(it)
            if ts is None:
                problems.bad("bad_item", arch.display(name), f"item {i}",
                             f"{kind} without a timestamp")
                continue
            n += 1
            rows.add(f"{kind}:{n}", owner, ts * 1000, [(target, kind)])


def _item_time_target(it: dict[str, Any]) -> tuple[int | None, str | None]:
    smd = it.get("string_map_data")
    if isinstance(smd, dict):  # Instagram comment
        t = (smd.get("Time") or {}).get("timestamp")
        owner = _txt((smd.get("Media Owner") or {}).get("value"))
        return (int(t) if isinstance(t, (int, float)) else None), owner
    sld = it.get("string_list_data")
    if isinstance(sld, list) and sld:  # Instagram like
        t = sld[0].get("timestamp") if isinstance(sld[0], dict) else None
        return (int(t) if isinstance(t, (int, float)) else None), _txt(it.get("title"))
    t = it.get("timestamp")  # Facebook
    title = _txt(it.get("title")) or ""
    m = _TITLE_TARGET.search(title)
    return (int(t) if isinstance(t, (int, float)) else None), (m.group(1) if m else None)
