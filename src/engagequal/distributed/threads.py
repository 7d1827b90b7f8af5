"""Whole threads together: the bucket of every row, for a shuffle on the thread key.

A reply tree needs all of its rows in one place: the funnel
(:func:`engagequal.read_events`) aims a reply without a target at its parent's
actor, keeps the earliest of the rows that share an ``event_id``, cuts parent
cycles and cross-thread parents, and gives a null ``thread`` its root's thread.
Each of these looks at the parent, the duplicates or the thread of a row, so
the rows that must meet are exactly those linked by an ``event_id`` -
``parent`` edge or a shared ``thread``: the connected components of the graph
whose nodes are the event ids and the thread ids.  Without a ``thread``
column a component is a reply tree (plus, in broken data, the trees joined by
a duplicated id); with one it is a thread (plus threads joined by a
cross-thread parent).  Grouping by component is therefore exact where a
shuffle on the root alone would split duplicated ids and cycles.

The component of every row is found in three steps, all pure functions of
numpy arrays:

1. :func:`local_components`: per partition, the components of the partition's
   own subgraph (one sparse connected-components pass); every node is reported
   with its partition-local component (a globally unique ``int64`` label);
2. :func:`shared_edges`: the node reports are hash-shuffled on the node, and a
   node reported by two components links them (one sort per bucket);
3. :func:`join_labels`: the links, one per tree that straddles partitions, are
   contracted into final labels (the smallest label of each group) in one task;
   :func:`row_keys` maps every row's local label onto it.

Node ids are 64-bit hashes of the ids (the integer itself for integer ids);
two ids that collide only put two components into one bucket, which changes
no result.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from engagequal.distributed.partials import bucket_of, concat_rows, split_rows
from engagequal.kernels.segments import stable_order

__all__ = ["LocalComponents", "concat_tables", "join_labels", "local_components", "node_ids",
           "row_keys", "shared_edges", "split_nodes", "split_table", "table_nbytes"]

_SHIFT = 40  # partition index above bit 40 of a label: 2**40 components per partition
_THREAD_SALT = np.uint64(0x5DEECE66D1234567)

LocalComponents = tuple[NDArray[np.int64], dict[str, NDArray[Any]]]
"""Per row its local label (``-1``: the row names no id), and the nodes with their label."""


def node_ids(col: pa.ChunkedArray | pa.Array, like: pa.DataType | None = None
             ) -> tuple[NDArray[np.uint64], NDArray[np.bool_]]:
    """A 64-bit node id per value and where the value is not null.

    Integer ids are their own node ids; other types are cast to ``like`` (the
    event id type) when given, then hashed.
    """
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if like is not None and col.type != like and not pa.types.is_null(col.type):
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            col = col.cast(like)
    valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_null(col.type):
        return np.zeros(len(col), np.uint64), valid
    if pa.types.is_integer(col.type):
        vals = col.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return np.asarray(vals, dtype=np.int64).view(np.uint64), valid
    from pandas.util import hash_array

    obj = col.to_numpy(zero_copy_only=False)
    out = np.asarray(hash_array(np.asarray(obj, dtype=object)), dtype=np.uint64)
    return out, valid


def local_components(table: pa.Table, part: int, event_id: str, parent: str | None,
                     thread: str | None) -> LocalComponents:
    """Components of one partition's subgraph of ids (see the module notes)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = table.num_rows
    eid, ve = node_ids(table.column(event_id))
    typ = table.schema.field(event_id).type
    cols = [(eid, ve)]
    if parent is not None:
        cols.append(node_ids(table.column(parent), like=typ))
    if thread is not None:
        th, vt = node_ids(table.column(thread))
        cols.append((th ^ _THREAD_SALT, vt))
    from pandas import factorize

    allv = np.concatenate([c[0][c[1]] for c in cols]) if n else np.zeros(0, np.uint64)
    inv, uniq = factorize(allv)  # hashing: cheaper than a sort, any node order will do
    uniq = np.asarray(uniq, dtype=np.uint64)
    inv = np.asarray(inv, dtype=np.int64)
    idx = []  # per column, the node index of every row (-1 where null)
    at = 0
    for _, valid in cols:
        k = np.full(n, -1, dtype=np.int64)
        m = int(valid.sum())
        k[valid] = inv[at:at + m]
        at += m
        idx.append(k)
    src, dst = [], []
    for k in idx[1:]:
        both = (idx[0] >= 0) & (k >= 0)
        src.append(idx[0][both])
        dst.append(k[both])
    nn = uniq.size
    if nn:
        s = np.concatenate(src) if src else np.zeros(0, np.int64)
        d = np.concatenate(dst) if dst else np.zeros(0, np.int64)
        g = coo_matrix((np.ones(s.size, np.int8), (s, d)), shape=(nn, nn))
        _, comp = connected_components(g, directed=False)
        comp = comp.astype(np.int64)
    else:
        comp = np.zeros(0, np.int64)
    label = comp + (np.int64(part) << np.int64(_SHIFT))
    row = np.full(n, -1, dtype=np.int64)
    for k in reversed(idx):  # the event id's node wins, then the parent's
        has = k >= 0
        row[has] = label[k[has]]
    return row, {"node": uniq, "label": label}


