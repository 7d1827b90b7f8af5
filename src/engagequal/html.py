"""A self-contained HTML report: one file, figures embedded, no network.

The page has no scripts and no external resources: styles are inline and the
figures are PNG images embedded as base64 ``data:`` URIs, so it opens offline,
attaches to an e-mail and archives as it is.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from engagequal.errors import OptionError
from engagequal.report import Report, _fmt, table_html

__all__ = ["render_html", "write_html"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1180px;color:#222;background:#fff;padding:0 16px}
h1{font-size:1.6em;margin-bottom:0}h2{font-size:1.2em;margin-top:1.8em;
border-bottom:1px solid #ddd;padding-bottom:4px}.sub{color:#666;margin-top:4px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{background:#f4f6fa;border-radius:6px;padding:10px 14px;min-width:120px}
.card .v{font-size:1.35em;font-weight:600}.card .k{font-size:.8em;color:#555}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:12px}
.figs img{width:100%;border:1px solid #eee;border-radius:4px}
table.eq-table{border-collapse:collapse;font-size:.82em;margin:8px 0;display:block;
overflow-x:auto}table.eq-table th,table.eq-table td{border:1px solid #e3e3e3;
padding:3px 7px;text-align:right;white-space:nowrap}table.eq-table th{background:#f4f6fa}
.note{color:#666;font-size:.85em}
"""

_CARDS = (("events", "events"), ("users", "users"), ("arc", "arc reciprocity"),
          ("pair_ratio", "pairs that are mutual"), ("weighted", "weighted reciprocity"),
          ("median_score", "median quality score"), ("followers", "followers (total)"),
          ("engaged_audience", "engaged audience (total)"), ("threads", "threads"),
          ("mean_max_depth", "mean thread depth"), ("conversation_threads",
                                                    "threads with a conversation"),
          ("mean_layer_1", "mean innermost layer"), ("mean_scaling_ratio",
                                                     "mean layer scaling ratio"),
          ("rows_set_aside", "rows set aside"))


def _figure_png(draw: Callable[[Any], Any], size: tuple[float, float] = (6.4, 4.0)) -> str:
    """Draw on a fresh matplotlib Figure (no pyplot state) and return base64 PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.subplots()
    draw(ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figures(report: Report) -> list[tuple[str, str]]:
    """(caption, base64 png) for every plot that has data; [] without matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    from engagequal import plot

    out: list[tuple[str, str]] = []
    todo: list[tuple[str, Callable[[Any], Any]]] = []
    if report.users.num_rows:
        if "score" in report.users.column_names:
            todo.append(("Quality is not quantity: the score against the follower count",
                         lambda ax: plot.quality_vs_followers(report, ax=ax)))
        if "node_reciprocity" in report.users.column_names:
            todo.append(("Reciprocity per user",
                         lambda ax: plot.reciprocity_distribution(report, ax=ax)))
    if report.layers.num_rows:
        todo.append(("Dunbar layer sizes per ego", lambda ax: plot.layer_sizes(report, ax=ax)))
        ego = _busiest_ego(report)
        if ego is not None:
            todo.append((f"The circles of user {ego!r}",
                         lambda ax: plot.ego_circles(report, ego, ax=ax)))
    if report.threads.num_rows:
        todo.append(("Thread depth", lambda ax: plot.depth_distribution(report, ax=ax)))
        todo.append(("Back-and-forth exchanges", lambda ax: plot.exchange_lengths(report, ax=ax)))
    for caption, draw in todo:
        out.append((caption, _figure_png(draw)))
    return out


def _busiest_ego(report: Report) -> Any:
    """The report's owner when they have layers, else the ego with the largest network."""
    t = report.layers
    if "active_size" not in t.column_names or t.num_rows == 0:
        return None
    ties = report.details.get("layers_tie")
    if ties is None or ties.num_rows == 0:
        return None
    owner = report.options.get("owner")
    if owner is not None and owner in set(t.column("ego").to_pylist()):
        return owner
    best = t.sort_by([("active_size", "descending")]).slice(0, 1)
    return best.column("ego")[0].as_py()


def _top(t: pa.Table, key: str | None, n: int, cols: list[str] | None = None) -> pa.Table:
    if t.num_columns == 0 or t.num_rows == 0:
        return t
    if key is not None and key in t.column_names:
        t = t.sort_by([(key, "descending")])
    if cols:
        t = t.select([c for c in cols if c in t.column_names])
    return t.slice(0, n)


def render_html(report: Report, *, title: str = "engagequal report") -> str:
    """The report as one HTML string (see :func:`write_html`)."""
    h = report.headline()
    cards = "".join(
        f"<div class='card'><div class='v'>{html.escape(_fmt(h[k]))}</div>"
        f"<div class='k'>{html.escape(label)}</div></div>"
        for k, label in _CARDS if k in h)
    figs = _figures(report)
    fig_html = ("<div class='figs'>" + "".join(
        f"<figure><img alt='{html.escape(c)}' src='data:image/png;base64,{b}'>"
        f"<figcaption class='note'>{html.escape(c)}</figcaption></figure>" for c, b in figs)
        + "</div>") if figs else (
        "<p class='note'>Figures need matplotlib: pip install 'engagequal[plot]'.</p>")
    users = report.users
    user_cols = ["user", "score", "reciprocity", "conversation_share", "inner_circle",
                 "responsiveness", "steadiness", "substance", "diversity", "connections",
                 "contacts", "followers", "engaged_audience"]
    dyads = report.dyads
    if dyads.num_rows and {"w_uv", "w_vu"} <= set(dyads.column_names):
        dyads = dyads.append_column("weight", pc.add(dyads.column("w_uv"),
                                                     dyads.column("w_vu")))
    sections = [
        ("Top users by quality score", _top(users, "score", 15, user_cols)),
        ("Top users by followers: compare their scores",
         _top(users, "followers", 10, user_cols) if "followers" in users.column_names
         and pc.max(users.column("followers")).as_py() else pa.table({})),
        ("Strongest ties", _top(dyads, "weight", 15)),
        ("Deepest threads", _top(report.threads, "max_depth", 10)),
        ("Dunbar layers (egos with the largest active network)",
         _top(report.layers, "active_size", 10)),
        ("Summary", _transpose(report.summary)),
        ("Rows set aside or worth knowing about", report.dropped),
    ]
    body = "".join(f"<h2>{html.escape(name)}</h2>{table_html(t, 15)}" for name, t in sections
                   if t.num_columns)
    opts = ", ".join(f"{k}={v!r}" for k, v in report.options.items() if v is not None)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='sub'>The quality of a social network, "
        f"not its size. Generated {stamp}.</p>"
        f"<div class='cards'>{cards}</div><h2>Figures</h2>{fig_html}{body}"
        f"<p class='note'>Options: {html.escape(opts)}</p></body></html>")


def _transpose(t: pa.Table) -> pa.Table:
    if t.num_rows == 0:
        return t
    row = t.to_pylist()[0]
    return pa.table({"figure": list(row), "value": [_fmt(v) for v in row.values()]})


def write_html(report: Report, path: str | os.PathLike[str], *, overwrite: bool = True,
               title: str = "engagequal report") -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8); returns the path.

    Raises ``OptionError`` when the file exists and ``overwrite`` is False.
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise OptionError(f"{str(p)!r} exists; pass overwrite=True to replace it")
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(report, title=title), encoding="utf-8")
    return p
