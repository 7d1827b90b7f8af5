"""LinkedIn data exports ("Get a copy of your data": a zip of CSV files).

Read here: ``messages.csv`` (``CONVERSATION ID``, ``FROM``, ``SENDER PROFILE
URL``, ``TO``, ``RECIPIENT PROFILE URLS``, ``DATE``, ...), ``Connections.csv``
(``First Name``, ``Last Name``, ``URL``, ``Connected On``, after a few lines of
notes), and where present ``Reactions.csv`` (``Date``, ``Type``, ``Link``) and
``Comments.csv`` (``Date``, ``Link``, ``Message``).
"""

from __future__ import annotations

import csv
import datetime as _dt
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
    iso_to_ms,
)

__all__ = ["read_linkedin_export"]


def _person(url: str | None, name: str | None) -> str | None:
    """A member's id: the profile URL (lower case, no trailing slash, https),
    else the name."""
    u = (url or "").strip()
    if u:
        u = u.lower().rstrip("/").replace("http://", "https://")
        return u
    n = (name or "").strip()
    return n or None


def _time(v: str | None) -> int | None:
    s = (v or "").strip()
    if not s:
        return None
    try:
        return iso_to_ms(s)
    except ValueError:
        pass
    for fmt in ("%d %b %Y", "%m/%d/%y, %I:%M %p", "%m/%d/%y", "%Y-%m-%d %H:%M:%S %Z"):
        try:
            d = _dt.datetime.strptime(s, fmt).replace(tzinfo=_dt.timezone.utc)
            return round(d.timestamp() * 1000)
        except ValueError:
            continue
    return None


def _csv(arch: Archive, name: str, header_starts: str) -> tuple[list[dict[str, str]], int]:
    """Rows of a CSV member and the file line of its header (notes above the
    header, as in ``Connections.csv``, are skipped)."""
    lines = arch.read(name).decode("utf-8-sig", "replace").splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.lstrip('"').startswith(header_starts)),
                 0)
    reader = csv.DictReader(lines[start:])
    return [{(k or "").strip(): (v or "") for k, v in r.items() if isinstance(v, str)}
            for r in reader], start + 1


