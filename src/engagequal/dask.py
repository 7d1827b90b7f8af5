"""``engagequal.dask``: the same analysis on a Dask cluster.

This module does not import Dask until :func:`analyze` is called, so
``import engagequal`` stays light; without the extra installed, :func:`analyze`
raises :class:`~engagequal.errors.MissingExtraError` naming ``engagequal[dask]``.

>>> import engagequal as eq
>>> eq.dask.__all__
['analyze']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engagequal.errors import MissingExtraError

if TYPE_CHECKING:
    from engagequal.report import Report

__all__ = ["analyze"]


def analyze(
    source: Any,
    client: Any = None,
    *,
    metrics: Sequence[str] | None = None,
    layer_method: str = "natural",
    strict: bool = True,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    delta: Any = "7D",
    quality_weights: Mapping[str, float] | None = None,
    layer_options: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    fanin: int = 8,
    **read_options: Any,
) -> Report:
    """:func:`engagequal.analyze` on a Dask cluster: the same :class:`~engagequal.Report`.

    Every partition goes through the same funnel and kernels as the in-memory
    path; partial results are merged as a tree of futures and the groupings
    that need their rows together (whole threads, both directions of a pair,
    every event of a user) are brought together by task-based shuffles, so the
    tables equal the in-memory ones (floating-point sums up to the order of
    additions).

    Parameters
    ----------
    source : dask.dataframe.DataFrame or str or os.PathLike or list of paths
        The events: a Dask DataFrame, or a Parquet file, folder or glob that
        ``dask.dataframe.read_parquet`` reads.
    client : distributed.Client, optional
        The cluster to run on; by default the current client, else a
        temporary local cluster of threads.
    metrics, layer_method, strict, window, half_life, min_weight, delta
        As in :func:`engagequal.analyze`.
    quality_weights, layer_options
        As in :func:`engagequal.analyze` (``embeddedness`` cannot be scored
        here: give it weight 0).
    progress : bool, optional
        Accepted for symmetry with :func:`engagequal.analyze`; watch the Dask
        dashboard instead.
    fanin : int, default 8
        Partial results merged per task of the reduction trees.
    **read_options
        Column mapping and ``kind_weights``, as in :func:`engagequal.read_events`.

    Returns
    -------
    Report
        The tables of :func:`engagequal.analyze` (``report.details`` holds the
        per-family tables), as a :class:`~engagequal.Report` subclass with two
        more attributes: ``report.profile`` (``partitions``, ``users``,
        ``dyads``, ``bytes_shuffled``, ``seconds`` per stage and ``tasks``:
        compute seconds per task kind, also in ``report.options["dask"]`` and,
        as a table, ``report.details["dask_profile"]``) and
        ``report.accounting`` (an :class:`~engagequal.Accounting` summed over
        the partitions, with the whole-input positions of set-aside rows).

    Raises
    ------
    MissingExtraError
        When Dask is not installed (``pip install 'engagequal[dask]'``).
    SourceError
        When ``source`` is neither a Dask DataFrame nor a Parquet path.
    OptionError
        For an unknown metric or option.

    Notes
    -----
    Strict-mode errors are raised from the partition (or, with reply trees,
    the thread bucket) that holds the bad row, with row numbers counted there;
    in lenient mode set-aside rows keep their whole-input positions.  Process
    workers run the kernels about twice as fast when started without Dask's
    default ``MALLOC_TRIM_THRESHOLD_`` (``distributed.nanny.pre-spawn-environ``).
    See ``docs/dask.md`` for how each grouping is distributed, what differs
    from the in-memory Report (the natural layers' null-model columns, up to
    float ties; no embeddedness score) and how it scales.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd
    >>> import engagequal as eq
    >>> df = pd.DataFrame({"actor": [1, 2, 2, 3], "target": [2, 1, 3, 4], "ts": [0, 1, 2, 3]})
    >>> r = eq.dask.analyze(dd.from_pandas(df, npartitions=2), metrics=["reciprocity"])
    >>> r.summary.column("arc").to_pylist()
    [0.5]
    """
    del progress
    try:
        from engagequal.distributed import dask as _impl
    except ImportError as exc:
        raise MissingExtraError(
            "engagequal.dask needs Dask: pip install 'engagequal[dask]' "
            f"(import failed: {exc})"
        ) from exc
    return _impl.analyze(source, client, metrics=metrics, layer_method=layer_method,
                         strict=strict, window=window, half_life=half_life,
                         min_weight=min_weight, delta=delta, quality_weights=quality_weights,
                         layer_options=layer_options, fanin=fanin, **read_options)
