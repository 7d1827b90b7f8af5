"""Arrow-in, Arrow-out kernels for any engine, and the Ray and Spark recipes.

:func:`dyads_batch` turns one Arrow batch of events into partial dyads keyed
by the *original* user ids (so batches need no shared dictionary), and
:func:`reciprocity_from_partials` adds the partials up and builds the
reciprocity tables with the in-memory functions.  Any engine that maps Arrow
batches can run the first and collect for the second:

Ray (``pip install 'ray[data]'``)::

    import ray  # type: ignore[import-not-found]
    from engagequal.distributed.recipes import dyads_batch, reciprocity_from_partials

    ds = ray.data.read_parquet("events/")
    parts = ds.map_batches(dyads_batch, batch_format="pyarrow")
    tables = reciprocity_from_partials(ray.get(parts.to_arrow_refs()))

Spark (``pyspark >= 3.3``)::

    from engagequal.distributed.recipes import spark_partials, spark_schema_ddl
    sdf = spark.read.parquet("events/")
    parts = sdf.mapInArrow(spark_partials, spark_schema_ddl())
    tables = reciprocity_from_partials([pa.Table.from_pandas(parts.toPandas())])

:func:`ray_reciprocity` and :func:`spark_reciprocity` are the two recipes as
functions; neither engine is a dependency of engagequal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.distributed import partials as P
from engagequal.events import Events
from engagequal.ingest.read import read_events
from engagequal.ingest.schema import merge_kind_weights
from engagequal.kernels.dyads import Dyads, aggregate_dyads
from engagequal.metrics._ties import TieOptions
from engagequal.metrics.reciprocity import (
    reciprocity_dyad,
    reciprocity_global,
    reciprocity_user,
)

__all__ = [
    "dyads_batch",
    "ray_reciprocity",
    "reciprocity_from_partials",
    "spark_partials",
    "spark_reciprocity",
    "spark_schema_ddl",
]


def dyads_batch(batch: pa.RecordBatch | pa.Table, **read_options: Any) -> pa.Table:
    """Partial dyads of one batch of events, keyed by original ids.

    Returns a table ``u``, ``v`` (the ids, int64 or string), ``w`` (float64),
    ``n``, ``first``, ``last`` (int64, nanoseconds); self-interactions are kept
    as ``u == v`` rows so that the final step can count them.

    Examples
    --------
    >>> t = pa.table({"actor": [1, 2, 2], "target": [2, 1, 2], "ts": [0, 5, 9]})
    >>> dyads_batch(t).select(["u", "v", "n"]).to_pylist()
    [{'u': 1, 'v': 2, 'n': 1}, {'u': 2, 'v': 1, 'n': 1}, {'u': 2, 'v': 2, 'n': 1}]
    """
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    ev = read_events(table, **read_options)
    d = aggregate_dyads(ev.actor, ev.target, ev.weight, ev.ts, ev.n_users)
    selfs = (ev.actor == ev.target)
    su = ev.actor[selfs]
    uniq, cnt = np.unique(su, return_counts=True)
    u = np.concatenate([d.u, uniq.astype(np.int32)])
    v = np.concatenate([d.v, uniq.astype(np.int32)])
    return pa.table({
        "u": ev.user_ids(u), "v": ev.user_ids(v),
        "w": pa.array(np.concatenate([d.w, np.zeros(uniq.size)])),
        "n": pa.array(np.concatenate([d.n, cnt.astype(np.int64)])),
        "first": pa.array(np.concatenate([d.first, np.zeros(uniq.size, np.int64)])),
        "last": pa.array(np.concatenate([d.last, np.zeros(uniq.size, np.int64)])),
    })


def reciprocity_from_partials(partials: Iterable[pa.Table], *,
                              time_type: pa.DataType | None = None) -> dict[str, pa.Table]:
    """Add partial dyad tables (from :func:`dyads_batch`) and build the
    ``global``, ``user`` and ``dyad`` reciprocity tables.

    ``time_type`` is the type ``first`` / ``last`` are given back in
    (default: UTC nanosecond timestamps).  Windows and decay are not applied
    here: filter the events before mapping them.
    """
    tables = list(partials)
    if not tables:
        raise ValueError("no partial dyad tables")
    parts = pa.concat_tables(tables, promote_options="permissive")
    u_ids = parts.column("u").combine_chunks()
    v_ids = parts.column("v").combine_chunks()
    users = P.merge_ids(pc.unique(u_ids).sort(), pc.unique(v_ids).sort())
    uc, vc = _codes(u_ids, users), _codes(v_ids, users)
    cols = {k: parts.column(k).to_numpy() for k in ("w", "n", "first", "last")}
    selfs = uc == vc
    keep = ~selfs
    d = P.reduce_dyads(Dyads(u=uc[keep], v=vc[keep], w=cols["w"][keep], n=cols["n"][keep],
                             first=cols["first"][keep], last=cols["last"][keep],
                             n_users=len(users)))
    present = np.zeros(len(users), bool)
    present[uc] = True
    present[vc] = True
    stand_in = _events(users, time_type or pa.timestamp("ns", tz="UTC"),
                       np.flatnonzero(present).astype(np.int32))
    opts = TieOptions(t0=None, t1=None, half_life=None, reference=None, min_weight=0.0)
    g = reciprocity_global(stand_in, d, opts)
    g = g.set_column(g.column_names.index("self_interactions"), "self_interactions",
                     pa.array([int(cols["n"][selfs].sum())], pa.int64()))
    return {"global": g, "user": reciprocity_user(stand_in, d, opts),
            "dyad": reciprocity_dyad(stand_in, d, opts)}


def ray_reciprocity(path: str, **read_options: Any) -> dict[str, pa.Table]:
    """The Ray recipe: ``map_batches(dyads_batch, batch_format="pyarrow")``, then
    the partials are added on the driver."""
    import ray  # type: ignore[import-not-found]

    ds = ray.data.read_parquet(path)
    parts = ds.map_batches(dyads_batch, batch_format="pyarrow", fn_kwargs=read_options)
    return reciprocity_from_partials(ray.get(parts.to_arrow_refs()))


def spark_partials(batches: Iterable[pa.RecordBatch],
                   **read_options: Any) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: partial dyads of every Arrow batch Spark hands over."""
    for b in batches:
        yield from dyads_batch(b, **read_options).to_batches()


