"""Loaders for the archives people already have: mailboxes, platform exports, corpora.

Every loader returns a ``pyarrow.Table`` with the columns of
:data:`EVENT_SCHEMA` (``actor``, ``target``, ``ts``, ``kind``, ``event_id``,
``parent``, ``thread``, ``record``), ready for
``engagequal.read_events(table, **READ_OPTIONS)``; its schema metadata names
the archive's owner when the format does (``engagequal.owner``) and counts
what was read and set aside (:func:`load_info`).  docs/loaders.md documents
every mapping.

>>> from engagequal.io import FORMATS
>>> sorted(FORMATS)  # doctest: +NORMALIZE_WHITESPACE
['convokit', 'facebook', 'instagram', 'linkedin', 'maildir', 'mastodon', 'mbox', 'reddit',
 'twitter']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from engagequal.errors import OptionError
from engagequal.io._common import (
    EVENT_SCHEMA,
    META_INFO,
    META_OWNER,
    READ_OPTIONS,
    LoadInfo,
    PathLike,
    Rows,
    add_chat,
    load_info,
)
from engagequal.io.convokit import read_convokit, write_convokit
from engagequal.io.linkedin import read_linkedin_export
from engagequal.io.mail import read_maildir, read_mbox
from engagequal.io.mastodon import read_mastodon_outbox
from engagequal.io.meta import fix_text, read_facebook_export, read_instagram_export
from engagequal.io.reddit import read_reddit
from engagequal.io.twitter import read_twitter_archive

__all__ = [
    "EVENT_SCHEMA",
    "FORMATS",
    "META_INFO",
    "META_OWNER",
    "READ_OPTIONS",
    "LoadInfo",
    "Rows",
    "add_chat",
    "fix_text",
    "load_info",
    "owner_of",
    "read",
    "read_convokit",
    "read_facebook_export",
    "read_instagram_export",
    "read_linkedin_export",
    "read_maildir",
    "read_mastodon_outbox",
    "read_mbox",
    "read_reddit",
    "read_twitter_archive",
    "write_convokit",
]

#: Format name -> loader (the names ``engagequal analyze --from`` takes).
FORMATS: Mapping[str, Callable[..., pa.Table]] = {
    "mbox": read_mbox,
    "maildir": read_maildir,
    "twitter": read_twitter_archive,
    "linkedin": read_linkedin_export,
    "instagram": read_instagram_export,
    "facebook": read_facebook_export,
    "mastodon": read_mastodon_outbox,
    "reddit": read_reddit,
    "convokit": read_convokit,
}


def read(format: str, path: PathLike, **options: Any) -> pa.Table:
    """Read ``path`` with the loader of ``format`` (a key of :data:`FORMATS`).

    Parameters
    ----------
    format : str
        A key of :data:`FORMATS` (``"mbox"``, ``"twitter"``, ``"convokit"``, ...):
        the names ``engagequal analyze --from`` takes.
    path : path
        What the loader reads (a file, folder or archive; see each loader).
    **options
        Keywords of that loader (``strict=``, ``owner=``, ...).

    Returns
    -------
    pyarrow.Table
        The loader's table, with the columns of :data:`EVENT_SCHEMA`.

    Raises
    ------
    OptionError
        For an unknown format.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> from engagequal.io import read
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> lines = [{"id": "u1", "speaker": "ann", "conversation_id": "u1", "reply_to": None,
    ...           "timestamp": 0},
    ...          {"id": "u2", "speaker": "bob", "conversation_id": "u1", "reply_to": "u1",
    ...           "timestamp": 60}]
    >>> _ = (d / "utterances.jsonl").write_text("\\n".join(map(json.dumps, lines)))
    >>> read("convokit", d).select(["actor", "kind", "parent"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'actor': 'ann', 'kind': 'comment', 'parent': None},
     {'actor': 'bob', 'kind': 'reply', 'parent': 'u1'}]
    """
    try:
        loader = FORMATS[format]
    except KeyError:
        raise OptionError(f"unknown format {format!r}; known: {sorted(FORMATS)}") from None
    return loader(path, **options)


def owner_of(table: pa.Table) -> str | None:
    """The archive owner named in a loader's table (``engagequal.owner``), or None.

    Parameters
    ----------
    table : pyarrow.Table
        A table returned by an ``engagequal.io`` loader.

    Returns
    -------
    str or None
        The owner stored under the :data:`META_OWNER` schema metadata key: the
        account or profile the archive belongs to, when the format names it or
        ``owner=`` was passed to the loader.

    Examples
    --------
    >>> import pyarrow as pa
    >>> from engagequal.io import META_OWNER, owner_of
    >>> t = pa.table({"actor": ["ann"]})
    >>> owner_of(t) is None
    True
    >>> owner_of(t.replace_schema_metadata({META_OWNER: b"ann"}))
    'ann'
    """
    meta = table.schema.metadata or {}
    v = meta.get(META_OWNER)
    return None if v is None else v.decode()