def split_nodes(comps: LocalComponents, n_buckets: int) -> list[dict[str, NDArray[Any]]]:
    """The node reports of one partition, split by node for the shuffle."""
    nodes = comps[1]
    return split_rows(nodes, bucket_of(nodes["node"].view(np.int64), n_buckets), n_buckets)


def shared_edges(*pieces: dict[str, NDArray[Any]]) -> NDArray[np.int64]:
    """Links ``(label_a, label_b)`` between components that report the same node."""
    rows = concat_rows(*pieces)
    node, label = rows["node"], rows["label"]
    if node.size < 2:
        return np.zeros((0, 2), np.int64)
    order = np.argsort(node)  # a partition reports each node once, with one label
    node, label = node[order], label[order]
    link = (node[1:] == node[:-1]) & (label[1:] != label[:-1])
    return np.stack([label[:-1][link], label[1:][link]], axis=1)


def join_labels(*edges: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Contract the links: ``(labels, final)``, sorted by ``labels``, where
    ``final`` is the smallest label of each linked group."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = np.concatenate([x for x in edges if x.size] or [np.zeros((0, 2), np.int64)])
    if e.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    labels, inv = np.unique(e.ravel(), return_inverse=True)
    inv = inv.reshape(-1, 2)
    nn = labels.size
    g = coo_matrix((np.ones(inv.shape[0], np.int8), (inv[:, 0], inv[:, 1])), shape=(nn, nn))
    _, comp = connected_components(g, directed=False)
    smallest = np.full(int(comp.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, comp, labels)
    return labels, smallest[comp]


def row_keys(comps: LocalComponents, mapping: tuple[NDArray[np.int64], NDArray[np.int64]],
             first_row: int) -> NDArray[np.int64]:
    """The final label of every row (rows that name no id keep a key of their own)."""
    row = comps[0].copy()
    labels, final = mapping
    if labels.size and row.size:
        pos = np.searchsorted(labels, row)
        pos_c = np.minimum(pos, labels.size - 1)
        hit = labels[pos_c] == row
        row[hit] = final[pos_c[hit]]
    lone = row < 0
    if lone.any():  # no event id: set aside by the funnel, any bucket will do
        row[lone] = -(first_row + np.flatnonzero(lone).astype(np.int64)) - 1
    return row


def split_table(table: pa.Table, keys: NDArray[np.int64], n_buckets: int,
                first_row: int) -> list[pa.Table]:
    """The rows of ``table`` by bucket of their key (order kept), each with its
    whole-input position in a ``__row`` column."""
    b = bucket_of(keys, n_buckets)
    order = stable_order(b)
    bounds = np.searchsorted(b[order], np.arange(n_buckets + 1))
    rows = pa.array(first_row + np.arange(table.num_rows, dtype=np.int64))
    t = table.append_column("__row", rows).take(pa.array(order))
    return [t.slice(bounds[j], bounds[j + 1] - bounds[j]) for j in range(n_buckets)]


def concat_tables(*parts: pa.Table) -> pa.Table:
    """Concatenate the pieces of one bucket (schemas unified)."""
    out = pa.concat_tables(parts, promote_options="default")
    return out.combine_chunks() if out.num_rows else out


def table_nbytes(parts: list[pa.Table]) -> int:
    """Bytes of the pieces that a shuffle moves."""
    return sum(int(p.nbytes) for p in parts)
