"""Mastodon / ActivityPub account archives (``outbox.json``, ``actor.json``).

The archive Mastodon offers for download (a ``.zip`` or ``.tar.gz``, or the
unpacked folder) holds the account's ``actor.json`` and its ``outbox.json``,
an ActivityStreams ``OrderedCollection`` of the activities the account sent:
``Create`` (a ``Note``, with ``inReplyTo``, ``to``, ``cc``, ``tag`` mentions and
``conversation``) and ``Announce`` (a boost).
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from engagequal.errors import FormatError
from engagequal.io._common import Archive, PathLike, Problems, Rows, iso_to_ms, parse_json

__all__ = ["read_mastodon_outbox"]

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
_STATUS = re.compile(r"^(https?://[^/]+)/(?:users/([^/]+)/statuses|@([^/]+))/[^/]+/?$")


def _author_of(url: Any) -> str | None:
    """The actor URL of a status URL (``.../users/NAME/statuses/ID`` or
    ``.../@NAME/ID``), else None."""
    if not isinstance(url, str):
        return None
    m = _STATUS.match(url)
    if not m:
        return None
    return f"{m.group(1)}/users/{m.group(2) or m.group(3)}"


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [x if isinstance(x, str) else str(x.get("id", "")) for x in v
                if isinstance(x, (str, dict))]
    return []


def read_mastodon_outbox(path: PathLike, *, strict: bool = True,
                         owner: str | None = None) -> pa.Table:
    """Read a Mastodon (ActivityPub) archive or ``outbox.json`` into an event table.

    Parameters
    ----------
    path : path
        The archive (``.zip``, ``.tar.gz``), its folder, or an ``outbox.json``.
    strict : bool, default True
        Raise :class:`engagequal.errors.FormatError` (naming the file and the
        line, or the item's position) on broken JSON, a truncated archive or an
        activity without ``published``; when False, set it aside and count it.
    owner : str, optional
        The owner's actor URL, instead of ``actor.json``'s ``id``.

    Returns
    -------
    pyarrow.Table
        :data:`engagequal.io.EVENT_SCHEMA`; actors and targets are actor URLs
        (``https://host/users/name``); the owner (``actor.json``'s ``id``, else
        the outbox's actor) is the table's ``engagequal.owner``.

    Notes
    -----
    * ``Create`` of a ``Note`` with ``inReplyTo``: a ``"reply"`` aimed at the
      author of the replied-to status (read from its URL; null when the URL
      does not say, then the parent's author if it is in the outbox), plus a
      ``"mention"`` row for every other account in its ``tag`` mentions;
      ``event_id`` = the Note's ``id``, ``parent`` = ``inReplyTo``, ``thread``
      = its ``conversation`` (else the root of its reply chain).
    * A Note addressed to neither ``as:Public`` nor a followers collection is
      a direct message: one ``"message"`` row per addressed account.
    * A Note that is no reply: one ``"mention"`` row per mentioned account, or
      one row aimed at no one (``"comment"``) when it mentions nobody.
    * ``Announce`` (boost): a ``"share"`` aimed at the boosted status's author
      (null when its URL does not say), ``event_id`` = the activity's ``id``.
    * Other activities (``Like`` is not in the outbox; ``Follow``, ``Delete``,
      ...) are skipped and counted as ``other_activity``.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> note = {"id": "https://a.example/users/ann/statuses/2", "type": "Note",
    ...         "inReplyTo": "https://b.example/users/bob/statuses/1",
    ...         "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [], "tag": []}
    >>> outbox = {"type": "OrderedCollection", "orderedItems": [
    ...     {"type": "Create", "actor": "https://a.example/users/ann",
    ...      "published": "2023-01-01T00:00:00Z", "object": note}]}
    >>> _ = (d / "outbox.json").write_text(json.dumps(outbox))
    >>> read_mastodon_outbox(d).select(["actor", "target", "kind", "parent"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'https://a.example/users/ann', 'target': 'https://b.example/users/bob',
      'kind': 'reply', 'parent': 'https://b.example/users/bob/statuses/1'}]
    """
    problems = Problems("mastodon", strict)
    arch = Archive(path, problems)
    outbox = arch.find("outbox.json")
    if not outbox:
        if arch.names() == [arch.path.name]:
            outbox = arch.names()
        else:
            where = " before the point where the archive is cut" if arch.truncated else ""
            raise FormatError(f"{path}: no outbox.json in the archive{where}", path=str(path),
                              location="archive", reason="no_outbox")
    name = outbox[0]
    where = arch.display(name)
    doc = parse_json(arch.read(name), where, problems)
    actor_files = arch.find("actor.json")
    if actor_files and owner is None:
        actor_doc = parse_json(arch.read(actor_files[0]), arch.display(actor_files[0]), problems)
        if isinstance(actor_doc, dict) and isinstance(actor_doc.get("id"), str):
            owner = actor_doc["id"]
    rows = Rows()
    items = doc.get("orderedItems", []) if isinstance(doc, dict) else []
    seen: set[str] = set()
    for i, act in enumerate(items):
        owner = _one(act, i, where, problems, rows, seen, owner)
    return rows.table("mastodon", [path], problems, owner)


def _one(act: Any, i: int, where: str, problems: Problems, rows: Rows, seen: set[str],
         owner: str | None) -> str | None:
    loc = f"orderedItems[{i}]"
    if not isinstance(act, dict):
        problems.bad("bad_item", where, loc, "an activity must be a JSON object")
        return owner
    typ = act.get("type")
    actor = act.get("actor")
    actor = actor.get("id") if isinstance(actor, dict) else actor
    if typ not in ("Create", "Announce"):
        problems.note("other_activity")
        return owner
    if not isinstance(actor, str) or not actor:
        problems.bad("no_actor", where, loc, f"{typ} activity without an actor")
        return owner
    owner = owner or actor
    obj = act.get("object")
    published = act.get("published") or (obj.get("published") if isinstance(obj, dict) else None)
    try:
        ts = iso_to_ms(str(published)) if published else None
    except ValueError:
        ts = None
    if ts is None:
        problems.bad("no_published", where, loc,
                     f"{typ} activity {act.get('id')!r} without a usable 'published' time")
        return owner
    if typ == "Announce":
        aid = str(act.get("id") or f"announce:{i}")
        if aid in seen:
            problems.skip("duplicate_id")
            return owner
        seen.add(aid)
        url = obj if isinstance(obj, str) else (obj or {}).get("id")
        rows.add(aid, actor, ts, [(_author_of(url), "share")], parent=None)
        return owner
    if not isinstance(obj, dict) or not obj.get("id"):
        problems.bad("no_object", where, loc, "Create activity without an object id")
        return owner
    oid = str(obj["id"])
    if oid in seen:
        problems.skip("duplicate_id")
        return owner
    seen.add(oid)
    to, cc = _as_list(obj.get("to", act.get("to"))), _as_list(obj.get("cc", act.get("cc")))
    addressed = to + cc
    mentions = [t.get("href") for t in obj.get("tag") or []
                if isinstance(t, dict) and t.get("type") == "Mention" and t.get("href")]
    direct = not any(a == PUBLIC or a == "as:Public" or a.endswith("/followers")
                     for a in addressed)
    reply_to = obj.get("inReplyTo")
    parent = reply_to.get("id") if isinstance(reply_to, dict) else reply_to
    parent = str(parent) if parent else None
    thread = obj.get("conversation") or obj.get("context")
    thread = str(thread) if isinstance(thread, str) else None
    targets: list[tuple[str | None, str]] = []
    if direct:
        people = [a for a in dict.fromkeys(addressed + mentions) if a != actor]
        targets = [(a, "message") for a in people]
    if not targets and parent is not None:
        first = _author_of(parent)
        targets = [(first, "reply")]
        targets += [(m, "mention") for m in dict.fromkeys(mentions) if m not in (first, actor)]
    elif not targets:
        targets = [(m, "mention") for m in dict.fromkeys(mentions) if m != actor]
        if not targets:
            targets = [(None, "comment")]
    rows.add(oid, actor, ts, targets, parent=parent, thread=thread)
    return owner
