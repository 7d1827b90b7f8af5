"""``analyze``: one call from events to a :class:`~engagequal.report.Report`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from engagequal.errors import OptionError
from engagequal.ingest.read import read_events
from engagequal.ingest.schema import to_seconds_duration
from engagequal.kernels.pages import small_pages
from engagequal.metrics._ties import dyads_of, tie_options
from engagequal.progress import Stages, resolve
from engagequal.report import Report

__all__ = ["METRICS", "analyze"]

#: The metric families ``analyze`` knows, in the order they are computed.
METRICS = ("reciprocity", "responsiveness", "conversations", "layers", "quality")

_LONG_JOB = 1_000_000


@small_pages()
def analyze(
    source: Any,
    metrics: Sequence[str] | None = None,
    *,
    layer_method: str = "natural",
    strict: bool = True,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    delta: Any = "7D",
    quality_weights: Mapping[str, float] | None = None,
    layer_options: Mapping[str, Any] | None = None,
    owner: Any = None,
    progress: bool | None = None,
    **read_options: Any,
) -> Report:
    """Every metric of the events in one pass, as a :class:`Report`.

    Parameters
    ----------
    source : Events or table-like
        Events, or anything :func:`engagequal.read_events` accepts: a Parquet
        or CSV path, an Arrow table, a pandas / polars DataFrame, a DuckDB
        relation, a list of dicts ...  Column-mapping keywords (``actor=``,
        ``event_id=``, ``kind_weights=`` ...) go in ``read_options``.
    metrics : sequence of str, optional
        A subset of ``"reciprocity"``, ``"responsiveness"``,
        ``"conversations"``, ``"layers"``, ``"quality"`` (default: all).
    layer_method : {"natural", "rank", "frequency"}
        How :func:`engagequal.dunbar_layers` assigns layers.
    strict : bool, default True
        Raise on bad rows; when False set them aside and count them in
        ``report.dropped``.
    window, half_life, min_weight
        Tie options shared by every metric (see :func:`engagequal.reciprocity`).
    delta : duration, default "7D"
        Answer window of responsiveness and of the quality score.
    quality_weights : mapping, optional
        Component weights of :func:`engagequal.quality`.
    layer_options : mapping, optional
        Further keywords of :func:`engagequal.dunbar_layers` (``sizes=``,
        ``null_model=`` ...).
    owner : id, optional
        The person the report is about (e.g. an archive's owner,
        :func:`engagequal.io.owner_of`): kept in ``report.options["owner"]``
        (a numeric string as an integer when the user ids are integers); the
        HTML report draws their circles.
    progress : bool, optional
        A progress bar over the stages (see :mod:`engagequal.progress`; by
        default shown for a million events or more, silenced by
        ``TQDM_DISABLE``).

    Returns
    -------
    Report
        ``.users``, ``.dyads``, ``.threads``, ``.layers``, ``.summary``,
        ``.dropped`` (see :class:`~engagequal.report.Report`).

    Raises
    ------
    OptionError
        For an unknown metric or a bad option.
    InputError
        For bad rows when ``strict`` (the error names the column, the count
        and examples).

    Notes
    -----
    One orchestration path: the events are read and encoded once, the
    directed dyads are aggregated once (one sort of a packed key) and shared
    by reciprocity, the layers and the quality score; the reply forest is
    walked once for all conversation tables.

    Examples
    --------
    >>> import engagequal as eq
    >>> ev = {"actor": ["a", "b", "a", "c"], "target": ["b", "a", "b", "a"],
    ...       "ts": [0, 60, 120, 180], "kind": ["message", "reply", "reply", "like"]}
    >>> r = eq.analyze(ev, layer_method="rank")
    >>> r.users.select(["user", "connections", "score"]).num_rows
    3
    >>> r.summary.column("arc").to_pylist()
    [0.6666666666666666]
    """
    mets = _check_metrics(metrics)
    layer_opts = dict(layer_options or {})
    if layer_method not in ("natural", "rank", "frequency"):
        raise OptionError(f"layer_method must be 'natural', 'rank' or 'frequency', "
                          f"got {layer_method!r}")
    delta_s = to_seconds_duration(delta, name="delta")
    names = ["read", *mets, "report"]
    with Stages(names, progress=resolve(progress, auto=_size_hint(source) >= _LONG_JOB),
                desc="engagequal analyze") as bar:
        bar.step("read")
        ev = read_events(source, strict=strict, **read_options)
        opts = tie_options(ev, window=window, half_life=half_life, min_weight=min_weight)
        tie_needed = {"reciprocity", "layers", "quality"} & set(mets)
        d = dyads_of(ev, opts) if tie_needed else None
        parts: dict[str, pa.Table] = {"accounting": ev.accounting.table()}
        for m in mets:
            bar.step(m)
            if m == "reciprocity" and d is not None:
                from engagequal.kernels.dyads import pairs_from_dyads
                from engagequal.metrics.reciprocity import (
                    reciprocity_dyad,
                    reciprocity_global,
                    reciprocity_user,
                )

                p = pairs_from_dyads(d)  # unordered pairs, built once for the three tables
                parts["reciprocity_global"] = reciprocity_global(ev, p, opts)
                parts["reciprocity_user"] = reciprocity_user(ev, p, opts)
                parts["reciprocity_dyad"] = reciprocity_dyad(ev, p, opts)
            elif m == "responsiveness":
                from engagequal.metrics.responsiveness import responsiveness_table

                parts["responsiveness_user"] = responsiveness_table(ev, opts, delta_s=delta_s)
            elif m == "conversations":
                from engagequal.metrics.conversations import conversation_tables

                conv = conversation_tables(ev, levels=("thread", "dyad", "user"))
                parts["conversations_thread"] = conv["thread"]
                parts["conversations_dyad"] = conv["dyad"]
                parts["conversations_user"] = conv["user"]
            elif m == "layers" and d is not None:
                parts.update(_layers(ev, d, opts, layer_method, layer_opts))
            elif m == "quality" and d is not None:
                from engagequal.metrics.quality import quality_table

                parts["quality"] = quality_table(ev, d, opts, weights=quality_weights,
                                                 delta=delta_s)
        bar.step("report")
        options = {"metrics": mets, "layer_method": layer_method, "strict": strict,
                   "window": window, "half_life": half_life, "min_weight": min_weight,
                   "delta": delta, "events": ev.n_events, "rows_in": ev.accounting.rows_in,
                   "owner": _as_user_id(ev, owner)}
        report = Report.from_tables(parts, options=options)
    return _with_counts(report, ev.n_events, ev.accounting.rows_in)


def _size_hint(source: Any) -> int:
    """A rough event count, to decide whether a progress bar is worth showing."""
    import os

    n = getattr(source, "num_rows", None) or getattr(source, "n_events", None)
    if isinstance(n, int):
        return n
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        return os.path.getsize(source) // 16  # Parquet: ~16 bytes per event
    return 0


def _layers(ev: Any, d: Any, opts: Any, method: str, layer_opts: dict[str, Any]
            ) -> dict[str, pa.Table]:
    """The tie, ego and global layer tables from one layer assignment."""
    from engagequal.metrics.layers import layer_tables

    tabs = layer_tables(ev, d, opts, method=method, **layer_opts)
    return {f"layers_{k}": v for k, v in tabs.items()}


def _as_user_id(ev: Any, owner: Any) -> Any:
    """``owner`` in the type of the user ids (``"42"`` is 42 when ids are integers)."""
    if isinstance(owner, str) and pa.types.is_integer(ev.users.type):
        try:
            return int(owner)
        except ValueError:
            return owner
    return owner


def _with_counts(report: Report, n_events: int, rows_in: int) -> Report:
    """Put the event counts first in the summary."""
    from dataclasses import replace

    s = report.summary
    head = {"events": n_events, "rows_in": rows_in}
    row = head | (s.to_pylist()[0] if s.num_rows else {})
    return replace(report, summary=pa.Table.from_pylist([row]))


def _check_metrics(metrics: Sequence[str] | None) -> tuple[str, ...]:
    if metrics is None:
        return METRICS
    if isinstance(metrics, str):
        metrics = (metrics,)
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise OptionError(f"unknown metrics {bad}; choose among {METRICS}")
    return tuple(m for m in METRICS if m in set(metrics))
