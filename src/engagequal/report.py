"""``Report``: everything :func:`engagequal.analyze` found, as Arrow tables.

A report is a bundle of ``pyarrow.Table`` objects and nothing else, so any
front end (in memory, streaming, Dask) can build one with
:meth:`Report.from_tables` and every consumer (pandas, polars, DuckDB, the
plots, the HTML page, the command line) reads the same thing.
"""

from __future__ import annotations

import html as _html
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engagequal.errors import OptionError

__all__ = ["Ego", "Report"]

#: The six main tables, in display order.
MAIN = ("users", "dyads", "threads", "layers", "summary", "dropped")

#: Names accepted by :meth:`Report.from_tables` for the per-family tables
#: (the keys ``analyze`` and ``analyze_stream`` produce).
PARTS = ("reciprocity_global", "reciprocity_user", "reciprocity_dyad", "responsiveness_user",
         "conversations_thread", "conversations_dyad", "conversations_user", "layers_ego",
         "layers_tie", "layers_global", "quality", "accounting")


def _empty() -> pa.Table:
    return pa.table({})


@dataclass(frozen=True, eq=False)
class Report:
    """The result of :func:`engagequal.analyze`.

    Every attribute is a ``pyarrow.Table`` (empty with no columns when the
    metric family was not computed).

    Attributes
    ----------
    users : pyarrow.Table
        One row per user with an event in the window, keyed by ``user`` (the
        original id), in id order: the columns of ``reciprocity(level="user")``,
        then ``quality`` (``score`` and its components, followers, engaged
        audience, practice rates), ``responsiveness``, ``conversations(level=
        "user")`` (a name already taken gets the prefix ``tree_``) and the
        user's Dunbar layer sizes (``active_size``, ``layer_1`` ...).
    dyads : pyarrow.Table
        ``reciprocity(level="dyad")``: one row per unordered pair.
    threads : pyarrow.Table
        ``conversations(level="thread")``: one row per thread (empty without a
        reply tree).
    layers : pyarrow.Table
        ``dunbar_layers(level="ego")``: one row per ego.
    summary : pyarrow.Table
        One row of headline figures: ``events``, ``users``, ``rows_in``,
        ``rows_set_aside``, the global reciprocity variants, thread figures,
        mean layer sizes, score quartiles, total followers and engaged
        audience.  Columns of families not computed are absent.
    dropped : pyarrow.Table
        Where input rows went: ``reason``, ``rows``, ``action`` (``set_aside``
        or ``kept``); see :class:`engagequal.Accounting`.
    details : dict of str to pyarrow.Table
        The per-family tables the main ones were built from (keys of
        :data:`PARTS`), e.g. ``layers_tie`` for one ego's circles.
    options : dict
        The options the report was computed with (for display).

    Notes
    -----
    ``Report`` exports ``users`` through the Arrow PyCapsule protocol, so
    ``pl.DataFrame(report)``, ``pandas.DataFrame.from_arrow(report)`` (pandas
    3) and DuckDB's ``FROM report`` read it without a copy; ``to_pandas`` and
    ``to_polars`` take the name of any table.

    Examples
    --------
    >>> import pyarrow as pa
    >>> r = Report(users=pa.table({"user": [1, 2], "score": [10.0, 80.0]}))
    >>> r.users.num_rows, r.threads.num_rows
    (2, 0)
    """

    users: pa.Table = field(default_factory=_empty)
    dyads: pa.Table = field(default_factory=_empty)
    threads: pa.Table = field(default_factory=_empty)
    layers: pa.Table = field(default_factory=_empty)
    summary: pa.Table = field(default_factory=_empty)
    dropped: pa.Table = field(default_factory=_empty)
    details: Mapping[str, pa.Table] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ building
    @classmethod
    def from_tables(cls, parts: Mapping[str, pa.Table], *,
                    options: Mapping[str, Any] | None = None) -> Report:
        """Assemble a report from per-family tables named as in :data:`PARTS`.

        Missing parts are simply absent from the report.  ``users`` joins the
        user-level tables on ``user``; ``summary`` gathers the headline
        figures; ``accounting`` becomes ``dropped``.

        >>> import engagequal as eq
        >>> ev = {"actor": [1, 2], "target": [2, 1], "ts": [0, 1]}
        >>> r = Report.from_tables({"reciprocity_user": eq.reciprocity(ev, level="user"),
        ...                         "reciprocity_global": eq.reciprocity(ev)})
        >>> r.users.column("connections").to_pylist(), r.summary.column("arc").to_pylist()
        ([1, 1], [1.0])
        """
        unknown = sorted(set(parts) - set(PARTS))
        if unknown:
            raise OptionError(f"unknown report parts {unknown}; expected names from {PARTS}")
        users = _join_users([
            ("", parts.get("reciprocity_user")),
            ("", parts.get("quality")),
            ("", parts.get("responsiveness_user")),
            ("tree_", parts.get("conversations_user")),
            ("layer_", _rename(parts.get("layers_ego"), {"ego": "user"})),
        ])
        return cls(
            users=users,
            dyads=parts.get("reciprocity_dyad", _empty()),
            threads=parts.get("conversations_thread", _empty()),
            layers=parts.get("layers_ego", _empty()),
            summary=_summary(parts, users),
            dropped=parts.get("accounting", _empty()),
            details=dict(parts),
            options=dict(options or {}),
        )

    @classmethod
    def from_parquet(cls, folder: str | os.PathLike[str]) -> Report:
        """Read a report written by :meth:`to_parquet` (or ``engagequal analyze``).

        Parameters
        ----------
        folder : path
            A folder holding ``users.parquet`` or ``summary.parquet`` (and
            any other table of the report).

        Returns
        -------
        Report

        Raises
        ------
        OptionError
            ``folder`` is not a folder of report tables.

        Examples
        --------
        >>> import tempfile
        >>> import engagequal as eq
        >>> r = eq.analyze({"actor": ["a", "b", "a"], "target": ["b", "a", "c"],
        ...                 "ts": [0, 60, 120], "kind": ["message", "reply", "like"]},
        ...                layer_method="rank")
        >>> folder = tempfile.mkdtemp()
        >>> _ = r.to_parquet(folder, overwrite=True)
        >>> Report.from_parquet(folder).users.equals(r.users)
        True
        """
        import pyarrow.parquet as pq

        base = Path(folder)
        if not base.is_dir():
            raise OptionError(f"{str(base)!r} is not a folder of report tables")
        found = {p.stem: p for p in base.glob("*.parquet")}
        if "users" not in found and "summary" not in found:
            raise OptionError(f"{str(base)!r} holds no users.parquet or summary.parquet; "
                              "write one with `engagequal analyze` or Report.to_parquet")
        main = {n: pq.read_table(found[n]) for n in MAIN if n in found}
        details = {n: pq.read_table(found[n]) for n in PARTS if n in found}
        return cls(**main, details=details)

    # ------------------------------------------------------------ access
    @property
    def tables(self) -> dict[str, pa.Table]:
        """The six main tables by name."""
        return {name: getattr(self, name) for name in MAIN}

    def table(self, name: str) -> pa.Table:
        """A main table (``users``, ``dyads``, ...) or a detail table by name.

        Parameters
        ----------
        name : str
            One of ``users``, ``dyads``, ``threads``, ``layers``, ``summary``,
            ``dropped``, or a key of ``details`` (e.g. ``layers_tie``).

        Returns
        -------
        pyarrow.Table

        Raises
        ------
        OptionError
            No table has that name.

        Examples
        --------
        >>> import engagequal as eq
        >>> r = eq.analyze({"actor": ["a", "b", "a"], "target": ["b", "a", "c"],
        ...                 "ts": [0, 60, 120], "kind": ["message", "reply", "like"]},
        ...                layer_method="rank")
        >>> r.table("dyads").column_names[:4]
        ['u', 'v', 'w_uv', 'w_vu']
        """
        if name in MAIN:
            t: pa.Table = getattr(self, name)
            return t
        if name in self.details:
            return self.details[name]
        raise OptionError(f"no table {name!r}; main tables are {MAIN}, "
                          f"details {sorted(self.details)}")

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The ``users`` table through the Arrow PyCapsule stream protocol."""
        return self.users.__arrow_c_stream__(requested_schema)

    def to_pandas(self, name: str = "users") -> Any:
        """One table as a pandas DataFrame (needs pandas).

        Parameters
        ----------
        name : str, default "users"
            The table (see :meth:`table`).

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> import engagequal as eq
        >>> r = eq.analyze({"actor": ["a", "b", "a"], "target": ["b", "a", "c"],
        ...                 "ts": [0, 60, 120], "kind": ["message", "reply", "like"]},
        ...                layer_method="rank")
        >>> r.to_pandas("dyads").shape
        (2, 10)
        """
        try:
            import pandas  # noqa: F401
        except ImportError as exc:  # pragma: no cover - pandas is in the test extra
            from engagequal.errors import MissingExtraError

            raise MissingExtraError("to_pandas needs pandas: pip install pandas") from exc
        return self.table(name).to_pandas()

    def to_polars(self, name: str = "users") -> Any:
        """One table as a polars DataFrame (needs polars).

        ``pl.DataFrame(report)`` gives the ``users`` table too (the report
        speaks the Arrow PyCapsule protocol); ``pl.from_arrow`` would not.

        Parameters
        ----------
        name : str, default "users"
            The table (see :meth:`table`).

        Returns
        -------
        polars.DataFrame

        Examples
        --------
        >>> import engagequal as eq
        >>> r = eq.analyze({"actor": ["a", "b", "a"], "target": ["b", "a", "c"],
        ...                 "ts": [0, 60, 120], "kind": ["message", "reply", "like"]},
        ...                layer_method="rank")
        >>> r.to_polars().height
        3
        """
        try:
            import polars as pl
        except ImportError as exc:  # pragma: no cover - polars is in the test extra
            from engagequal.errors import MissingExtraError

            raise MissingExtraError("to_polars needs polars: pip install polars") from exc
        return pl.DataFrame(self.table(name))

    def to_parquet(self, folder: str | os.PathLike[str], *, overwrite: bool = False,
                   details: bool = True) -> list[Path]:
        """Write every table to ``folder/<name>.parquet``; returns the paths.

        Parameters
        ----------
        folder : path
            Created if absent.
        overwrite : bool, default False
            Replace tables already in ``folder``.
        details : bool, default True
            Also write the per-family detail tables (``layers_tie``, ...).

        Returns
        -------
        list of pathlib.Path

        Raises
        ------
        OptionError
            ``folder`` already holds one of the tables and ``overwrite`` is False.

        Examples
        --------
        >>> import tempfile
        >>> import engagequal as eq
        >>> r = eq.analyze({"actor": ["a", "b", "a"], "target": ["b", "a", "c"],
        ...                 "ts": [0, 60, 120], "kind": ["message", "reply", "like"]},
        ...                layer_method="rank")
        >>> paths = r.to_parquet(tempfile.mkdtemp())
        >>> {"users", "dyads", "layers_tie"} <= {p.stem for p in paths}
        True
        """
        import pyarrow.parquet as pq

        out = Path(folder)
        todo = dict(self.tables)
        if details:  # the detail tables that are not already a main table
            main_ids = {id(t) for t in todo.values()}
            todo.update({k: v for k, v in self.details.items()
                         if k not in todo and id(v) not in main_ids})
        paths = [out / f"{name}.parquet" for name in todo]
        clash = [p.name for p in paths if p.exists()]
        if clash and not overwrite:
            raise OptionError(f"{str(out)!r} already holds {', '.join(clash[:3])}"
                              f"{' ...' if len(clash) > 3 else ''}; pass overwrite=True")
        out.mkdir(parents=True, exist_ok=True)
        for p, t in zip(paths, todo.values(), strict=True):
            pq.write_table(t, p)
        return paths

    def to_html(self, path: str | os.PathLike[str], *, overwrite: bool = True,
                title: str = "engagequal report") -> Path:
        """Write a self-contained HTML report (see :func:`engagequal.html.write_html`).

        The figures (matplotlib, extra ``plot``) are embedded as images, so
        the page needs no network access.

        Parameters
        ----------
        path : path
            The ``.html`` file to write.
        overwrite : bool, default True
            Replace an existing file.
        title : str
            The page title.

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> import os, tempfile
        >>> import engagequal as eq
        >>> r = eq.analyze({"actor": ["a", "b", "a"], "target": ["b", "a", "c"],
        ...                 "ts": [0, 60, 120], "kind": ["message", "reply", "like"]},
        ...                layer_method="rank")
        >>> out = r.to_html(os.path.join(tempfile.mkdtemp(), "report.html"))
        >>> out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        True
        """
        from engagequal.html import write_html

        out: Path = write_html(self, path, overwrite=overwrite, title=title)
        return out

    # ------------------------------------------------------------ one person
    def ego(self, user: Any, *, top: int = 10) -> Ego:
        """One person's view: their row, layers, top ties and conversations.

        Parameters
        ----------
        user : id
            An original user id.
        top : int, default 10
            How many ties and conversation partners to keep (strongest first).

        Returns
        -------
        Ego

        Raises
        ------
        KeyError
            ``user`` is not in the report.

        Examples
        --------
        >>> import engagequal as eq
        >>> r = eq.analyze({"actor": ["a", "b", "a"], "target": ["b", "a", "c"],
        ...                 "ts": [0, 60, 120], "kind": ["message", "reply", "like"]},
        ...                layer_method="rank")
        >>> e = r.ego("a")
        >>> e.row["connections"], e.ties.column("partner").to_pylist()
        (1, ['b', 'c'])
        """
        row = _rows_where(self.users, "user", user)
        if row.num_rows == 0:
            raise KeyError(f"user {user!r} is not in the report")
        ties = self.details.get("layers_tie")
        layer_ties = _rows_where(ties, "ego", user) if ties is not None else _empty()
        if layer_ties.num_rows:
            layer_ties = layer_ties.sort_by([("strength", "descending")])
        dy = self.dyads
        top_ties = _empty()
        if dy.num_rows and {"u", "v", "w_uv", "w_vu"} <= set(dy.column_names):
            top_ties = _partner_view(dy, user, ["w_uv", "w_vu"], ["n_uv", "n_vu"])
            top_ties = top_ties.sort_by([("weight", "descending")]).slice(0, top)
        cd = self.details.get("conversations_dyad")
        convs = _empty()
        if cd is not None and cd.num_rows:
            sel = pc.or_(pc.equal(cd.column("u"), pa.scalar(user, cd.schema.field("u").type)),
                         pc.equal(cd.column("v"), pa.scalar(user, cd.schema.field("v").type)))
            convs = cd.filter(sel)
            if convs.num_rows and "conversations" in convs.column_names:
                convs = convs.sort_by([("conversations", "descending")]).slice(0, top)
        return Ego(user=user, row=row.to_pylist()[0], layers=layer_ties, ties=top_ties,
                   conversations=convs)

    # ------------------------------------------------------------ display
    def headline(self) -> dict[str, Any]:
        """The summary row as a dict (empty when there is no summary).

        Examples
        --------
        >>> import engagequal as eq
        >>> r = eq.analyze({"actor": ["a", "b", "a"], "target": ["b", "a", "c"],
        ...                 "ts": [0, 60, 120], "kind": ["message", "reply", "like"]},
        ...                layer_method="rank")
        >>> h = r.headline()
        >>> h["events"], h["users"], h["arc"]
        (3, 3, 0.6666666666666666)
        """
        if self.summary.num_rows == 0:
            return {}
        out: dict[str, Any] = self.summary.to_pylist()[0]
        return out

    def __repr__(self) -> str:
        h = self.headline()
        lines = ["<engagequal.Report>"]
        if h:
            lines.append("  " + _accounting_line(h, self.threads.num_rows))
            lines.append("  " + ", ".join(f"{k}={_fmt(v)}" for k, v in list(h.items())[:12]))
        for name in MAIN:
            t = getattr(self, name)
            lines.append(f"  .{name:<8} {t.num_rows:>10,} rows x {t.num_columns} columns")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        h = self.headline()
        cards = "".join(
            f"<div style='display:inline-block;margin:4px 12px 4px 0'><div style='font-size:"
            f"1.3em;font-weight:600'>{_html.escape(_fmt(v))}</div><div style='color:#666;"
            f"font-size:0.85em'>{_html.escape(k)}</div></div>" for k, v in h.items()
            if k in _HEADLINE)
        sizes = "".join(
            f"<tr><td><code>.{n}</code></td><td style='text-align:right'>"
            f"{getattr(self, n).num_rows:,}</td><td style='text-align:right'>"
            f"{getattr(self, n).num_columns}</td></tr>" for n in MAIN)
        top = ""
        if self.users.num_rows and "score" in self.users.column_names:
            top = "<p><b>Top users by quality score</b></p>" + table_html(
                _top_users(self.users, 5))
        return (f"<div class='engagequal-report'><b>engagequal.Report</b><div>{cards}</div>"
                f"<table><tr><th>table</th><th>rows</th><th>columns</th></tr>{sizes}</table>"
                f"{top}</div>")


@dataclass(frozen=True, eq=False)
class Ego:
    """One person's view of a report (see :meth:`Report.ego`).

    Attributes
    ----------
    user : id
    row : dict
        The user's row of ``Report.users``.
    layers : pyarrow.Table
        The user's ties with their strength and layer (``layers_tie`` rows).
    ties : pyarrow.Table
        Top partners: ``partner``, ``weight`` (both directions), ``sent``,
        ``received``, ``n_sent``, ``n_received``, ``mutual``.
    conversations : pyarrow.Table
        The user's rows of ``conversations(level="dyad")``, most first.
    """

    user: Any
    row: dict[str, Any]
    layers: pa.Table
    ties: pa.Table
    conversations: pa.Table

    def __repr__(self) -> str:
        keys = ("score", "reciprocity", "connections", "contacts", "followers",
                "engaged_audience", "active_size")
        head = ", ".join(f"{k}={_fmt(self.row[k])}" for k in keys if k in self.row)
        return (f"<engagequal.Ego {self.user!r}: {head}; {self.ties.num_rows} top ties, "
                f"{self.layers.num_rows} layered ties, {self.conversations.num_rows} "
                "conversation partners>")

    def _repr_html_(self) -> str:
        return (f"<b>{_html.escape(str(self.user))}</b>" + table_html(pa.Table.from_pylist(
            [self.row])) + "<p>Top ties</p>" + table_html(self.ties))


# ---------------------------------------------------------------- helpers
_HEADLINE = ("events", "users", "arc", "pair_ratio", "weighted", "threads",
             "mean_max_depth", "conversation_threads", "median_score",
             "mean_layer_1", "mean_scaling_ratio", "followers", "engaged_audience",
             "rows_set_aside")


#: id and time columns: shown as they are, without thousands separators
_RAW = frozenset({"user", "u", "v", "ego", "alter", "partner", "thread", "first", "last",
                  "event_id", "root", "parent"})


def _accounting_line(h: dict[str, Any], n_threads: int) -> str:
    """``'114 rows in = 114 used + 0 set aside; 42 users, 31 connected pairs, 41 threads'``."""
    n_in = h.get("rows_in", h.get("events", 0)) or 0
    aside = h.get("rows_set_aside", 0) or 0
    parts = [f"{n_in:,} rows in = {n_in - aside:,} used + {aside:,} set aside"]
    sizes = [f"{h[k]:,} {label}" for k, label in (("users", "users"),
                                                  ("connected_pairs", "connected pairs"))
             if h.get(k) is not None]
    sizes.append(f"{n_threads:,} threads")
    return "; ".join([parts[0], ", ".join(sizes)])


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if not np.isfinite(v):
            return "n/a"
        return f"{v:,.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table_text(t: pa.Table, max_rows: int = 10) -> str:
    """The first ``max_rows`` rows as aligned plain text (numbers right-aligned).

    Examples
    --------
    >>> import pyarrow as pa
    >>> print(table_text(pa.table({"user": ["ann", "bob"], "score": [81.25, None]})))
    user   score
     ann  81.250
     bob     n/a
    """
    if t.num_columns == 0:
        return "(empty)"
    raw = {c for c in t.column_names if c in _RAW}
    rows = [[str(r[c]) if c in raw else _fmt(r[c]) for c in t.column_names]
            for r in t.slice(0, max_rows).to_pylist()]
    cols = list(zip(t.column_names, *rows, strict=True)) if rows else \
        [(c,) for c in t.column_names]
    widths = [max(len(x) for x in col) for col in cols]
    lines = [" ".join(x.rjust(w) for x, w in zip(line, widths, strict=True))
             for line in [t.column_names, *rows]]
    if t.num_rows > max_rows:
        lines.append(f"... {t.num_rows - max_rows:,} more rows")
    return "\n".join(lines)


def table_html(t: pa.Table, max_rows: int = 10) -> str:
    """A static HTML table of the first ``max_rows`` rows (escaped)."""
    if t.num_columns == 0:
        return "<p><i>(empty)</i></p>"
    head = "".join(f"<th>{_html.escape(c)}</th>" for c in t.column_names)
    raw = {c for c in t.column_names if c in _RAW}
    body = "".join(
        "<tr>" + "".join(f"<td>{_html.escape(str(r[c]) if c in raw else _fmt(r[c]))}</td>"
                         for c in t.column_names)
        + "</tr>" for r in t.slice(0, max_rows).to_pylist())
    more = (f"<p style='color:#666'>... {t.num_rows - max_rows:,} more rows</p>"
            if t.num_rows > max_rows else "")
    return f"<table class='eq-table'><tr>{head}</tr>{body}</table>{more}"


def _top_users(users: pa.Table, n: int) -> pa.Table:
    cols = [c for c in ("user", "score", "reciprocity", "conversation_share", "inner_circle",
                        "responsiveness", "connections", "contacts", "followers",
                        "engaged_audience") if c in users.column_names]
    return users.sort_by([("score", "descending")]).select(cols).slice(0, n)


def _rename(t: pa.Table | None, mapping: dict[str, str]) -> pa.Table | None:
    if t is None:
        return None
    return t.rename_columns([mapping.get(c, c) for c in t.column_names])


def _join_users(parts: list[tuple[str, pa.Table | None]]) -> pa.Table:
    base: pa.Table | None = None
    for prefix, t in parts:
        if t is None or "user" not in t.column_names:
            continue
        if base is None:
            base = t
            continue
        # columns equal in name to the base's: drop if identical by definition,
        # else keep under a prefix
        names = []
        for c in t.column_names:
            if c == "user":
                names.append(c)
            elif c in base.column_names:
                names.append(None if c in ("connections", "contacts") else prefix + c)
            else:
                names.append(c)
        keep = [i for i, n in enumerate(names) if n is not None]
        t = t.select(keep).rename_columns([names[i] for i in keep])
        key_type = base.schema.field("user").type
        if t.schema.field("user").type != key_type:
            t = t.set_column(t.column_names.index("user"), "user",
                             t.column("user").cast(key_type))
        # a left join that keeps the base's rows in place: each base user's row of
        # ``t`` by one hash lookup, null where ``t`` has none
        at = pc.index_in(base.column("user"), value_set=t.column("user"))
        rows = t.drop_columns(["user"]).take(at)
        for f, col in zip(rows.schema, rows.columns, strict=True):
            base = base.append_column(f, col)
    if base is None:
        return _empty()
    return base if _ascending(base.column("user")) else base.sort_by([("user", "ascending")])


def _ascending(keys: pa.ChunkedArray) -> bool:
    """Whether ``keys`` are strictly increasing (user tables come in id order)."""
    if len(keys) < 2:
        return True
    flat = keys.combine_chunks()
    return bool(pc.all(pc.less(flat.slice(0, len(flat) - 1), flat.slice(1))).as_py())


def _summary(parts: Mapping[str, pa.Table], users: pa.Table) -> pa.Table:
    cols: dict[str, Any] = {}
    acc = parts.get("accounting")
    if acc is not None and acc.num_rows:
        acts = acc.column("action").to_pylist()
        rows = acc.column("rows").to_pylist()
        cols["rows_set_aside"] = int(sum(r for a, r in zip(acts, rows, strict=True)
                                         if a == "set_aside"))
    g = parts.get("reciprocity_global")
    if g is not None and g.num_rows:
        cols.update(g.to_pylist()[0])
    th = parts.get("conversations_thread")
    if th is not None and th.num_rows:
        cols["threads"] = th.num_rows
        cols["mean_thread_size"] = pc.mean(th.column("size")).as_py()
        cols["mean_max_depth"] = pc.mean(th.column("max_depth")).as_py()
        cols["max_depth"] = pc.max(th.column("max_depth")).as_py()
        if "conversations" in th.column_names:
            cols["conversation_threads"] = int(pc.sum(pc.greater(th.column("conversations"),
                                                                 0)).as_py() or 0)
    lg = parts.get("layers_global")
    if lg is not None and lg.num_rows:
        cols.update({k: v for k, v in lg.to_pylist()[0].items() if k.startswith("mean_")
                     or k in ("egos", "chance_share")})
    q = parts.get("quality")
    if q is not None and q.num_rows:
        s = q.column("score")
        qs = pc.quantile(s, q=[0.25, 0.5, 0.75]).to_pylist()
        cols["score_q1"], cols["median_score"], cols["score_q3"] = qs
        cols["mean_score"] = pc.mean(s).as_py()
        cols["followers"] = int(pc.sum(q.column("followers")).as_py() or 0)
        cols["engaged_audience"] = int(pc.sum(q.column("engaged_audience")).as_py() or 0)
    if users.num_rows:
        cols.setdefault("users", users.num_rows)
    if not cols:
        return _empty()
    return pa.Table.from_pylist([cols])


def _rows_where(t: pa.Table | None, col: str, value: Any) -> pa.Table:
    if t is None or t.num_rows == 0 or col not in t.column_names:
        return _empty()
    typ = t.schema.field(col).type
    try:
        scalar = pa.scalar(value, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return t.slice(0, 0)
    return t.filter(pc.equal(t.column(col), scalar))


def _partner_view(dy: pa.Table, user: Any, wcols: list[str], ncols: list[str]) -> pa.Table:
    """Rows of the pair table involving ``user``, seen from ``user``."""
    a = _rows_where(dy, "u", user)
    b = _rows_where(dy, "v", user)
    mutual_a = a.column("mutual") if "mutual" in a.column_names else pa.nulls(a.num_rows)
    mutual_b = b.column("mutual") if "mutual" in b.column_names else pa.nulls(b.num_rows)
    sa = pa.table({"partner": a.column("v"), "sent": a.column(wcols[0]),
                   "received": a.column(wcols[1]), "n_sent": a.column(ncols[0]),
                   "n_received": a.column(ncols[1]), "mutual": mutual_a})
    sb = pa.table({"partner": b.column("u"), "sent": b.column(wcols[1]),
                   "received": b.column(wcols[0]), "n_sent": b.column(ncols[1]),
                   "n_received": b.column(ncols[0]), "mutual": mutual_b})
    t = pa.concat_tables([sa, sb.cast(sa.schema)])
    return t.append_column("weight", pc.add(t.column("sent"), t.column("received")))
