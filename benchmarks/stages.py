"""What each benchmark stage computes, for engagequal and for each peer tool.

Every function takes the path of a synthetic Parquet folder (written by
:func:`engagequal.synth.population`) and returns named ``pyarrow.Table``s; the
runner checks that a peer's tables equal engagequal's before its time counts.
Reading the file is part of every stage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks import peers_sql as sql

Result = dict[str, pa.Table]
StageFn = Callable[[str], Result]

TREE = {"event_id": "event_id", "parent": "parent", "thread": "thread"}
YEAR_S = 365.25 * 86_400.0

#: stage -> (description, the issue target printed beside it)
STAGES: dict[str, tuple[str, str]] = {
    "floor_read": ("read actor, target, ts, kind once (pyarrow)", ""),
    "floor_sort": ("argsort one int64 key of n entries (numpy)", ""),
    "ingest": ("read_events: validate, encode ids and kinds", ""),
    "ingest_tree": ("read_events with event_id / parent / thread", ""),
    "dyads": ("per-pair table (reciprocity level=dyad)", ""),
    "reciprocity_global": ("arc, pair ratio, rho, weighted", ""),
    "reciprocity_user": ("per-user reciprocity table", ""),
    "reciprocity": ("dyad + global + user tables from one read",
                    "issue 2: <= 1.0x duckdb, <= 120 B/event (any row order)"),
    "responsiveness": ("per-user response rate and time", ""),
    "depth": ("per-event depth and per-thread max depth",
              "issue 4: <= 1.0x duckdb (recursive CTE)"),
    "conversations": ("thread, event, dyad and user conversation tables",
                      "issue 4: <= 2.0x duckdb depth, <= 150 B/event"),
    "layers_rank": ("rank layers of every ego (tie table)",
                    "issue 5: < 1.0x duckdb (ROW_NUMBER ranking)"),
    "layers_frequency": ("frequency layers of every ego (tie table)",
                         "issue 5: < 1.0x duckdb rank ranking"),
    "layers_natural": ("natural (Ckmeans) layers of every ego (tie table)",
                       "issue 5: <= 5.0x duckdb rank ranking"),
    "analyze_core": ("analyze(reciprocity, conversations, rank layers)",
                     "issue 6: <= 0.75x duckdb fused script, <= 150 B/event"),
    "analyze_full": ("analyze(path): everything, natural layers, scores",
                     "issue 6: <= 1.5x duckdb fused script, <= 150 B/event"),
    "stream": ("analyze_stream over the Parquet parts",
               "issue 7 (beside the in-memory run): <= 1.3x in-memory"),
}

#: stage whose peer time a stage is compared with, when it is not itself
REFERENCE = {"conversations": "depth", "layers_frequency": "layers_rank",
             "layers_natural": "layers_rank", "analyze_full": "analyze_core"}

#: issue 7 at a streaming-only size (``--stream-sizes``): peak bytes and events per second
STREAM_ONLY_TARGET = ("issue 7 (streaming only): < 6 GiB peak, >= 2.5M events/s",
                      6 * 2**30, 2.5e6)

#: the numeric bound of each target: stage -> (peer, max ratio, max bytes/event)
TARGETS: dict[str, tuple[str, float | None, float | None]] = {
    "reciprocity": ("duckdb", 1.0, 120.0),
    "depth": ("duckdb", 1.0, None),
    "conversations": ("duckdb", 2.0, 150.0),
    "layers_rank": ("duckdb", 1.0, None),
    "layers_frequency": ("duckdb", 1.0, None),
    "layers_natural": ("duckdb", 5.0, None),
    "analyze_core": ("duckdb", 0.75, 150.0),
    "analyze_full": ("duckdb", 1.5, 150.0),
    "stream": ("engagequal:analyze_full", 1.3, None),
}


def glob(path: str) -> str:
    """The Parquet files of a folder (or the file itself) as a glob."""
    return path if path.endswith(".parquet") else f"{path}/*.parquet"


# --------------------------------------------------------------------------- engagequal
def _eq() -> Any:
    import engagequal as eq

    return eq


def eq_available(stage: str) -> bool:
    """Whether engagequal has the function a stage needs (others land later)."""
    eq = _eq()
    need = {"depth": "conversations", "conversations": "conversations",
            "layers_rank": "dunbar_layers", "layers_frequency": "dunbar_layers",
            "layers_natural": "dunbar_layers", "analyze_core": "analyze",
            "analyze_full": "analyze", "stream": "analyze_stream",
            "responsiveness": "responsiveness"}.get(stage)
    return need is None or hasattr(eq, need)


def eq_floor_read(path: str) -> Result:
    import pyarrow.dataset as ds

    t = ds.dataset(path, format="parquet").to_table(columns=["actor", "target", "ts", "kind"])
    return {"summary": pa.table({"events": [t.num_rows]})}


def eq_floor_sort_prepare(path: str) -> Any:
    import pyarrow.dataset as ds

    a = ds.dataset(path, format="parquet").to_table(columns=["actor"])["actor"]
    return np.ascontiguousarray(a.to_numpy())


def eq_floor_sort(key: Any) -> Result:
    order = np.argsort(key)
    return {"summary": pa.table({"events": [int(order.size)]})}


def eq_ingest(path: str) -> Result:
    ev = _eq().read_events(path)
    return {"summary": pa.table({"events": [ev.n_events], "users": [ev.n_users]})}


def eq_ingest_tree(path: str) -> Result:
    ev = _eq().read_events(path, **TREE)
    return {"summary": pa.table({"events": [ev.n_events], "users": [ev.n_users]})}


def eq_dyads(path: str) -> Result:
    return {"dyad": _eq().reciprocity(path, level="dyad")}


def eq_reciprocity_global(path: str) -> Result:
    return {"global": _eq().reciprocity(path, level="global")}


def eq_reciprocity_user(path: str) -> Result:
    return {"user": _eq().reciprocity(path, level="user")}


def eq_reciprocity(path: str) -> Result:
    return _eq().reciprocity_tables(path)


def eq_responsiveness(path: str) -> Result:
    return {"user": _eq().responsiveness(path)}


def eq_depth(path: str) -> Result:
    eq = _eq()
    ev = eq.read_events(path, **TREE)
    event = pa.table({"event_id": ev.tree.event_ids, "depth": pa.array(ev.tree.depth)})
    thread = eq.conversations(ev, level="thread", columns=["max_depth"])
    return {"event": event, "thread": thread}


def eq_conversations(path: str) -> Result:
    eq = _eq()
    ev = eq.read_events(path, **TREE)
    from engagequal.metrics import conversations as conv

    if hasattr(conv, "conversation_tables"):
        tables: Result = conv.conversation_tables(ev)
    else:
        tables = {lv: eq.conversations(ev, level=lv)
                  for lv in ("thread", "event", "dyad", "user")}
    return {"event": tables["event"].select(["event_id", "depth"]),
            "thread": tables["thread"].select(["thread", "max_depth"])}


def _eq_layers(method: str) -> StageFn:
    def run(path: str) -> Result:
        return {"tie": _eq().dunbar_layers(path, method=method, level="tie")}
    return run


def eq_analyze_core(path: str) -> Result:
    rep = _eq().analyze(path, metrics=("reciprocity", "conversations", "layers"),
                        layer_method="rank", **TREE)
    return report_tables(rep)


def eq_analyze_full(path: str) -> Result:
    return report_tables(_eq().analyze(path, **TREE))


#: Report attribute -> the name of the peers' table holding the same figures
REPORT_NAMES = {"users": "user", "dyads": "dyad", "threads": "thread", "layers": "ego_layers",
                "summary": "global"}


def report_tables(rep: Any) -> Result:
    """The parts of a Report the fused peer script also computes (when present)."""
    out: Result = {}
    for attr, name in REPORT_NAMES.items():
        t = getattr(rep, attr, None)
        if isinstance(t, pa.Table):
            out[name] = t
    return out


def eq_stream(path: str) -> Result:
    res = _eq().analyze_stream(path, progress=False, whole_threads=True, **TREE)
    if not isinstance(res, dict):  # a Report
        return report_tables(res)
    out: Result = {}
    if "reciprocity_global" in res:
        out["global"] = res["reciprocity_global"]
    if "conversations_thread" in res:
        out["thread"] = res["conversations_thread"].select(["thread", "max_depth"])
    return out


ENGAGEQUAL: dict[str, StageFn] = {
    "floor_read": eq_floor_read,
    "ingest": eq_ingest,
    "ingest_tree": eq_ingest_tree,
    "dyads": eq_dyads,
    "reciprocity_global": eq_reciprocity_global,
    "reciprocity_user": eq_reciprocity_user,
    "reciprocity": eq_reciprocity,
    "responsiveness": eq_responsiveness,
    "depth": eq_depth,
    "conversations": eq_conversations,
    "layers_rank": _eq_layers("rank"),
    "layers_frequency": _eq_layers("frequency"),
    "layers_natural": _eq_layers("natural"),
    "analyze_core": eq_analyze_core,
    "analyze_full": eq_analyze_full,
    "stream": eq_stream,
}


# --------------------------------------------------------------------------- duckdb
def _duck() -> Any:
    import duckdb

    return duckdb.connect()


def _fetch(con: Any, query: str) -> pa.Table:
    res = con.execute(query)
    for name in ("to_arrow_table", "fetch_arrow_table", "arrow"):  # across duckdb versions
        if hasattr(res, name):
            t = getattr(res, name)()
            return t.read_all() if hasattr(t, "read_all") else t
    raise RuntimeError("this duckdb cannot return Arrow tables")


def duck_ingest(path: str) -> Result:
    con = _duck()
    con.execute(sql.load_events(glob(path)))
    return {"summary": _fetch(con, "SELECT (SELECT count(*) FROM e) AS events, "
                                   "(SELECT count(*) FROM users) AS users")}


def _duck_recip(path: str, which: tuple[str, ...]) -> Result:
    con = _duck()
    con.execute(sql.load_events(glob(path)))
    con.execute(sql.DYADS + sql.PAIRS)
    out: Result = {}
    if "dyad" in which:
        out["dyad"] = _fetch(con, sql.PAIR_TABLE)
    if "global" in which:
        out["global"] = _fetch(con, sql.GLOBAL)
    if "user" in which:
        out["user"] = _fetch(con, sql.USER)
    return out


def duck_depth(path: str) -> Result:
    con = _duck()
    con.execute(sql.load_tree(glob(path)))
    con.execute(sql.DEPTH)
    return {"event": _fetch(con, "SELECT event_id, depth FROM dep"),
            "thread": _fetch(con, sql.THREAD_MAX_DEPTH)}


def _duck_layers(method: str) -> StageFn:
    def run(path: str) -> Result:
        con = _duck()
        con.execute(sql.load_events(glob(path)))
        con.execute(sql.DYADS)
        return {"tie": _fetch(con, sql.layers(method))}
    return run


def duck_fused(path: str) -> Result:
    """The issue-6 fused script: one read, dyads once, every table derived."""
    con = _duck()
    con.execute(sql.load_all(glob(path)))
    con.execute(sql.DYADS + sql.PAIRS)
    con.execute(sql.DEPTH)
    return {"dyad": _fetch(con, sql.PAIR_TABLE), "global": _fetch(con, sql.GLOBAL),
            "user": _fetch(con, sql.USER), "event": _fetch(con, "SELECT event_id, depth FROM dep"),
            "thread": _fetch(con, sql.THREAD_MAX_DEPTH),
            "ego_layers": _fetch(con, sql.ego_layers("rank"))}


DUCKDB: dict[str, StageFn] = {
    "ingest": duck_ingest,
    "dyads": lambda p: _duck_recip(p, ("dyad",)),
    "reciprocity_global": lambda p: _duck_recip(p, ("global",)),
    "reciprocity_user": lambda p: _duck_recip(p, ("user",)),
    "reciprocity": lambda p: _duck_recip(p, ("dyad", "global", "user")),
    "depth": duck_depth,
    "layers_rank": _duck_layers("rank"),
    "layers_frequency": _duck_layers("frequency"),
    "analyze_core": duck_fused,
}


# --------------------------------------------------------------------------- polars
def _pl_weight() -> Any:
    import polars as pl

    from engagequal.ingest.schema import DEFAULT_KIND_WEIGHTS

    return pl.col("kind").replace_strict(dict(DEFAULT_KIND_WEIGHTS), return_dtype=pl.Float64)


def _pl_events(path: str) -> Any:
    import polars as pl

    return (pl.scan_parquet(glob(path)).select(["actor", "target", "ts", "kind"])
            .with_columns(w=_pl_weight()).collect())


def _pl_dyads(e: Any) -> Any:
    import polars as pl

    return (e.lazy().filter(pl.col("actor") != pl.col("target"))
            .group_by(["actor", "target"])
            .agg(w=pl.col("w").sum(), n=pl.len(), first=pl.col("ts").min(),
                 last=pl.col("ts").max())
            .rename({"actor": "u", "target": "v"}))


def _pl_pairs(d: Any) -> Any:
    import polars as pl

    lo = pl.col("u") < pl.col("v")
    return (d.with_columns(a=pl.min_horizontal("u", "v"), b=pl.max_horizontal("u", "v"))
            .group_by(["a", "b"])
            .agg(w_uv=pl.when(lo).then(pl.col("w")).otherwise(0.0).sum(),
                 w_vu=pl.when(~lo).then(pl.col("w")).otherwise(0.0).sum(),
                 n_uv=pl.when(lo).then(pl.col("n")).otherwise(0).sum(),
                 n_vu=pl.when(~lo).then(pl.col("n")).otherwise(0).sum(),
                 first=pl.col("first").min(), last=pl.col("last").max())
            .rename({"a": "u", "b": "v"})
            .with_columns(mutual=(pl.col("w_uv") > 0) & (pl.col("w_vu") > 0)))


def _pl_user(e: Any, p: Any) -> Any:
    import polars as pl

    m = pl.col("mutual").cast(pl.Int64)
    ends = pl.concat([
        p.select(user=pl.col("u"), o=(pl.col("w_uv") > 0).cast(pl.Int64),
                 i=(pl.col("w_vu") > 0).cast(pl.Int64), m=m, so=pl.col("w_uv"),
                 si=pl.col("w_vu"), sr=pl.min_horizontal("w_uv", "w_vu")),
        p.select(user=pl.col("v"), o=(pl.col("w_vu") > 0).cast(pl.Int64),
                 i=(pl.col("w_uv") > 0).cast(pl.Int64), m=m, so=pl.col("w_vu"),
                 si=pl.col("w_uv"), sr=pl.min_horizontal("w_uv", "w_vu")),
    ]).group_by("user").agg(pl.all().sum())
    users = pl.concat([e.lazy().select(user=pl.col("actor")),
                       e.lazy().select(user=pl.col("target"))]).unique()
    o, i, mm = pl.col("o"), pl.col("i"), pl.col("m")
    return (users.join(ends, on="user", how="left").fill_null(0)
            .select("user",
                    node_reciprocity=pl.when(o + i > 0).then(2 * mm / (o + i)),
                    out_share=pl.when(o > 0).then(mm / o),
                    connections=mm, contacts=o - mm, audience=i - mm,
                    out_strength=pl.col("so").cast(pl.Float64),
                    in_strength=pl.col("si").cast(pl.Float64),
                    reciprocated_strength=pl.col("sr").cast(pl.Float64)))


def _pl_global(e: Any, d: Any, p: Any) -> Any:
    import polars as pl

    users = pl.concat([e.lazy().select(x=pl.col("actor")),
                       e.lazy().select(x=pl.col("target"))]).unique().select(pl.len())
    ties = d.filter(pl.col("w") > 0).select(pl.len())
    s = p.select(mutual_pairs=pl.col("mutual").sum().cast(pl.Int64),
                 num=pl.min_horizontal("w_uv", "w_vu").sum() * 2,
                 den=(pl.col("w_uv") + pl.col("w_vu")).sum())
    n, L = users.collect().item(), ties.collect().item()
    row = s.collect().row(0, named=True)
    mp = row["mutual_pairs"]
    arc = 2 * mp / L if L else None
    a = L / (n * (n - 1)) if n > 1 else 0.0
    return pl.DataFrame({
        "arc": [arc], "pair_ratio": [mp / (L - mp) if L - mp else None],
        "rho": [None if arc is None or a >= 1 else (arc - a) / (1 - a)],
        "weighted": [row["num"] / row["den"] if row["den"] else None],
        "users": [n], "ties": [L], "mutual_pairs": [mp]})


def _polars_recip(path: str, which: tuple[str, ...]) -> Result:
    e = _pl_events(path)
    d = _pl_dyads(e).collect().lazy()
    p = _pl_pairs(d).collect().lazy()
    out: Result = {}
    if "dyad" in which:
        out["dyad"] = p.collect().to_arrow()
    if "global" in which:
        out["global"] = _pl_global(e, d, p).to_arrow()
    if "user" in which:
        out["user"] = _pl_user(e, p).collect().to_arrow()
    return out


def _pl_depth(path: str) -> tuple[Any, Any]:
    import polars as pl

    t = pl.read_parquet(glob(path), columns=["event_id", "parent", "thread"])
    frontier = t.filter(pl.col("parent").is_null()).select("event_id", depth=pl.lit(0, pl.Int32))
    rest = t.filter(pl.col("parent").is_not_null()).select("event_id", "parent")
    levels = [frontier]
    while frontier.height:  # one join per depth level
        frontier = rest.join(frontier.rename({"event_id": "parent"}), on="parent").select(
            "event_id", depth=pl.col("depth") + 1)
        levels.append(frontier)
    dep = pl.concat(levels)
    thread = (t.select("event_id", "thread").join(dep, on="event_id")
              .group_by("thread").agg(max_depth=pl.col("depth").max()))
    return dep, thread


def polars_depth(path: str) -> Result:
    dep, thread = _pl_depth(path)
    return {"event": dep.to_arrow(), "thread": thread.to_arrow()}


def _pl_layers(method: str) -> StageFn:
    def run(path: str) -> Result:
        import polars as pl

        from engagequal.metrics import layers as lay

        e = _pl_events(path)
        span = e.select((pl.col("ts").max() - pl.col("ts").min()).cast(pl.Float64)).item()
        years = max(span, 86_400.0) / YEAR_S
        d = _pl_dyads(e).filter(pl.col("w") > 0).select("u", "v", "w").collect()
        t = (d.join(d.select(u=pl.col("v"), v=pl.col("u"), back=pl.lit(True)),
                    on=["u", "v"], how="left")
             .with_columns(strength=pl.col("w") / years)
             .with_columns(active=(pl.col("strength") >= 1.0) & pl.col("back").fill_null(False)))
        if method == "rank":
            sizes = list(lay.DEFAULT_SIZES)
            t = t.sort(["u", "strength", "v"], descending=[False, True, False]).with_columns(
                rk=pl.int_range(1, pl.len() + 1).over(["u", "active"]))
            expr = pl.when(~pl.col("active")).then(None)
            for k, s in enumerate(sizes, 1):
                expr = expr.when(pl.col("rk") <= s).then(k)
        else:
            expr = pl.when(~pl.col("active")).then(None)
            for k, th in enumerate(lay.DEFAULT_THRESHOLDS, 1):
                expr = expr.when(pl.col("strength") >= th).then(k)
        t = t.select(ego=pl.col("u"), alter=pl.col("v"), strength=pl.col("strength"),
                     layer=expr.otherwise(None).cast(pl.Int64), active=pl.col("active"))
        return {"tie": t.to_arrow()}
    return run


def polars_fused(path: str) -> Result:
    import polars as pl

    out = _polars_recip(path, ("dyad", "global", "user"))
    dep, thread = _pl_depth(path)
    tie = pl.from_arrow(_pl_layers("rank")(path)["tie"])
    cols = [pl.col("active").sum().cast(pl.Int64).alias("active_size")]
    cols += [(pl.col("layer") <= k).sum().cast(pl.Int64).alias(f"layer_{k}")
             for k in range(1, len(sql.DEFAULT_SIZES) + 1)]
    out.update(event=dep.to_arrow(), thread=thread.to_arrow(),
               ego_layers=tie.group_by("ego").agg(cols).to_arrow())
    return out


POLARS: dict[str, StageFn] = {
    "ingest": lambda p: {"summary": _pl_ingest(p)},
    "dyads": lambda p: _polars_recip(p, ("dyad",)),
    "reciprocity_global": lambda p: _polars_recip(p, ("global",)),
    "reciprocity_user": lambda p: _polars_recip(p, ("user",)),
    "reciprocity": lambda p: _polars_recip(p, ("dyad", "global", "user")),
    "depth": polars_depth,
    "layers_rank": _pl_layers("rank"),
    "layers_frequency": _pl_layers("frequency"),
    "analyze_core": polars_fused,
}


def _pl_ingest(path: str) -> pa.Table:
    import polars as pl

    e = pl.read_parquet(glob(path), columns=["actor", "target", "ts", "kind"])
    users = pl.concat([e["actor"], e["target"]]).unique().len()
    return pa.table({"events": [e.height], "users": [users]})


# --------------------------------------------------------------------------- networkx
def _nx_graph(path: str) -> Any:
    import networkx as nx
    import pyarrow.dataset as ds

    from engagequal.ingest.schema import DEFAULT_KIND_WEIGHTS

    t = ds.dataset(path, format="parquet").to_table(columns=["actor", "target", "kind"])
    g = nx.DiGraph()
    users = set(t["actor"].to_pylist()) | set(t["target"].to_pylist())
    w = dict(DEFAULT_KIND_WEIGHTS)
    for a, b, k in zip(t["actor"].to_pylist(), t["target"].to_pylist(), t["kind"].to_pylist()):
        if a != b and w[k] > 0:
            g.add_edge(a, b)
    return g, users


def nx_global(path: str) -> Result:
    import networkx as nx

    g, users = _nx_graph(path)
    return {"global": pa.table({"arc": [nx.overall_reciprocity(g)], "users": [len(users)],
                                "ties": [g.number_of_edges()]})}


def nx_user(path: str) -> Result:
    import networkx as nx

    g, _ = _nx_graph(path)
    r = nx.reciprocity(g, list(g.nodes))
    return {"user": pa.table({"user": pa.array(list(r), pa.int64()),
                              "node_reciprocity": pa.array(list(r.values()), pa.float64())})}


def nx_depth(path: str) -> Result:
    import networkx as nx
    import pyarrow.dataset as ds

    t = ds.dataset(path, format="parquet").to_table(columns=["event_id", "parent", "thread"])
    g = nx.DiGraph()
    eid, par = t["event_id"].to_pylist(), t["parent"].to_pylist()
    g.add_nodes_from(eid)
    g.add_edges_from((-1, e) if p is None else (p, e) for e, p in zip(eid, par))
    dist = nx.single_source_shortest_path_length(g, -1)
    depth = [dist[e] - 1 for e in eid]
    thr: dict[int, int] = {}
    for th, d in zip(t["thread"].to_pylist(), depth):
        thr[th] = max(thr.get(th, 0), d)
    return {"event": pa.table({"event_id": eid, "depth": depth}),
            "thread": pa.table({"thread": list(thr), "max_depth": list(thr.values())})}


NETWORKX: dict[str, StageFn] = {
    "reciprocity_global": nx_global,
    "reciprocity_user": nx_user,
    "depth": nx_depth,
}

TOOLS: dict[str, dict[str, StageFn]] = {
    "engagequal": ENGAGEQUAL, "duckdb": DUCKDB, "polars": POLARS, "networkx": NETWORKX,
}
