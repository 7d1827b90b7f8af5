"""``engagequal.dask``: the same analysis on a Dask cluster.

This module does not import Dask until :func:`analyze` is called, so
``import engagequal`` stays light; without the extra installed, :func:`analyze`
raises :class:`~engagequal.errors.MissingExtraError` naming ``engagequal[dask]``.

>>> import engagequal as eq
>>> eq.dask.__all__
['analyze']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engagequal.errors import MissingExtraError

if TYPE_CHECKING:
    from engagequal.distributed.dask import DaskAnalysis

__all__ = ["analyze"]


def analyze(
    source: Any,
    client: Any = None,
    *,
    metrics: Sequence[str] | None = None,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    delta: Any = "7D",
    fanin: int = 8,
    **read_options: Any,
) -> DaskAnalysis:
    """Analyse events held in a Dask DataFrame or Parquet files on a Dask cluster.

    Every partition goes through the same funnel and kernels as the in-memory
    path; partial results are merged as a tree of futures, so the tables equal
    the in-memory ones (floating-point sums up to the order of additions).

    Parameters
    ----------
    source : dask.dataframe.DataFrame or str or os.PathLike or list of paths
        The events: a Dask DataFrame, or a Parquet file, folder or glob that
        ``dask.dataframe.read_parquet`` reads.
    client : distributed.Client, optional
        The cluster to run on; by default the current client, else a
        temporary local cluster of threads.
    metrics : sequence of {"reciprocity", "responsiveness"}, optional
        What to compute (default: all).
    window, half_life, min_weight
        As in :func:`engagequal.reciprocity`.
    delta : duration, default "7D"
        As in :func:`engagequal.responsiveness`.
    fanin : int, default 8
        Partial results merged per task of the reduction tree.
    **read_options
        Column mapping and ``kind_weights`` / ``strict``, as in
        :func:`engagequal.read_events`.

    Returns
    -------
    DaskAnalysis
        ``.tables``: ``reciprocity_global``, ``reciprocity_user``,
        ``reciprocity_dyad`` (schemas of :func:`engagequal.reciprocity`) and
        ``responsiveness`` (schema of :func:`engagequal.responsiveness` at
        ``level="user"``); ``.accounting``; ``.profile`` (partitions, users,
        dyads, bytes shuffled, seconds per stage).

    Raises
    ------
    MissingExtraError
        When Dask is not installed (``pip install 'engagequal[dask]'``).
    SourceError
        When ``source`` is neither a Dask DataFrame nor a Parquet path.

    Notes
    -----
    Strict-mode errors are raised from the partition that holds the bad row,
    with row numbers counted within that partition.  Duplicate ``event_id``s
    are found within a partition only.  See ``docs/dask.md`` for how each
    grouping is distributed and how it scales.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd
    >>> import engagequal as eq
    >>> df = pd.DataFrame({"actor": [1, 2, 2, 3], "target": [2, 1, 3, 4], "ts": [0, 1, 2, 3]})
    >>> res = eq.dask.analyze(dd.from_pandas(df, npartitions=2), metrics=["reciprocity"])
    >>> res["reciprocity_global"].column("arc").to_pylist()
    [0.5]
    """
    try:
        from engagequal.distributed import dask as _impl
    except ImportError as exc:
        raise MissingExtraError(
            "engagequal.dask needs Dask: pip install 'engagequal[dask]' "
            f"(import failed: {exc})"
        ) from exc
    return _impl.analyze(source, client, metrics=metrics, window=window, half_life=half_life,
                         min_weight=min_weight, delta=delta, fanin=fanin, **read_options)
