"""Ingest: every source, one funnel to :class:`engagequal.Events`."""

from engagequal.ingest.read import read_events
from engagequal.ingest.schema import DEFAULT_KIND_WEIGHTS, ColumnMap
from engagequal.ingest.sources import to_reader, to_table

__all__ = ["DEFAULT_KIND_WEIGHTS", "ColumnMap", "read_events", "to_reader", "to_table"]
