"""Dunbar layers at scale: engagequal vs DuckDB window ranking on the same dyad table.

Builds a seeded population (default 10M events, 200k egos), encodes it once and
aggregates the directed dyads once (both untimed: shared with every metric),
then times, on the same dyads:

* DuckDB: ``ROW_NUMBER() OVER (PARTITION BY ego ORDER BY strength DESC)`` over
  the whole dyad table (Arrow in, Arrow out);
* engagequal ``rank``, ``frequency`` and ``natural`` layers for every ego
  (tie table, including the reverse-tie lookup and the active filter), the
  natural layers without and with the lognormal chance check.

Prints seconds, the ratios to DuckDB and the peak RSS.

    python benchmarks/bench_layers.py [--events 10000000] [--users 200000]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pyarrow as pa

import engagequal as eq
from engagequal.kernels.dyads import aggregate_dyads
from engagequal.metrics._ties import tie_options


def make_events(n_users: int, n_events: int, seed: int) -> pa.Table:
    """Egos with lognormal degree (median 6), 60% of ties answered, lognormal tie rates."""
    rng = np.random.default_rng(seed)
    deg = np.minimum(np.exp(rng.normal(1.8, 1.0, n_users)).astype(np.int64) + 1, 3000)
    u = np.repeat(np.arange(n_users), deg)
    v = rng.integers(0, n_users - 1, u.size)
    v = v + (v >= u)
    back = rng.random(u.size) < 0.6
    u, v = np.concatenate([u, v[back]]), np.concatenate([v, u[back]])
    c = np.exp(rng.normal(0, 1.3, u.size))
    c = np.maximum(1, np.floor(c * n_events / c.sum())).astype(np.int64)
    extra = n_events - int(c.sum())
    if extra > 0:
        np.add.at(c, rng.integers(0, c.size, extra), 1)
    elif extra < 0:
        c = c[: np.searchsorted(np.cumsum(c), n_events) + 1]
        c[-1] -= int(c.sum()) - n_events
        u, v = u[: c.size], v[: c.size]
    actor = np.repeat(u, c)
    target = np.repeat(v, c)
    ts = 1_600_000_000 + rng.integers(0, 2 * 365 * 86_400, actor.size)
    return pa.table({"actor": actor, "target": target, "ts": ts})


def best_of(f: object, rep: int) -> float:
    times = []
    for _ in range(rep):
        t = time.perf_counter()
        f()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--users", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rep", type=int, default=3)
    a = ap.parse_args()

    import duckdb

    t = time.perf_counter()
    table = make_events(a.users, a.events, a.seed)
    ev = eq.read_events(table)
    opts = tie_options(ev)
    d = aggregate_dyads(ev.actor, ev.target, ev.weight, ev.ts, ev.n_users)
    years = (ev.ts.max() - ev.ts.min()) / 1e9 / (365.25 * 86_400)
    print(f"setup {time.perf_counter() - t:.1f} s: {ev.n_events:,} events, "
          f"{int(np.unique(d.u).size):,} egos, {len(d):,} directed dyads")

    dyads = pa.table({"ego": d.u, "alter": d.v, "strength": d.w / years})
    con = duckdb.connect()
    con.register("dyads", dyads)
    q = ("SELECT ego, alter, ROW_NUMBER() OVER (PARTITION BY ego ORDER BY strength DESC) AS rn "
         "FROM dyads")
    t_duck = best_of(lambda: con.sql(q).to_arrow_table(), a.rep)

    def run(method: str, **kw: object) -> pa.Table:
        return eq.layers_from_dyads(ev, d, opts, method=method, **kw)  # type: ignore[arg-type]

    rows = [("duckdb row_number", t_duck)]
    rows.append(("engagequal rank", best_of(lambda: run("rank"), a.rep)))
    rows.append(("engagequal frequency", best_of(lambda: run("frequency"), a.rep)))
    rows.append(("engagequal natural (no null)",
                 best_of(lambda: run("natural", null_model=None), a.rep)))
    rows.append(("engagequal natural (lognormal, 19 draws)",
                 best_of(lambda: run("natural", level="ego"), a.rep)))
    for name, s in rows:
        print(f"{name:42s} {s:7.3f} s   x{s / t_duck:5.2f} of DuckDB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")
    g = run("natural", level="global", null_model=None).to_pylist()[0]
    print("natural, global:", {k: round(v, 2) for k, v in g.items() if v is not None})


if __name__ == "__main__":
    main()
