"""DuckDB SQL computing the same tables as engagequal (the peer of the benchmarks).

Written the way a careful SQL user would: read the Parquet file once into a
temporary table, aggregate the directed dyads once, derive every other table
from them; reply depth by a recursive CTE over the replies only; rank layers by
``ROW_NUMBER`` over each ego's active ties.
"""

from __future__ import annotations

from engagequal.ingest.schema import DEFAULT_KIND_WEIGHTS

try:  # the layer definitions, when the layers module is there
    from engagequal.metrics.layers import DEFAULT_SIZES, DEFAULT_THRESHOLDS
except ImportError:  # pragma: no cover - before the layers module landed
    DEFAULT_SIZES = (5, 15, 50, 150, 500, 1500)
    DEFAULT_THRESHOLDS = (52.0, 12.0, 4.0, 1.0)

YEAR_S = 365.25 * 86_400.0


def _weight() -> str:
    whens = " ".join(f"WHEN '{k}' THEN {float(w)!r}::DOUBLE"
                     for k, w in DEFAULT_KIND_WEIGHTS.items())
    return f"CASE kind {whens} END"


def load_events(glob: str) -> str:
    """Events with their kind weight, and the users present."""
    return f"""
CREATE TEMP TABLE e AS
  SELECT actor, target, ts, {_weight()} AS w FROM read_parquet('{glob}');
CREATE TEMP TABLE users AS SELECT actor AS "user" FROM e UNION SELECT target FROM e;
"""


def load_tree(glob: str) -> str:
    return f"CREATE TEMP TABLE t AS SELECT event_id, parent, thread FROM read_parquet('{glob}');"


def load_all(glob: str) -> str:
    """One read for the fused script: events, weights, tree columns."""
    return f"""
CREATE TEMP TABLE e AS
  SELECT actor, target, ts, {_weight()} AS w, event_id, parent, thread
  FROM read_parquet('{glob}');
CREATE TEMP TABLE users AS SELECT actor AS "user" FROM e UNION SELECT target FROM e;
CREATE VIEW t AS SELECT event_id, parent, thread FROM e;
"""


#: directed dyads (self-interactions excluded) and the unordered pairs
DYADS = """
CREATE TEMP TABLE d AS
  SELECT actor AS u, target AS v, sum(w) AS w, count(*) AS n, min(ts) AS first, max(ts) AS last
  FROM e WHERE actor <> target GROUP BY actor, target;
"""

PAIRS = """
CREATE TEMP TABLE p AS
  SELECT least(u, v) AS u, greatest(u, v) AS v,
         sum(CASE WHEN u < v THEN w ELSE 0 END) AS w_uv,
         sum(CASE WHEN u > v THEN w ELSE 0 END) AS w_vu,
         sum(CASE WHEN u < v THEN n ELSE 0 END)::BIGINT AS n_uv,
         sum(CASE WHEN u > v THEN n ELSE 0 END)::BIGINT AS n_vu,
         min(first) AS first, max(last) AS last
  FROM d GROUP BY 1, 2;
"""

PAIR_TABLE = """
SELECT u, v, w_uv, w_vu, n_uv, n_vu, first, last, (w_uv > 0 AND w_vu > 0) AS mutual FROM p
"""

GLOBAL = """
WITH s AS (
  SELECT count(*) FILTER (WHERE w_uv > 0 AND w_vu > 0) AS mp,
         count(*) FILTER (WHERE w_uv > 0) + count(*) FILTER (WHERE w_vu > 0) AS ties,
         2 * sum(least(w_uv, w_vu)) AS num, sum(w_uv + w_vu) AS den
  FROM p),
nu AS (SELECT count(*) AS n FROM users),
x AS (SELECT *, CASE WHEN n > 1 THEN ties / (n * (n - 1.0)) ELSE 0 END AS a FROM s, nu)
SELECT CASE WHEN ties > 0 THEN 2.0 * mp / ties END AS arc,
       CASE WHEN ties - mp > 0 THEN mp / (ties - mp)::DOUBLE END AS pair_ratio,
       CASE WHEN ties > 0 AND n > 1 AND a < 1 THEN (2.0 * mp / ties - a) / (1 - a) END AS rho,
       CASE WHEN den > 0 THEN num / den END AS weighted,
       n AS users, ties, mp AS mutual_pairs
FROM x
"""

