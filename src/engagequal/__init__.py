"""engagequal: the quality of social networks, not their size.

How many ties are two-way (reciprocity), how deep the conversations go (reply
trees and back-and-forth exchanges) and who sits in each person's inner
circles (Dunbar's layers), from interaction event streams, as Arrow tables.

>>> import engagequal as eq
>>> eq.reciprocity({"actor": [1, 2], "target": [2, 1], "ts": [0, 1]}).column("arc").to_pylist()
[1.0]
"""

from __future__ import annotations

import logging

from engagequal import dask, errors, ingest, io, plot, synth, testing
from engagequal.api import analyze
from engagequal.events import Accounting, Events, Tree
from engagequal.ingest import read_events
from engagequal.kernels.parallel import get_num_threads, num_threads, set_num_threads
from engagequal.metrics.conversations import conversation_tables, conversations
from engagequal.metrics.layers import dunbar_layers, layer_stability, layers_from_dyads
from engagequal.metrics.quality import quality
from engagequal.metrics.reciprocity import reciprocity, reciprocity_tables
from engagequal.metrics.responsiveness import responsiveness
from engagequal.report import Report
from engagequal.stream import Tracker, analyze_stream, rolling

__version__ = "0.1.0"

__all__ = [
    "Accounting",
    "Events",
    "Report",
    "Tracker",
    "Tree",
    "__version__",
    "analyze",
    "analyze_stream",
    "conversation_tables",
    "conversations",
    "dask",
    "dunbar_layers",
    "errors",
    "get_num_threads",
    "ingest",
    "io",
    "layer_stability",
    "layers_from_dyads",
    "num_threads",
    "plot",
    "quality",
    "read_events",
    "reciprocity",
    "reciprocity_tables",
    "responsiveness",
    "rolling",
    "set_num_threads",
    "synth",
    "testing",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