def read_linkedin_export(path: PathLike, *, strict: bool = True, owner: str | None = None,
                         chain: bool = True) -> pa.Table:
    """Read a LinkedIn data export (zip or folder) into an event table.

    Parameters
    ----------
    path : path
        The export ``.zip`` or its unpacked folder.
    strict : bool, default True
        Raise :class:`engagequal.errors.FormatError` naming the file and its
        line on a row without a sender or a usable date (or a truncated zip);
        when False, set it aside and count it.
    owner : str, optional
        The owner's profile URL.  By default the member taking part in the
        most conversations (the owner is in every one), ties broken by
        messages sent.
    chain : bool, default True
        Read each conversation as one line of talk (each message's parent is
        the one before it; :func:`engagequal.io.add_chat`).

    Returns
    -------
    pyarrow.Table
        :data:`engagequal.io.EVENT_SCHEMA`; members are profile URLs
        (``https://www.linkedin.com/in/<slug>``), or names where the export
        gives no URL.  The owner is the table's ``engagequal.owner``.

    Notes
    -----
    * A message: one ``"message"`` row per recipient URL, ``thread`` =
      ``CONVERSATION ID``, ``event_id`` = ``<conversation id>#<line>``.
    * A connection: ``"connection"`` from the owner to the member (structural,
      weight 0: it builds the graph beside follows), at ``Connected On``.
    * A reaction or comment names the post (``Link``) but not its author: a
      ``"reaction"`` / ``"comment"`` row of the owner aimed at no one, whose
      ``thread`` is the post's link.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "messages.csv").write_text(
    ...     "CONVERSATION ID,FROM,SENDER PROFILE URL,TO,RECIPIENT PROFILE URLS,DATE\\n"
    ...     "c1,Ann,https://www.linkedin.com/in/ann,Bob,https://www.linkedin.com/in/bob,"
    ...     "2024-01-01 10:00:00 UTC\\n")
    >>> read_linkedin_export(d).select(["actor", "target", "kind"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'https://www.linkedin.com/in/ann', 'target': 'https://www.linkedin.com/in/bob',
      'kind': 'message'}]
    """
    problems = Problems("linkedin", strict)
    arch = Archive(path, problems)
    rows = Rows()
    convs: dict[str, list[ChatMessage]] = {}
    sent: Counter[str] = Counter()
    member_of: dict[str, set[str]] = {}
    for name in arch.find("messages.csv"):
        table, first = _csv(arch, name, "CONVERSATION ID")
        where = arch.display(name)
        for j, r in enumerate(table):
            loc = f"line {first + j + 1}"
            sender = _person(r.get("SENDER PROFILE URL"), r.get("FROM"))
            ts = _time(r.get("DATE"))
            if sender is None or ts is None:
                problems.bad("bad_row", where, loc, "message without a sender or a usable DATE "
                             f"({r.get('DATE')!r})")
                continue
            urls = [u for u in (r.get("RECIPIENT PROFILE URLS") or "").split(",") if u.strip()]
            if urls:
                recipients = [_person(u, None) for u in urls]
            else:
                recipients = [_person(None, n) for n in (r.get("TO") or "").split(",")]
            targets = list(dict.fromkeys(p for p in recipients if p and p != sender))
            conv = (r.get("CONVERSATION ID") or "").strip() or f"line {first + j + 1}"
            sent[sender] += 1
            for m in (sender, *targets):
                member_of.setdefault(m, set()).add(conv)
            if not targets:
                problems.note("message_without_recipient")
                targets_k: list[tuple[str | None, str]] = [(None, "message")]
            else:
                targets_k = [(t, "message") for t in targets]
            convs.setdefault(conv, []).append((f"{conv}#{first + j + 1}", sender, ts, targets_k))
    if owner is None and member_of:  # in the most conversations, then sent the most
        owner = max(member_of, key=lambda m: (len(member_of[m]), sent[m], m))
    owner_id = owner if owner is not None else "owner"
    for conv, msgs in convs.items():
        add_chat(rows, msgs, conv, chain)
    for name in arch.find("connections.csv"):
        table, first = _csv(arch, name, "First Name")
        for j, r in enumerate(table):
            _connection(r, arch.display(name), f"line {first + j + 1}", owner_id, problems, rows)
    for fname, kind in (("reactions.csv", "reaction"), ("comments.csv", "comment")):
        for name in arch.find(fname):
            table, first = _csv(arch, name, "Date")
            for j, r in enumerate(table):
                loc = f"line {first + j + 1}"
                ts = _time(r.get("Date"))
                if ts is None:
                    problems.bad("bad_row", arch.display(name), loc,
                                 f"{kind} without a usable Date ({r.get('Date')!r})")
                    continue
                link = (r.get("Link") or "").strip() or None
                rows.add(f"{kind}:{first + j + 1}", owner_id, ts, [(None, kind)], thread=link)
    return rows.table("linkedin", [path], problems, owner)


def _connection(r: dict[str, Any], where: str, loc: str, owner: str, problems: Problems,
                rows: Rows) -> None:
    name = f"{r.get('First Name', '').strip()} {r.get('Last Name', '').strip()}".strip()
    who = _person(r.get("URL"), name)
    ts = _time(r.get("Connected On"))
    if who is None or ts is None:
        problems.bad("bad_row", where, loc, "connection without a member or a usable "
                     f"'Connected On' ({r.get('Connected On')!r})")
        return
    if f"connection:{who}" in rows.event_id:
        problems.skip("duplicate_id")
        return
    rows.add(f"connection:{who}", owner, ts, [(who, "connection")])
