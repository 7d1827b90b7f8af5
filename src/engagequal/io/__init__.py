"""Loaders for the archives people already have (mail, platform exports, corpora)."""

from engagequal.io._common import (
    EVENT_SCHEMA,
    META_INFO,
    META_OWNER,
    READ_OPTIONS,
    LoadInfo,
    Rows,
    load_info,
)
from engagequal.io.mail import read_maildir, read_mbox
from engagequal.io.write import write_events

__all__ = ["EVENT_SCHEMA", "META_INFO", "META_OWNER", "READ_OPTIONS", "LoadInfo", "Rows",
           "load_info", "read_maildir", "read_mbox", "write_events"]
