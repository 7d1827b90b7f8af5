"""Ingest: every source, one funnel to :class:`engagequal.Events`.

:func:`read_events` validates the rows, maps the columns named by the user
(never guessed), encodes ids and kinds once and builds the reply forest;
:func:`to_table` / :func:`to_reader` normalise any table-like source to Arrow.

Examples
--------
>>> from engagequal.ingest import read_events
>>> ev = read_events({"from": ["ann", "bob"], "to": ["bob", "ann"], "at": [0, 60]},
...                  actor="from", target="to", ts="at")
>>> ev.n_events, ev.users.to_pylist()
(2, ['ann', 'bob'])
"""

from engagequal.ingest.read import read_events
from engagequal.ingest.schema import DEFAULT_KIND_WEIGHTS, ColumnMap
from engagequal.ingest.sources import to_reader, to_table

__all__ = ["DEFAULT_KIND_WEIGHTS", "ColumnMap", "read_events", "to_reader", "to_table"]
