"""Twitter / X account archives (the "Download an archive of your data" zip).

The archive's ``data/`` folder holds JavaScript files, each one assignment of a
JSON array: ``window.YTD.tweets.part0 = [ {"tweet": {...}}, ... ]``.  Read here:
``account.js`` (the owner), ``tweets.js`` / ``tweet.js`` (and their
``-partN`` continuations), ``direct-messages.js`` and
``direct-messages-group.js``.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import pyarrow as pa

from engagequal.errors import FormatError
from engagequal.io._common import (
    Archive,
    PathLike,
    Problems,
    Rows,
    add_chat,
    iso_to_ms,
    parse_json_array,
)

__all__ = ["read_twitter_archive"]

_TWEETS = re.compile(r"(^|/)tweets?(-part\d+)?\.js$")
_DMS = re.compile(r"(^|/)direct-messages(-part\d+)?\.js$")
_GROUP_DMS = re.compile(r"(^|/)direct-messages-group(-part\d+)?\.js$")
_ACCOUNT = re.compile(r"(^|/)account\.js$")
_RT = re.compile(r"^RT @([A-Za-z0-9_]+):?")
_STATUS_URL = re.compile(r"^https?://(?:mobile\.)?(?:twitter|x)\.com/([A-Za-z0-9_]+)/status(?:es)?/"
                         r"(\d+)", re.IGNORECASE)


def _js_array(arch: Archive, name: str, problems: Problems) -> list[Any]:
    """The JSON array assigned in one ``window.YTD...`` file (line numbers kept)."""
    text = arch.read(name).decode("utf-8-sig", "replace")
    eq = text.find("=")
    # keep the assignment's line breaks, so that JSON errors give the file's line
    body = (text[:eq].count("\n") * "\n" + text[eq + 1:]
            if eq >= 0 and text.lstrip().startswith("window.") else text)
    doc = parse_json_array(body, arch.display(name), problems)
    if doc is None:
        return []
    if not isinstance(doc, list):
        problems.bad("bad_json", arch.display(name), "line 1", "expected a JSON array")
        return []
    return doc


def _twitter_time(v: Any) -> int | None:
    if not isinstance(v, str):
        return None
    try:
        d = _dt.datetime.strptime(v, "%a %b %d %H:%M:%S %z %Y")
        return round(d.timestamp() * 1000)
    except ValueError:
        pass
    try:
        return iso_to_ms(v)
    except ValueError:
        return None


def read_twitter_archive(path: PathLike, *, strict: bool = True, owner: str | None = None,
                         chain: bool = True) -> pa.Table:
    """Read a Twitter / X archive (zip or unpacked folder) into an event table.

    Parameters
    ----------
    path : path
        The archive ``.zip`` or its unpacked folder.
    strict : bool, default True
        Raise :class:`engagequal.errors.FormatError` naming the file and the
        line (broken JSON) or the item (``tweets.js[12]``: no id or time) or a
        truncated zip; when False, set such items aside and count them.
    owner : str, optional
        The account id of the owner, when the archive has no ``account.js``.
    chain : bool, default True
        Read each direct-message conversation as one line of talk: every
        message's ``parent`` is the message before it (see
        :func:`engagequal.io.add_chat`).

    Returns
    -------
    pyarrow.Table
        :data:`engagequal.io.EVENT_SCHEMA`.  Users are numeric account ids as
        strings (the owner's ``accountId`` is the table's ``engagequal.owner``);
        a quoted account known only by its screen name is ``@name``.

    Notes
    -----
    Every tweet in the archive is the owner's.  Per tweet (``event_id`` =
    ``id_str``), in this order:

    * a retweet (text ``RT @name: ...``, the account found by its name among
      the mentions; or an embedded ``retweeted_status``): one ``"retweet"``
      row aimed at the retweeted account (its mentions are the original
      tweet's, not counted);
    * a reply (``in_reply_to_status_id_str``): a ``"reply"`` row aimed at
      ``in_reply_to_user_id_str``, ``parent`` = the replied-to tweet;
    * a quote (an embedded ``quoted_status`` naming its author, as API-style
      tweets have, else a link ``twitter.com/<name>/status/<id>`` or
      ``x.com/...`` to another account's tweet among its URLs): a ``"quote"``
      row aimed at that account (``@name`` when the archive never gives its id);
    * one ``"mention"`` row per other account in ``entities.user_mentions``;
    * a tweet with none of these: one row aimed at no one (``"comment"``).

    Direct messages give one ``"message"`` row per recipient (``recipientId``;
    in a group, every other participant seen in the conversation), with
    ``event_id`` = ``dm:<id>`` and ``thread`` = ``conversationId``; a reaction
    to a direct message (its ``reactions``) is a ``"reaction"`` row from the
    reacting account to the message's sender (``event_id`` =
    ``dm:<id>:reaction:<eventId>``, same thread, no parent).  Likes and follows
    carry no time in the archive and are not read.

    A truncated zip is read as far as it goes in lenient mode (docs/loaders.md,
    "Malformed input"): a cut ``tweets.js`` gives the tweets before the cut,
    and the rest counts once as ``bad_json``.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "data"
    >>> d.mkdir()
    >>> acc = [{"account": {"accountId": "1", "username": "ann"}}]
    >>> tw = [{"tweet": {"id_str": "10", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
    ...        "full_text": "@bob yes", "in_reply_to_status_id_str": "9",
    ...        "in_reply_to_user_id_str": "2",
    ...        "entities": {"user_mentions": [{"id_str": "2", "screen_name": "bob"}]}}}]
    >>> _ = (d / "account.js").write_text("window.YTD.account.part0 = " + json.dumps(acc))
    >>> _ = (d / "tweets.js").write_text("window.YTD.tweets.part0 = " + json.dumps(tw))
    >>> t = read_twitter_archive(d.parent)
    >>> t.select(["actor", "target", "kind", "parent"]).to_pylist()
    [{'actor': '1', 'target': '2', 'kind': 'reply', 'parent': '9'}]
    >>> t.schema.metadata[b"engagequal.owner"]
    b'1'
    """
    problems = Problems("twitter", strict)
    arch = Archive(path, problems)
    names = arch.names()
    for n in names:
        if _ACCOUNT.search(n) and owner is None:
            for i, item in enumerate(_js_array(arch, n, problems)):
                acc = item.get("account") if isinstance(item, dict) else None
                if isinstance(acc, dict) and acc.get("accountId"):
                    owner = str(acc["accountId"])
                    break
                problems.bad("bad_item", arch.display(n), f"item {i}", "no accountId")
    tweet_files = [n for n in names if _TWEETS.search(n)]
    if owner is None and tweet_files:
        raise FormatError(f"{path}: the archive has no data/account.js naming its owner; "
                          "pass owner=<account id>", path=str(path), location="account.js",
                          reason="no_owner")
    rows = Rows()
    seen: set[str] = set()
    tweets: list[tuple[str, int, dict[str, Any]]] = []
    names_to_ids: dict[str, str] = {}
    for n in tweet_files:
        for i, item in enumerate(_js_array(arch, n, problems)):
            tw = item.get("tweet", item) if isinstance(item, dict) else None
            loc = f"item {i}"
            if not isinstance(tw, dict):
                problems.bad("bad_item", arch.display(n), loc, "a tweet must be a JSON object")
                continue
            tid = tw.get("id_str") or tw.get("id")
            ts = _twitter_time(tw.get("created_at"))
            if not tid or ts is None:
                what = ("no id_str" if not tid
                        else f"no usable created_at ({tw.get('created_at')!r})")
                problems.bad("bad_tweet", arch.display(n), loc, f"tweet with {what}")
                continue
            tweets.append((str(tid), ts, tw))
            for m in (tw.get("entities") or {}).get("user_mentions") or []:
                if isinstance(m, dict) and m.get("screen_name") and m.get("id_str"):
                    names_to_ids[str(m["screen_name"]).lower()] = str(m["id_str"])
            if tw.get("in_reply_to_screen_name") and tw.get("in_reply_to_user_id_str"):
                names_to_ids[str(tw["in_reply_to_screen_name"]).lower()] = str(
                    tw["in_reply_to_user_id_str"])
    for tid, ts, tw in tweets:
        if tid in seen:
            problems.skip("duplicate_id")
            continue
        seen.add(tid)
        rows.add(tid, str(owner), ts, _tweet_targets(tw, str(owner), names_to_ids),
                 parent=tw.get("in_reply_to_status_id_str") or None)
    for n in names:
        if _DMS.search(n) or _GROUP_DMS.search(n):
            for i, item in enumerate(_js_array(arch, n, problems)):
                _conversation(item, arch.display(n), f"item {i}", problems, rows, seen,
                              chain)
    return rows.table("twitter", [path], problems, owner)


def _tweet_targets(tw: dict[str, Any], owner: str,
                   names_to_ids: dict[str, str]) -> list[tuple[str | None, str]]:
    mentions = [m for m in (tw.get("entities") or {}).get("user_mentions") or []
                if isinstance(m, dict) and m.get("id_str")]
    text = str(tw.get("full_text") or tw.get("text") or "")
    rt_user = _user_id(tw.get("retweeted_status"))
    if rt_user is not None:  # API-style tweet objects name the retweeted tweet
        return [(rt_user, "retweet")]
    rt = _RT.match(text)
    if rt:  # the archive: "RT @name: ...", the name among the mentions
        name = rt.group(1).lower()
        uid = next((str(m["id_str"]) for m in mentions
                    if str(m.get("screen_name", "")).lower() == name), None)
        if uid is None:
            uid = names_to_ids.get(name, str(mentions[0]["id_str"]) if mentions else "@" + name)
        return [(uid, "retweet")]
    out: list[tuple[str | None, str]] = []
    if tw.get("in_reply_to_status_id_str"):
        out.append((tw.get("in_reply_to_user_id_str") or None, "reply"))
    quoted = _user_id(tw.get("quoted_status"))
    if quoted is None:
        for u in (tw.get("entities") or {}).get("urls") or []:
            hit = _STATUS_URL.match(str((u or {}).get("expanded_url") or ""))
            if hit:
                quoted = names_to_ids.get(hit.group(1).lower(), "@" + hit.group(1).lower())
                break
    if quoted is not None and quoted != owner:
        out.append((quoted, "quote"))
    have = {t for t, _ in out}
    for m in mentions:
        uid = str(m["id_str"])
        if uid not in have and uid != owner:
            out.append((uid, "mention"))
            have.add(uid)
    if not out:
        out.append((None, "comment"))
    return out


def _user_id(tweet: Any) -> str | None:
    """The author id of an embedded tweet object (``quoted_status``,
    ``retweeted_status``: API-style tweets), else None."""
    if not isinstance(tweet, dict):
        return None
    user = tweet.get("user")
    uid = user.get("id_str") if isinstance(user, dict) else None
    return str(uid) if uid else None


def _conversation(item: Any, where: str, loc: str, problems: Problems, rows: Rows,
                  seen: set[str], chain: bool) -> None:
    conv = item.get("dmConversation") if isinstance(item, dict) else None
    if not isinstance(conv, dict):
        problems.bad("bad_item", where, loc, "expected a dmConversation object")
        return
    cid = str(conv.get("conversationId") or "")
    msgs = [m for m in conv.get("messages") or [] if isinstance(m, dict)]
    people: list[str] = []
    for m in msgs:
        for v in m.values():
            if not isinstance(v, dict):
                continue
            for key in ("senderId", "recipientId", "initiatingUserId"):
                if v.get(key):
                    people.append(str(v[key]))
            for key in ("userIds", "participantsSnapshot"):
                people.extend(str(x) for x in v.get(key) or [])
    people = list(dict.fromkeys(people))
    chat: list[tuple[str, str, int, list[tuple[str | None, str]]]] = []
    reactions: list[tuple[str, str, int, str]] = []
    for j, m in enumerate(msgs):
        mc = m.get("messageCreate")
        if not isinstance(mc, dict):
            continue
        mloc = f"{loc}.messages[{j}]"
        sender, mid = mc.get("senderId"), mc.get("id")
        try:
            ts = iso_to_ms(str(mc.get("createdAt")))
        except ValueError:
            ts = None
        if not sender or not mid or ts is None:
            problems.bad("bad_message", where, mloc, "direct message without senderId, id or "
                         "a usable createdAt")
            continue
        eid = f"dm:{mid}"
        if eid in seen:
            problems.skip("duplicate_id")
            continue
        seen.add(eid)
        if mc.get("recipientId"):
            targets = [str(mc["recipientId"])]
        else:
            targets = [p for p in people if p != str(sender)]
        if not targets:
            problems.skip("dm_without_recipient")
            continue
        chat.append((eid, str(sender), ts, [(t, "message") for t in targets]))
        for k, r in enumerate(mc.get("reactions") or []):
            who = r.get("senderId") if isinstance(r, dict) else None
            if not who:
                continue
            try:
                rts = iso_to_ms(str(r.get("createdAt")))
            except ValueError:
                rts = ts
            rid = f"{eid}:reaction:{r.get('eventId') or k}"
            if rid not in seen:
                seen.add(rid)
                reactions.append((rid, str(who), rts, str(sender)))
    add_chat(rows, chat, cid or None, chain)
    for rid, who, rts, sender in reactions:
        rows.add(rid, who, rts, [(sender, "reaction")], thread=cid or None)