def spark_schema_ddl(id_type: str = "bigint") -> str:
    """The Spark schema of the partial dyads (``id_type``: ``bigint`` or ``string``)."""
    return (f"u {id_type}, v {id_type}, w double, n bigint, first bigint, last bigint")


def spark_reciprocity(sdf: Any, *, id_type: str = "bigint",
                      **read_options: Any) -> dict[str, pa.Table]:
    """The Spark recipe on a Spark DataFrame of events."""
    from functools import partial

    parts = sdf.mapInArrow(partial(spark_partials, **read_options), spark_schema_ddl(id_type))
    rows = parts.toPandas()
    return reciprocity_from_partials([pa.Table.from_pandas(rows, preserve_index=False)])


def _codes(ids: pa.Array, users: pa.Array) -> NDArray[np.int32]:
    return np.asarray(pc.index_in(ids.cast(users.type), value_set=users)
                      .to_numpy(zero_copy_only=False), dtype=np.int32)


def _events(users: pa.Array, time_type: pa.DataType, codes: NDArray[np.int32]) -> Events:
    from engagequal.events import Accounting

    k = codes.size
    return Events(actor=codes, target=np.full(k, -1, np.int32), ts=np.zeros(k, np.int64),
                  kind=np.zeros(k, np.int16), weight=np.zeros(k), users=users,
                  kinds=("interaction",), kind_weights=merge_kind_weights(None),
                  time_type=time_type, tree=None,
                  accounting=Accounting(rows_in=k, rows_used=k))