USER = """
WITH ends AS (
  SELECT u AS id, (w_uv > 0)::INT AS o, (w_vu > 0)::INT AS i,
         (w_uv > 0 AND w_vu > 0)::INT AS m, w_uv AS so, w_vu AS si, least(w_uv, w_vu) AS sr
  FROM p
  UNION ALL
  SELECT v, (w_vu > 0)::INT, (w_uv > 0)::INT, (w_uv > 0 AND w_vu > 0)::INT,
         w_vu, w_uv, least(w_uv, w_vu)
  FROM p),
agg AS (SELECT id, sum(o) AS o, sum(i) AS i, sum(m) AS m, sum(so) AS so, sum(si) AS si,
               sum(sr) AS sr FROM ends GROUP BY id)
SELECT users."user" AS "user",
       CASE WHEN o + i > 0 THEN 2.0 * m / (o + i) END AS node_reciprocity,
       CASE WHEN o > 0 THEN m / o::DOUBLE END AS out_share,
       coalesce(m, 0)::BIGINT AS connections, coalesce(o - m, 0)::BIGINT AS contacts,
       coalesce(i - m, 0)::BIGINT AS audience, coalesce(so, 0.0) AS out_strength,
       coalesce(si, 0.0) AS in_strength, coalesce(sr, 0.0) AS reciprocated_strength
FROM users LEFT JOIN agg ON agg.id = users."user"
"""

#: per-event depth by a recursive CTE over the replies (roots seed it)
DEPTH = """
CREATE TEMP TABLE r AS SELECT event_id, parent, thread FROM t WHERE parent IS NOT NULL;
CREATE TEMP TABLE dep AS
WITH RECURSIVE walk(event_id, thread, depth) AS (
  SELECT event_id, thread, 0 FROM t WHERE parent IS NULL
  UNION ALL
  SELECT r.event_id, r.thread, walk.depth + 1 FROM r JOIN walk ON r.parent = walk.event_id
)
SELECT * FROM walk;
"""

THREAD_MAX_DEPTH = "SELECT thread, max(depth) AS max_depth FROM dep GROUP BY thread"


def layers(method: str) -> str:
    """Tie table of the ``rank`` (ROW_NUMBER) or ``frequency`` (CASE) layers."""
    if method == "rank":
        cases = " ".join(f"WHEN rk <= {s} THEN {k}" for k, s in enumerate(DEFAULT_SIZES, 1))
        rank = ("CASE WHEN active THEN row_number() OVER "
                "(PARTITION BY u, active ORDER BY strength DESC, v) END AS rk")
    else:
        cases = " ".join(f"WHEN strength >= {float(t)!r} THEN {k}"
                         for k, t in enumerate(DEFAULT_THRESHOLDS, 1))
        rank = "NULL AS rk"
    return f"""
WITH span AS (
  SELECT greatest((max(ts) - min(ts))::DOUBLE, 86400.0) / {YEAR_S!r} AS y FROM e),
tie AS (
  SELECT d.u, d.v, d.w / span.y AS strength,
         (d.w / span.y >= 1.0 AND r.u IS NOT NULL) AS active
  FROM d LEFT JOIN d AS r ON r.u = d.v AND r.v = d.u AND r.w > 0, span
  WHERE d.w > 0),
ranked AS (SELECT *, {rank} FROM tie)
SELECT u AS ego, v AS "alter", strength,
       (CASE WHEN NOT active THEN NULL {cases} END)::BIGINT AS layer, active
FROM ranked
"""


def ego_layers(method: str) -> str:
    """Per ego: active network size and cumulative layer sizes (``layer_k``)."""
    n = len(DEFAULT_SIZES) if method == "rank" else len(DEFAULT_THRESHOLDS)
    cols = ", ".join(f"count(*) FILTER (WHERE layer <= {k}) AS layer_{k}"
                     for k in range(1, n + 1))
    return f"""
WITH lt AS ({layers(method)})
SELECT ego, count(*) FILTER (WHERE active) AS active_size, {cols} FROM lt GROUP BY ego
"""
